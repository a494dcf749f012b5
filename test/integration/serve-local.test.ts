import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, readdir, truncate, writeFile } from 'node:fs/promises'
import net from 'node:net'
import path from 'node:path'
import { create as createTar } from 'tar'
import { describe, expect, it } from 'vitest'
import type { AwsSettings } from '../../src/aws/clients.js'
import { freePort } from '../../src/features/local/processes.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * `mlops serve` as a user meets it (issues 27 and 31): it serves the newest LOCAL model with no AWS
 * call and says which and why; archives unpack within bounds; what clients send is escaped on the
 * terminal; and the Python server dies with the CLI even when the CLI is killed with SIGKILL.
 * Real processes on 127.0.0.1; the model is a stand-in (serve.py listens before it loads the model,
 * and keeps answering 503 when it cannot), so these need Debian's Python with torch, no training.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const PYTHON = process.env.MLOPS_TORCH_PYTHON ?? '/usr/bin/python3'
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')
const BIN = path.join(ROOT, 'src/bin.ts')
const LOCAL_JOB = 'dogs-local-20261122-090000'
const SAGEMAKER_JOB = 'dogs-train-20261122-093000'

/** A project whose state records a local model and, later, a SageMaker one. */
async function project(): Promise<string> {
  const dir = await tempProject(minimalConfig())
  const jobDir = path.join(dir, '.mlops', 'local', LOCAL_JOB)
  const model = path.join(jobDir, 'model')
  await mkdir(path.join(model, 'code'), { recursive: true })
  await writeFile(path.join(model, 'model-info.json'), '{"note": "a stand-in: it does not load"}')
  await writeFile(path.join(model, 'code', 'README'), 'train.py writes its code here\n')
  const artifact = path.join(jobDir, 'model.tar.gz')
  await createTar({ cwd: model, gzip: true, file: artifact, portable: true }, ['model-info.json', 'code'])
  const state = {
    version: 1,
    resources: [
      { kind: 'local-model', name: LOCAL_JOB, region: 'local', createdAt: '2026-11-22T09:00:00.000Z', details: { modelArtifact: artifact } },
      {
        kind: 'training-job',
        name: SAGEMAKER_JOB,
        region: 'us-east-1',
        createdAt: '2026-11-22T09:30:00.000Z',
        details: { status: 'Completed', modelArtifact: `s3://dogs-data/output/${SAGEMAKER_JOB}/output/model.tar.gz` },
      },
    ],
  }
  await writeFile(path.join(dir, '.mlops', 'state.json'), JSON.stringify(state, null, 2))
  return dir
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })

