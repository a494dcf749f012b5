import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { makeSyntheticDataset } from '../helpers/cli.js'

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
})
