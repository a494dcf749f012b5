import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { chmod, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { localTrainingFailure } from '../../src/features/local/train-local.js'
import { writeFileAtomic } from '../../src/shared/atomic-file.js'
import { exitCodeFor, fileSystemError, OperationError } from '../../src/shared/errors.js'
import { fileCache } from '../../src/shared/pricing.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * Issue 27, "init into a read-only or missing folder ... and a full disk end in 'Unexpected error'":
 * every file mlops writes fails with the file named, the errno and the fix, and leaves nothing
 * half-written. A full disk cannot be made here without root mounts, so `writeFile` is given a
 * fault: it writes half the data (as a real full disk does) and throws Node's own error shape
 * (ENOSPC on write names no path).
 */
const fault = vi.hoisted(() => ({ when: undefined as ((file: string) => string | undefined) | undefined }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const writeFile: typeof real.writeFile = async (file, data, options) => {
    const code = typeof file === 'string' ? fault.when?.(file) : undefined
    if (!code) return real.writeFile(file, data, options)
    if (typeof data === 'string' || Buffer.isBuffer(data)) await real.writeFile(file, data.slice(0, Math.floor(data.length / 2)), options)
    const message = { ENOSPC: 'no space left on device', EDQUOT: 'disk quota exceeded', EROFS: 'read-only file system' }[code] ?? code
    throw Object.assign(new Error(`${code}: ${message}, write`), { code, errno: -28, syscall: 'write' })
  }
  return { ...real, writeFile, default: { ...real, writeFile } }
})
afterEach(() => {
  fault.when = undefined
})

const NO_AWS = { awsFactory: noAwsFactory('init never calls AWS') }
const init = (args: string[], cwd: string) => runMlops(['init', '--project', 'dogs', ...args], { cwd, ...NO_AWS })
const tree = async (dir: string): Promise<string[]> => (await readdir(dir, { recursive: true })).sort()

describe('init into a folder it cannot write', () => {
  it('a folder that does not exist: exit 2 naming it, ENOENT and mkdir -p; nothing is created', async () => {
    const dir = await tempProject()
    const missing = path.join(dir, 'nope')
    const run = await init(['-c', path.join(missing, 'mlops.config.yaml')], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      `✖ Cannot write ${path.join(missing, 'mlops.config.yaml')}: the folder ${missing} does not exist (ENOENT); nothing was written.`,
    )
    expect(run.stderr).toContain(`hint: Create it first (mkdir -p ${missing}) and run mlops init again, or pass -c <a path in a folder that exists>.`)
    expect(run.stderr).not.toContain('Unexpected error')
    expect(await tree(dir)).toEqual([])
    const json = await init(['--example', path.join(missing, 'example.yaml'), '--json'], dir)
    expect(json.code).toBe(2)
    expect(json.json()).toMatchObject({
      error: { code: 'InitFolderMissing', hint: expect.stringContaining('pass --example <a path in a folder that exists>') },
    })
    const dry = await init(['-c', path.join(missing, 'mlops.config.yaml'), '--dry-run'], dir)
    expect(dry.code).toBe(2)
  })

  it('a "folder" that is a file: ENOTDIR, exit 2', async () => {
    const dir = await tempProject(undefined, { plain: 'x' })
    const run = await init(['-c', path.join(dir, 'plain', 'mlops.config.yaml')], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      `✖ Cannot write ${path.join(dir, 'plain', 'mlops.config.yaml')}: ${path.join(dir, 'plain')} is not a folder (ENOTDIR); nothing was written.`,
    )
    expect(await tree(dir)).toEqual(['plain'])
  })

  it('a read-only folder: exit 2 naming it, EACCES and the fix; nothing is written', async () => {
    // Root writes through permission bits, but not into sysfs: the same EACCES a user gets from a 0555 folder.
    const asRoot = process.getuid?.() === 0
    const dir = asRoot ? '/sys/kernel' : await tempProject()
    if (!asRoot) await chmod(dir, 0o555)
    try {
      const before = await readdir(dir)
      const run = await init(['-c', path.join(dir, 'mlops.config.yaml')], dir)
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(`✖ Cannot write mlops.config.yaml into ${dir}: permission denied (EACCES). Nothing was written.`)
      expect(run.stderr).toContain(`hint: Make it writable (chmod u+w ${dir}), or pass -c <a path in a writable folder>.`)
      expect(run.stderr).not.toContain('Unexpected error')
      expect(await readdir(dir)).toEqual(before)
    } finally {
      if (!asRoot) await chmod(dir, 0o755)
    }
  })

  it('a read-only file system (EROFS) says so and how to fix it', async () => {
    const dir = await tempProject()
    fault.when = (f) => (f.startsWith(dir) ? 'EROFS' : undefined)
    const run = await init([], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(`✖ Cannot write mlops.config.yaml into ${dir}: it is on a read-only file system (EROFS). Nothing was written.`)
    expect(run.stderr).toContain('hint: Remount it read-write, or run mlops init in a folder you can write to.')
    expect(await tree(dir)).toEqual([])
  })
})

describe('init on a disk that fills up part way writes every file or none', () => {
  it('ENOSPC on the sixth file: exit 1 naming it; no config, .gitignore, scripts folder or temporary file is left', async () => {
    const dir = await tempProject()
    let writes = 0
    fault.when = (f) => (f.startsWith(dir) && f.endsWith('.tmp') && ++writes === 6 ? 'ENOSPC' : undefined)
    const run = await init([], dir)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(
      new RegExp(`✖ No space left on device writing ${dir}/scripts/[a-z_]+\\.(py|json) \\(ENOSPC, write\\)\\. Nothing was written\\.\\n`),
    )
    expect(run.stderr).toContain('hint: Free space on that disk and run the command again.')
    expect(run.stderr).not.toContain('Unexpected error')
    expect(await tree(dir)).toEqual([])
  })

  it('with --force, a full disk leaves the existing config and scripts exactly as they were', async () => {
    const mine = minimalConfig()
    const dir = await tempProject(mine, { 'scripts/train.py': '# mine\n', '.gitignore': 'node_modules/\n' })
    fault.when = (f) => (f.startsWith(path.join(dir, 'scripts')) && f.endsWith('.tmp') ? 'ENOSPC' : undefined)
    const run = await init(['--force', '--json'], dir)
    expect(run.code).toBe(1)
    expect(run.json()).toMatchObject({ error: { code: 'NoSpaceLeft', details: { errno: 'ENOSPC' } } })
    expect(await readFile(path.join(dir, 'mlops.config.yaml'), 'utf8')).toBe(mine)
    expect(await readFile(path.join(dir, 'scripts', 'train.py'), 'utf8')).toBe('# mine\n')
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules/\n')
    expect(await tree(dir)).toEqual(['.gitignore', 'mlops.config.yaml', 'scripts', 'scripts/train.py'])
  })
})

describe('a full disk while writing .mlops/state.json, the price cache or a load-test file', () => {
  const sm = sdkMock(SageMakerClient)
  const as = sdkMock(ApplicationAutoScalingClient)

  it('scale, when state.json cannot be written: exit 1, "No space left on device writing .mlops/state.json", the old file intact', async () => {
    sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'InService', EndpointConfigName: 'c1' } as never)
    sm.on(DescribeEndpointConfigCommand).resolves({
      EndpointConfigName: 'c1',
      ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
    } as never)
    as.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] })
    as.on(DescribeScalingPoliciesCommand).resolves({ ScalingPolicies: [] })
    as.on(RegisterScalableTargetCommand).resolves({})
    as.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x' })
    const state = JSON.stringify({ version: 1, resources: [] }, null, 2) + '\n'
    const dir = await tempProject(minimalConfig(), { '.mlops/state.json': state })
    fault.when = (f) => (/state\.json\.[^/]*\.tmp$/.test(f) ? 'ENOSPC' : undefined)
    const run = await runMlops(['scale', '--min', '1', '--max', '2', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(run.stderr).toContain(
      '✖ No space left on device writing .mlops/state.json (ENOSPC, write).\nhint: Free space on that disk and run the command again.\n',
    )
    expect(run.stderr).not.toContain('Unexpected error')
    expect(run.code).toBe(1)
    expect(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')).toBe(state)
    expect(await readdir(path.join(dir, '.mlops'))).toEqual(['state.json'])
  })

  it('loadtest, when .mlops/loadtest.json cannot be written: exit 1 naming it; the last saved result stays whole', async () => {
    const runtime = sdkMock(SageMakerRuntimeClient)
    const clock = fastClock()
    runtime.on(InvokeEndpointCommand).callsFake(async () => {
      clock.advance(10)
      return {
        Body: new TextEncoder().encode(JSON.stringify({ predictions: [{ label: 'Beagle', index: 15, probability: 0.9 }] })),
        ContentType: 'application/json',
      }
    })
    const previous = '{"previous": true}\n'
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': previous })
    fault.when = (f) => (/loadtest\.json\.[^/]*\.tmp$/.test(f) ? 'ENOSPC' : undefined)
    const run = await runMlops(['loadtest', '--yes', '--duration', '1s', '--concurrency', '1', '--max-requests', '20'], {
      cwd: dir,
      clock,
      awsFactory: fakeAwsFactory(),
    })
    expect(run.stderr).toContain(
      '✖ No space left on device writing .mlops/loadtest.json (ENOSPC, write).\nhint: Free space on that disk and run the command again.\n',
    )
    expect(run.code).toBe(1)
    expect(await readFile(path.join(dir, '.mlops', 'loadtest.json'), 'utf8')).toBe(previous)
    expect(await readdir(path.join(dir, '.mlops'))).toEqual(['loadtest.json'])
  })

  it.each([
    ['ENOSPC', 'NoSpaceLeft', 'No space left on device'],
    ['EDQUOT', 'DiskQuotaExceeded', 'Disk quota exceeded'],
    ['EROFS', 'ReadOnlyFileSystem', 'Read-only file system'],
  ])('the atomic writer (%s): names the file, not its temporary name; the old content stays whole', async (code, name, what) => {
    const dir = await tempProject(undefined, { '.mlops/loadtest.json': '{"old": true}\n' })
    const file = path.join(dir, '.mlops', 'loadtest.json')
    fault.when = (f) => (f.startsWith(`${file}.`) ? code : undefined)
    const err = fileSystemError(await writeFileAtomic(file, JSON.stringify({ new: 'x'.repeat(1000) })).catch((e: unknown) => e), { cwd: dir })
    expect(err).toBeInstanceOf(OperationError)
    expect(err).toMatchObject({ code: name, message: `${what} writing .mlops/loadtest.json (${code}, write).`, details: { errno: code, path: file } })
    expect(exitCodeFor(err)).toBe(1)
    expect(await readFile(file, 'utf8')).toBe('{"old": true}\n')
    expect(await readdir(path.dirname(file))).toEqual(['loadtest.json'])
  })

  it('the price cache on a full disk is skipped quietly and leaves no temporary file', async () => {
    const dir = await tempProject()
    const file = path.join(dir, 'cache', 'prices-us-east-1.json')
    fault.when = (f) => (f.startsWith(`${file}.`) ? 'ENOSPC' : undefined)
    await fileCache(file).write({ version: 1, region: 'us-east-1', entries: {} } as never)
    expect(await readdir(path.dirname(file))).toEqual([])
  })
})