async function until(what: string, probe: () => Promise<boolean> | boolean, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A raw HTTP request (fetch refuses control characters in a path; an attacker's client does not). */
const rawRequest = (port: number, text: string) =>
  new Promise<string>((resolve) => {
    let got = ''
    const s = net.connect(port, '127.0.0.1', () => s.write(text))
    s.on('data', (d) => (got += d.toString('latin1')))
    s.on('close', () => resolve(got))
    s.on('error', () => resolve(got))
    s.setTimeout(10_000, () => s.destroy())
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie waiting for its reaper is gone for our purposes.
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : ''
  return !/\) Z /.test(stat)
}

describe('serve chooses the local model', () => {
  it('serves the newest local model with no AWS call, says which and why, and escapes what clients send', async () => {
    const dir = await project()
    const port = await freePort()
    const controller = new AbortController()
    const asked: string[][] = []
    const serving = runMlops(['serve', '--python', PYTHON, '--port', String(port), '--json'], {
      cwd: dir,
      // No credentials, and an endpoint that answers nothing: any AWS call would fail the run.
      env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1', PATH: process.env.PATH },
      awsFactory: (_s: AwsSettings) => async (names) => {
        asked.push([...names])
        throw new Error('serve of a local model must not create AWS clients')
      },
      signal: controller.signal,
    })
    const early = serving.then((r) => {
      throw new Error(`serve exited ${r.code}:\n${r.stderr}`)
    })
    early.catch(() => undefined)
    await Promise.race([until('the server to listen', () => answers(port)), early])
    const reply = await rawRequest(port, 'GET /\x1b[2J\x1b]0;pwned\x07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(reply).toMatch(/^HTTP\/1\.1 404 /)
    controller.abort()
    const r = await serving
    expect(r.code, r.stderr).toBe(0)
    expect(asked).toEqual([])
    const reason = `the newest local model (\`train --local\`, 2026-11-22T09:00:00.000Z); a newer SageMaker model (${SAGEMAKER_JOB}) exists: pass --sagemaker-model to serve it`
    expect(r.stderr.split('\n')[0]).toBe(`Model: ${LOCAL_JOB}, chosen as ${reason}`)
    expect(r.json()).toMatchObject({
      model: LOCAL_JOB,
      choice: 'newest-local',
      reason,
      predictor: path.join(ROOT, 'scripts', 'deployment.py'),
      stoppedBy: 'interrupt',
    })
    expect(r.stderr.includes('\x1b') || r.stderr.includes('\x07')).toBe(false)
    expect(r.stderr).toContain('GET /\\x1b[2J\\x1b]0;pwned\\x07 404 ')
  }, 120_000)

  it('--sagemaker-model is the explicit way to the SageMaker model; it and --model exclude each other', async () => {
    const dir = await tempProject(minimalConfig())
    const none = await runMlops(['serve', '--sagemaker-model', '--python', PYTHON], { cwd: dir })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('--sagemaker-model: the state file records no SageMaker-trained model.')
    const both = await runMlops(['serve', '--sagemaker-model', '--model', 'x.tar.gz'], { cwd: dir })
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--model and --sagemaker-model both choose the model; pass one of them.')
    const plan = await runMlops(['serve', '--sagemaker-model', '--dry-run', '--json'], { cwd: await project() })
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.json().operations.map((o: { operation: string }) => o.operation)).toEqual(['GetObject', 'StartModelServer'])
  })

  it('takes as many requests at once as a deployed replica (two batches), so a batch can fill; the flag overrides', async () => {
    const argv = async (dir: string, ...flags: string[]) => {
      const r = await runMlops(['serve', '--model', `.mlops/local/${LOCAL_JOB}/model`, '--python', PYTHON, '--dry-run', '--json', ...flags], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      const command: string[] = r.json().operations.find((o: { operation: string }) => o.operation === 'StartModelServer').input.Command
      const flag = (name: string) => command[command.indexOf(name) + 1]
      return { concurrency: flag('--max-concurrency'), batch: flag('--max-batch-size') }
    }
    const dir = await project()
    expect(await argv(dir)).toEqual({ concurrency: '16', batch: '8' })
    expect(await argv(dir, '--max-concurrency', '3')).toEqual({ concurrency: '3', batch: '8' })
    await writeFile(path.join(dir, 'mlops.config.yaml'), minimalConfig('endpoint:\n  batching:\n    maxBatchSize: 1\n'))
    expect(await argv(dir)).toEqual({ concurrency: '5', batch: '1' })
  })

  it('refuses a model archive bomb with exit 2 and leaves nothing unpacked', async () => {
    const dir = await tempProject(minimalConfig())
    const src = path.join(dir, 'src')
    await mkdir(src)
    await writeFile(path.join(src, 'model-info.json'), '{}')
    await writeFile(path.join(src, 'model.pth'), '')
    await truncate(path.join(src, 'model.pth'), 128 * 1024 * 1024)
    await createTar({ cwd: src, gzip: true, file: path.join(dir, 'bomb.tar.gz'), portable: true }, ['model-info.json', 'model.pth'])
    const r = await runMlops(['serve', '--model', 'bomb.tar.gz', '--python', PYTHON], { cwd: dir })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/bomb\.tar\.gz looks like an archive bomb: .* \(\d+:1; limit 200:1\); nothing was extracted\./)
    expect(r.stderr).not.toContain('Unexpected error')
    const serveDir = path.join(dir, '.mlops', 'local', 'serve')
    expect(existsSync(serveDir) ? await readdir(serveDir) : []).toEqual([])
  }, 60_000)
})

describe('serve killed with SIGKILL', () => {
  it('takes the Python server with it: nothing is left on the port', async () => {
    const dir = await project()
    const port = await freePort()
    const cli = spawn(
      process.execPath,
      ['--import', TSX, BIN, 'serve', '--model', `.mlops/local/${LOCAL_JOB}/model`, '--python', PYTHON, '--port', String(port)],
      {
        cwd: dir,
        env: { ...process.env, NO_COLOR: '1', MLOPS_PREFLIGHT: 'off' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let stderr = ''
    cli.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<void>((resolve) => cli.on('close', () => resolve()))
    try {
      await until('the server to listen', () => answers(port))
      const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout
      const line = ps.split('\n').find((l) => l.includes('serve.py') && l.includes(`--port ${port}`))
      expect(line, stderr).toBeDefined()
      const python = Number.parseInt(line!.trim(), 10)
      cli.kill('SIGKILL')
      await exited
      await until('the Python server to exit', () => !alive(python), 15_000).catch(() => {
        process.kill(python, 'SIGKILL')
        throw new Error(`the Python server ${python} outlived mlops serve killed with SIGKILL`)
      })
      expect(await answers(port)).toBe(false)
    } finally {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL')
    }
  }, 120_000)
})
