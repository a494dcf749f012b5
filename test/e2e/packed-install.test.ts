import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { makeSyntheticDataset } from '../helpers/cli.js'
import { freePort } from '../../src/features/local/processes.js'

/**
 * The package as a user gets it: `npm pack` (prepack builds dist/), installed into a temporary
 * global prefix, then run from an empty folder with only the installed `mlops` (and node) on PATH,
 * against moto.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
let moto: MotoServer
let tmp: string
let tarball: string
let prefix: string
const files: string[] = []

beforeAll(async () => {
  moto = await startMoto()
  tmp = await mkdtemp(path.join(os.tmpdir(), 'mlops-packed-'))
  // npm pack builds dist/ (prepack) unless test/run-all.sh built it from this tree moments ago.
  const fresh = process.env.MLOPS_DIST_FRESH === '1' && existsSync(path.join(ROOT, 'dist/bin.js'))
  const packArgs = ['pack', '--json', '--pack-destination', tmp, ...(fresh ? ['--ignore-scripts'] : [])]
  const packed = JSON.parse(execFileSync('npm', packArgs, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as {
    filename: string
    size: number
    unpackedSize: number
    files: { path: string }[]
  }[]
  tarball = path.join(tmp, packed[0].filename)
  files.push(...packed[0].files.map((f) => f.path))
  console.log(
    `packed ${packed[0].filename}: ${(packed[0].size / 1024).toFixed(0)} KiB (${(packed[0].unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files)`,
  )
  prefix = path.join(tmp, 'prefix')
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { stdio: 'ignore' })
}, 300_000)
afterAll(async () => moto?.stop())

describe('the packed and installed package', () => {
  it('holds what a user needs and nothing else', () => {
    expect(files).toContain('dist/bin.js')
    // The Lambda handler, prebuilt once per runtime a config may choose, and the idle-stop reaper.
    expect(files).toContain('dist/lambda-runtime/handler.nodejs24.x.bundle.js')
    expect(files).toContain('dist/lambda-runtime/handler.nodejs22.x.bundle.js')
    expect(files).toContain('dist/lambda-runtime/reaper.bundle.js')
    // The run notifier (--notify), bundled alone like the reaper.
    expect(files).toContain('dist/lambda-runtime/notifier.bundle.js')
    expect(files).toContain('scripts/train.py')
    // `mlops emulator`'s launcher ships with the package (issue 31 item 5), not only in the repository's tests.
    expect(files).toContain('emulator/moto_server.py')
    expect(files).toContain('package.json')
    expect(files.filter((f) => /^(test|tools|bench|scripts-dev|src)\//.test(f) || /^dist\/(dev|tools|demo)\//.test(f) || /\.test\./.test(f))).toEqual([])
  })

  it('init, upload-data, train and train-ec2 --dry-run from an empty folder, with only the installed binary', async () => {
    const project = await mkdtemp(path.join(tmp, 'project-'))
    const env = {
      ...motoEnv(moto.endpoint),
      PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      HOME: tmp,
      NO_COLOR: '1',
    }
    const mlops = (...args: string[]) => spawnSync('mlops', args, { cwd: project, env, encoding: 'utf8' })

    const init = mlops('init', '--project', 'dogs', '--bucket', 'dogs-data')
    expect(init.status, init.stderr).toBe(0)
    // init copied the bundled training and inference code: the project trains with no other step.
    expect(init.stderr + init.stdout).toContain('scripts')
    for (const f of ['train.py', 'inference.py', 'hyperparameters.json']) expect(existsSync(path.join(project, 'scripts', f)), f).toBe(true)
    expect(await readFile(path.join(project, 'mlops.config.yaml'), 'utf8')).toMatch(/sourceDir: scripts/)

    makeSyntheticDataset(project, { classes: 2, train: 2, valid: 1, test: 1, size: 16 })

    const upload = mlops('upload-data', '--yes')
    expect(upload.status, upload.stderr).toBe(0)
    expect(upload.stdout + upload.stderr).toMatch(/is in sync with .*: 8 uploaded/)

    const train = mlops('train', '--yes', '--json')
    expect(train.status, train.stderr).toBe(0)
    expect(JSON.parse(train.stdout)).toMatchObject({ status: 'Completed' })

    const ec2 = mlops('train-ec2', '--dry-run', '--json')
    expect(ec2.status, ec2.stderr).toBe(0)
    expect(JSON.parse(ec2.stdout)).toMatchObject({ dryRun: true })
    expect(JSON.parse(ec2.stdout).operations.map((o: { operation: string }) => o.operation)).toContain('RunInstances')
  }, 240_000)

  /**
   * Issue 31, done when: the newcomer's path with only the installed package on PATH, in an empty
   * folder, with no network (every proxy variable points at a closed port, so anything but loopback
   * fails): init, a dataset, train --local on CPU-sized settings with progress, serve of that model
   * with no AWS at all, invoke --local, deploy --model <local run> on `mlops emulator`, and teardown
   * listing what is left by kind.
   */
  it('the newcomer walk: init, train --local --cpu-sized, serve, invoke --local, deploy to the emulator, teardown', async () => {
    const project = await mkdtemp(path.join(tmp, 'walk-'))
    // The "proxy" holds its port (so no server of the walk gets it) and hangs up on every connection.
    const proxy = createServer((socket) => socket.destroy())
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
    const dead = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const base = {
      PATH: [path.join(prefix, 'bin'), path.dirname(process.execPath), '/usr/bin', '/bin'].join(':'),
      HOME: tmp,
      NO_COLOR: '1',
      HTTPS_PROXY: dead,
      HTTP_PROXY: dead,
      NO_PROXY: '127.0.0.1,localhost',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      MLOPS_PYTHON: '/usr/bin/python3',
    }
    const mlops = (args: string[], env: Record<string, string> = {}) => spawnSync('mlops', args, { cwd: project, env: { ...base, ...env }, encoding: 'utf8' })
    const started: ChildProcess[] = []
    /** A foreground command (serve, emulator) until its stderr shows `ready`. */
    const background = async (args: string[], ready: RegExp, env: Record<string, string> = {}) => {
      const child = spawn('mlops', args, { cwd: project, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      started.push(child)
      let err = ''
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      const deadline = Date.now() + 60_000
      while (!ready.test(err)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mlops ${args.join(' ')} did not start:\n${err}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      return { child, stderr: () => err }
    }
    const stop = async (child: ChildProcess) => {
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGINT')
      await exited
    }
    try {
      expect(mlops(['init', '--project', 'walk', '--bucket', 'walk-data']).status).toBe(0)
      makeSyntheticDataset(project, { classes: 2, train: 8, valid: 2, test: 2, size: 32 })

      const train = mlops(['train', '--local', '--cpu-sized', '--hyperparameter', 'epochs=1', '--hyperparameter', 'image-size=32', '--json'])
      expect(train.status, train.stderr).toBe(0)
      expect(train.stderr).toMatch(/No CUDA device: training on the CPU\. 16 images × 1 epochs .*: under a minute\./)
      expect(train.stderr).toMatch(/^ {2}epoch 1\/1: batch 1\/\d+ \(\d+%\)/m)
      const job = JSON.parse(train.stdout) as { jobName: string; modelArtifact: string; cpuEstimate: { arch: string } }
      expect(job.cpuEstimate.arch).toBe('resnet18')

      // serve and invoke --local: no credentials, no endpoint, no network, so any AWS call would fail.
      const port = await freePort()
      const serve = await background(['serve', '--port', String(port)], /Serving .* on http:\/\/127\.0\.0\.1:/)
      for (const deadline = Date.now() + 60_000; ;) {
        // /ping answers 200 once the model is loaded, as on SageMaker.
        if (
          (await fetch(`http://127.0.0.1:${port}/ping`)
            .then((r) => r.status)
            .catch(() => 0)) === 200
        )
          break
        if (Date.now() > deadline) throw new Error(`serve never loaded the model:\n${serve.stderr()}`)
        await new Promise((r) => setTimeout(r, 200))
      }
      const invoke = mlops(['invoke', path.join(ROOT, 'assets/sample.jpg'), '--local', '--port', String(port), '--json'])
      expect(invoke.status, invoke.stderr).toBe(0)
      expect(JSON.parse(invoke.stdout).predictions.length).toBeGreaterThan(0)
      await stop(serve.child)

      // The cloud half on the emulator the package ships (moto's Python is not the one with torch).
      const emulatorPort = await freePort()
      const moto = process.env.MOTO_PYTHON ?? execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim()
      const emulator = await background(['emulator', '--port', String(emulatorPort), '--python', moto], /AWS emulator \(moto/)
      const cloud = { AWS_ENDPOINT_URL: `http://127.0.0.1:${emulatorPort}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' }
      const deploy = mlops(['deploy', '--model', job.jobName, '--yes', '--json'], cloud)
      expect(deploy.status, deploy.stderr).toBe(0)
      expect(JSON.parse(deploy.stdout)).toMatchObject({ source: { kind: 'local', jobName: job.jobName }, status: 'InService' })
      const teardown = mlops(['teardown', '--yes'], cloud)
      expect(teardown.status, teardown.stderr).toBe(0)
      expect(teardown.stdout + teardown.stderr).toMatch(/Left:\n {2}- model archives s3:\/\/walk-data\/walk\/models\/ \(1 object, /)
      await stop(emulator.child)
    } finally {
      for (const child of started) if (child.exitCode === null) child.kill('SIGKILL')
      proxy.close()
    }
  }, 240_000)
})