describe('the renderer maps a file-system error nobody translated', () => {
  const nodeError = (code: string, syscall: string, extra: object = {}) =>
    Object.assign(new Error(`${code}: x, ${syscall}`), { code, errno: -1, syscall, ...extra })

  it('names the path relative to the project, without a temporary suffix; EACCES reading says reading', () => {
    const cwd = '/home/me/dogs'
    expect(fileSystemError(nodeError('ENOSPC', 'open', { path: `${cwd}/.mlops/state.json.4242.tmp` }), { cwd })?.message).toBe(
      'No space left on device writing .mlops/state.json (ENOSPC, open).',
    )
    expect(fileSystemError(nodeError('EDQUOT', 'rename', { path: `${cwd}/x.mlops-12.tmp`, dest: `${cwd}/mlops.config.yaml` }), { cwd })?.message).toBe(
      'Disk quota exceeded writing mlops.config.yaml (EDQUOT, rename).',
    )
    expect(fileSystemError(nodeError('EACCES', 'scandir', { path: '/srv/data' }), { cwd })?.message).toBe(
      'Permission denied reading /srv/data (EACCES, scandir).',
    )
    expect(fileSystemError(nodeError('ENOENT', 'open', { path: '/x' }))).toBeUndefined()
    expect(fileSystemError(new Error('ENOSPC in a message only'))).toBeUndefined()
  })
})

describe('a local run on a full disk', () => {
  const root = '/home/me/dogs/.mlops/local/dogs-train-20261122-100000'
  // What PyTorch prints when torch.save hits a full disk: no errno, then its C++ runtime aborts.
  const torchAbort = {
    name: 'algo-1',
    code: null,
    signal: 'SIGABRT' as const,
    tail: [
      "terminate called after throwing an instance of 'c10::Error'",
      '  what():  [enforce fail at inline_container.cc:595] . PytorchStreamWriter failed writing file data/0: file write failed',
    ],
  }

  it('"killed by SIGABRT" with the disk under the run full: names the disk and the fix, exit 1', () => {
    const err = localTrainingFailure('dogs-train-20261122-100000', torchAbort, { root, freeBytes: 4096 })
    expect(err.code).toBe('NoSpaceLeft')
    expect(err.message).toBe(`Local training dogs-train-20261122-100000 failed: no space left on device writing under ${root} (algo-1 was killed by SIGABRT).`)
    expect(err.hint).toContain('mlops clean')
    expect(exitCodeFor(err)).toBe(1)
  })

  it("Python's [Errno 28] (or a quota's [Errno 122]) names it even when space came back since", () => {
    const tail = ['Traceback (most recent call last):', "OSError: [Errno 28] No space left on device: '/opt/ml/checkpoints/epoch-3.pt'"]
    const err = localTrainingFailure('j', { name: 'algo-1', code: 1, signal: null, tail }, { root, freeBytes: 50e9 })
    expect(err.message).toBe(
      `Local training j failed: no space left on device writing under ${root} (algo-1 exited with code 1: OSError: [Errno 28] No space left on device: '/opt/ml/checkpoints/epoch-3.pt').`,
    )
    const quota = localTrainingFailure('j', { name: 'algo-1', code: 1, signal: null, tail: ['OSError: [Errno 122] Disk quota exceeded'] }, { root })
    expect(quota).toMatchObject({ code: 'DiskQuotaExceeded', message: expect.stringContaining('the disk quota was exceeded') })
  })

  it('any other failure with space to spare is reported as before', () => {
    const err = localTrainingFailure('j', { ...torchAbort, tail: ['error: no images in train/'] }, { root, freeBytes: 50e9 })
    expect(err).toMatchObject({ code: 'LocalTrainingFailed', message: 'Local training j failed: algo-1 was killed by SIGABRT: error: no images in train/.' })
  })
})
