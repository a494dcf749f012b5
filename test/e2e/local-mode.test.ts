import { execFileSync, spawnSync } from 'node:child_process'
import { chmod, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { list as listTar } from 'tar'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/features/local/processes.js'
import { runMlops, tempProject, type CliRun } from '../helpers/cli.js'
import { jpeg } from '../helpers/images.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

/**
 * Issue 16, for real: train --local on a small synthetic dataset (4 classes, 48 px, resnet18,
 * weights none, 0 loader workers), serve it with scripts/serve.py, and invoke it directly and
 * through the Lambda handler. Needs a Python with torch (Debian's /usr/bin/python3 here).
 */

const REPO = path.resolve(__dirname, '../..')
const PYTHON = process.env.MLOPS_TORCH_PYTHON ?? '/usr/bin/python3'
const SLOW = 300_000
const CLASSES = ['001.Affenpinscher', '002.Afghan_hound', '003.Airedale_terrier', '004.Akita']

/** The smallest dataset the one validator accepts: train/ valid/ test/, two classes, an image in each. */
function twoClassDataset(): Record<string, Buffer> {
  const files: Record<string, Buffer> = {}
  for (const split of ['train', 'valid', 'test']) for (const c of ['a', 'b']) files[`dogImages/${split}/${c}/x.jpg`] = jpeg('x')
  return files
}

function config(epochs: number): string {
  return `project: { name: localtest }
data: { localDir: ./dogImages, bucket: localtest-data }
training:
  sourceDir: ${path.join(REPO, 'scripts')}
  hyperparameters: { arch: resnet18, weights: none, epochs: ${epochs}, batch-size: 16, lr: 0.003, image-size: 48, num-workers: 0, seed: 7, freeze-backbone: false }
`
}

async function project(epochs: number): Promise<string> {
  const dir = await tempProject(config(epochs))
  execFileSync(PYTHON, [
    path.join(REPO, 'scripts-dev/make_synthetic_dataset.py'),
    ...['--out', path.join(dir, 'dogImages'), '--classes', '4', '--train-per-class', '24', '--valid-per-class', '8', '--test-per-class', '4'],
    ...['--size', '48', '--seed', '7'],
  ])
  return dir
}

/** Processes whose command line mentions `needle` (the job or model folder is unique per test). */
function processesMentioning(needle: string): string[] {
  const out = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout
  return out.split('\n').filter((l) => l.includes(needle) && !l.includes('ps -eo'))
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe('train --local', () => {
  let dir: string
  let trained: CliRun

  beforeAll(async () => {
    dir = await project(4)
    trained = await runMlops(['train', '--local', '--python', PYTHON, '--json'], { cwd: dir })
  }, SLOW)

  it('learns the synthetic dataset and writes model.tar.gz in the SageMaker layout', async () => {
    expect(trained.code, trained.stderr).toBe(0)
    const r = trained.json()
    expect(r).toMatchObject({ mode: 'local', instances: 1, python: PYTHON })
    expect(r.jobName).toMatch(/^localtest-local-\d{4}-/)
    // 4 classes: chance is 0.25.
    expect(r.metrics.val_accuracy).toBeGreaterThanOrEqual(0.7)
    expect(r.summary).toMatchObject({ world_size: 1, epochs_run: 4 })
    expect(r.modelArtifact).toBe(path.join(dir, '.mlops', 'local', r.jobName, 'model.tar.gz'))
    const entries: string[] = []
    await listTar({ file: r.modelArtifact, onReadEntry: (e) => void entries.push(e.path) })
    expect(entries).toEqual(
      expect.arrayContaining(['model.pth', 'classes.json', 'model-info.json', 'code/deployment.py', 'code/inference.py', 'code/model_def.py']),
    )
    // Metric lines streamed on stderr, results alone on stdout.
    expect(trained.stderr).toMatch(/^epoch=4 train_loss=\S+ val_loss=\S+ val_accuracy=0\.\d+/m)
    const state = JSON.parse(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8'))
    expect(state.resources).toContainEqual(
      expect.objectContaining({ kind: 'local-model', name: r.jobName, details: expect.objectContaining({ modelArtifact: r.modelArtifact }) }),
    )
  })

  it('writes /opt/ml/input/config like SageMaker (JSON-encoded hyperparameters)', async () => {
    const job = trained.json().jobName as string
    const cfgDir = path.join(dir, '.mlops', 'local', job, 'input', 'config')
    expect(JSON.parse(await readFile(path.join(cfgDir, 'hyperparameters.json'), 'utf8'))).toMatchObject({
      arch: '"resnet18"',
      epochs: '4',
      'freeze-backbone': 'false',
    })
    expect(JSON.parse(await readFile(path.join(cfgDir, 'resourceconfig.json'), 'utf8'))).toEqual({ current_host: 'algo-1', hosts: ['algo-1'] })
  })

  describe('serve and invoke --local', () => {
    let port: number
    let controller: AbortController
    let serving: Promise<CliRun>
    const image = () => path.join(dir, 'dogImages', 'test', CLASSES[2], '003_0000.jpg')

    beforeAll(async () => {
      port = await freePort()
      controller = new AbortController()
      serving = runMlops(['serve', '--python', PYTHON, '--port', String(port), '--max-body-bytes', '200000'], { cwd: dir, signal: controller.signal })
      await waitFor('/ping 200', async () => ((await fetch(`http://127.0.0.1:${port}/ping`)).status === 200 ? true : undefined))
    }, SLOW)

    afterAll(() => controller?.abort())

    it('answers /invocations with named top-k from the trained model', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: await readFile(image()),
      })
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('application/json')
      const body = (await res.json()) as { predictions: { label: string; index: number }[]; top_k: number }
      expect(body.top_k).toBe(4)
      expect(body.predictions.map((p) => p.label).sort()).toEqual(['Afghan hound', 'Airedale terrier', 'Akita', 'Affenpinscher'].sort())
      expect(body.predictions[0]).toMatchObject({ label: 'Airedale terrier', index: 2 })
    })

    it('answers the runtime API path with JSON top_k, and its errors as ModelError', async () => {
      const json = JSON.stringify({ image: (await readFile(image())).toString('base64'), top_k: 2 })
      const ok = await fetch(`http://127.0.0.1:${port}/endpoints/localtest-endpoint/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: json,
      })
      expect(ok.status).toBe(200)
      const body = (await ok.json()) as { predictions: { label: string }[] }
      expect(body.predictions).toHaveLength(2)
      expect(body.predictions[0].label).toBe('Airedale terrier')

      const bad = await fetch(`http://127.0.0.1:${port}/endpoints/localtest-endpoint/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'text/csv' },
        body: 'x',
      })
      expect(bad.status).toBe(424)
      expect(bad.headers.get('x-amzn-errortype')).toMatch(/^ModelError:/)
      expect(await bad.json()).toMatchObject({ OriginalStatusCode: 415, ErrorCode: 'CLIENT_ERROR_FROM_MODEL' })

      const notAcceptable = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg', accept: 'text/csv' },
        body: await readFile(image()),
      })
      expect(notAcceptable.status).toBe(406)
      const tooBig = await fetch(`http://127.0.0.1:${port}/invocations`, {
        method: 'POST',
        headers: { 'content-type': 'image/jpeg' },
        body: Buffer.alloc(300_000),
      })
      expect(tooBig.status).toBe(413)
    })

    it('invoke --local prints the trained model’s answer through the runtime client', async () => {
      const r = await runMlops(['invoke', image(), '--local', '--port', String(port), '--top', '2', '--json'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      expect(r.json()).toMatchObject({ target: 'endpoint', name: 'localtest-endpoint', predictions: [{ label: 'Airedale terrier' }, {}] })
      expect(r.json().predictions).toHaveLength(2)
    })

    it('invoke --local --lambda runs the bundled handler against the local server', async () => {
      const r = await runMlops(['invoke', image(), '--local', '--port', String(port), '--lambda'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^1 {2}Airedale terrier/m)
      expect(r.stdout).toContain('via Lambda localtest-invoke:live')
      // The handler's own structured log line, with the endpoint name from its environment.
      expect(r.stderr).toMatch(/\[lambda\] \{"level":"info","msg":"prediction".*"top":"Airedale terrier"/)
    })

    it('logs one line per request and stops cleanly on Ctrl-C, leaving no process', async () => {
      controller.abort()
      const r = await serving
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^POST \/invocations 200 \d+B [\d.]+ms$/m)
      expect(r.stderr).toMatch(/^POST \/endpoints\/localtest-endpoint\/invocations 424 /m)
      expect(r.stderr).toMatch(/^stopped$/m)
      expect(processesMentioning(`--port ${port}`)).toEqual([])
    })
  })

  describe('serve a SageMaker model from S3', () => {
    let moto: MotoServer
    beforeAll(async () => {
      moto = await startMoto()
    }, SLOW)
    afterAll(async () => moto?.stop())

    it(
      '--model s3://… downloads the model.tar.gz once and serves it; with no flag the local model is served, --sagemaker-model serves the newer SageMaker one',
      async () => {
        const artifact = trained.json().modelArtifact as string
        const s3 = new S3Client(motoClientConfig(moto.endpoint))
        await s3.send(new CreateBucketCommand({ Bucket: 'localtest-data' }))
        await s3.send(new PutObjectCommand({ Bucket: 'localtest-data', Key: 'output/localtest-train-1/output/model.tar.gz', Body: await readFile(artifact) }))
        const uri = 's3://localtest-data/output/localtest-train-1/output/model.tar.gz'
        const env = motoEnv(moto.endpoint)
        const serveOnce = async (args: string[]) => {
          const port = await freePort()
          const controller = new AbortController()
          const serving = runMlops(['serve', '--python', PYTHON, '--port', String(port), ...args], { cwd: dir, env, signal: controller.signal })
          // A serve that exits early (a model it cannot resolve) fails the test with its own message.
          const early = serving.then((r) => {
            throw new Error(`serve exited ${r.code} before answering /ping:\n${r.stderr}`)
          })
          early.catch(() => undefined)
          await Promise.race([waitFor('/ping 200', async () => ((await fetch(`http://127.0.0.1:${port}/ping`)).status === 200 ? true : undefined)), early])
          const res = await fetch(`http://127.0.0.1:${port}/invocations`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: await readFile(path.join(dir, 'dogImages', 'test', CLASSES[2], '003_0000.jpg')),
          })
          const body = (await res.json()) as { predictions: { label: string }[] }
          controller.abort()
          return { run: await serving, top: body.predictions[0].label }
        }
        const explicit = await serveOnce(['--model', uri])
        expect(explicit.run.code, explicit.run.stderr).toBe(0)
        expect(explicit.run.stderr).toContain(`Downloading ${uri}`)
        expect(explicit.run.stderr).toContain(`Serving ${uri} on`)
        expect(explicit.top).toBe('Airedale terrier')
        // Recorded as a completed SageMaker job after the local training: the default stays the local model
        // (issue 31: local mode needs no AWS) and says a newer one exists; --sagemaker-model serves it.
        const statePath = path.join(dir, '.mlops', 'state.json')
        const state = JSON.parse(await readFile(statePath, 'utf8'))
        state.resources.push({
          kind: 'training-job',
          name: 'localtest-train-1',
          region: 'us-east-1',
          createdAt: new Date(Date.now() + 60_000).toISOString(),
          details: { status: 'Completed', modelArtifact: uri },
        })
        await writeFile(statePath, JSON.stringify(state, null, 2))
        const byDefault = await serveOnce([])
        expect(byDefault.run.code, byDefault.run.stderr).toBe(0)
        expect(byDefault.run.stderr).toContain('chosen as the newest local model')
        expect(byDefault.run.stderr).toContain('a newer SageMaker model (localtest-train-1) exists: pass --sagemaker-model to serve it')
        expect(byDefault.run.stderr).not.toContain('Downloading')
        expect(byDefault.top).toBe('Airedale terrier')
        const sagemaker = await serveOnce(['--sagemaker-model'])
        expect(sagemaker.run.code, sagemaker.run.stderr).toBe(0)
        // Downloaded once: the second run reuses the file.
        expect(sagemaker.run.stderr).not.toContain('Downloading')
        expect(sagemaker.run.stderr).toContain('Serving localtest-train-1 on')
        expect(sagemaker.top).toBe('Airedale terrier')
      },
      SLOW,
    )
  })
})

describe('train --local --instances 2', () => {
  it(
    'trains as two hosts on loopback (gloo group from SM_HOSTS)',
    async () => {
      const dir = await project(1)
      const r = await runMlops(['train', '--local', '--instances', '2', '--python', PYTHON, '--json'], { cwd: dir })
      expect(r.code, r.stderr).toBe(0)
      expect(r.json()).toMatchObject({ instances: 2, summary: { world_size: 2, epochs_run: 1 } })
      expect(r.stderr).toMatch(/^\[algo-1\] epoch=1 /m)
      expect(r.stderr).toMatch(/^\[algo-2\] /m)
    },
    SLOW,
  )

  it(
    'Ctrl-C stops every host and leaves no process behind',
    async () => {
      const dir = await project(200)
      const controller = new AbortController()
      const run = runMlops(['train', '--local', '--instances', '2', '--python', PYTHON], { cwd: dir, signal: controller.signal })
      await waitFor('two training processes', async () => (processesMentioning(dir).length >= 2 ? true : undefined))
      controller.abort()
      const r = await run
      expect(r.code).toBe(130)
      expect(processesMentioning(dir)).toEqual([])
    },
    SLOW,
  )
})

describe('train --local: plan and errors', () => {
  it('--dry-run shows each host’s process: SM_* contract, sorted --key value hyperparameters', async () => {
    const dir = await tempProject(config(3), twoClassDataset())
    const r = await runMlops(['train', '--local', '--instances', '2', '--python', '/opt/py', '--hyperparameter', 'batch_size=8', '--dry-run', '--json'], {
      cwd: dir,
    })
    expect(r.code, r.stderr).toBe(0)
    const doc = r.json()
    expect(doc.operations).toHaveLength(2)
    const [first, second] = doc.operations
    expect(first).toMatchObject({ service: 'local', operation: 'StartTrainingProcess' })
    expect(first.input.Command).toEqual([
      '/opt/py',
      path.join(REPO, 'scripts', 'train.py'),
      ...['--arch', 'resnet18', '--batch_size', '8', '--checkpoint-dir', path.join(dir, '.mlops', 'local', doc.jobName, 'checkpoints')],
      ...['--epochs', '3', '--freeze-backbone', 'False', '--image-size', '48', '--lr', '0.003', '--num-workers', '0', '--seed', '7', '--weights', 'none'],
    ])
    const root = path.join(dir, '.mlops', 'local', doc.jobName)
    expect(first.input.Environment).toMatchObject({
      SM_HOSTS: '["algo-1","algo-2"]',
      SM_CURRENT_HOST: 'algo-1',
      SM_NUM_GPUS: '0',
      SM_CHANNEL_TRAIN: path.join(dir, 'dogImages', 'train'),
      SM_CHANNEL_VALID: path.join(dir, 'dogImages', 'valid'),
      SM_CHANNEL_TEST: path.join(dir, 'dogImages', 'test'),
      SM_CHANNELS: '["test","train","valid"]',
      SM_MODEL_DIR: path.join(root, 'model'),
      SM_OUTPUT_DATA_DIR: path.join(root, 'output', 'data'),
      MASTER_ADDR: '127.0.0.1',
    })
    expect(second.input.Environment.SM_CURRENT_HOST).toBe('algo-2')
    expect(await readdir(dir)).not.toContain('.mlops')
  })

  it('refuses flags that only make sense on SageMaker', async () => {
    const dir = await tempProject(config(1))
    const r = await runMlops(['train', '--local', '--spot'], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--spot / --no-spot does not apply to --local training (one machine, no instance types, no spot).')
  })

  it('exits 2 naming what to install when no Python on PATH has torch', async () => {
    const dir = await tempProject(config(1), twoClassDataset())
    const bin = path.join(dir, 'bin')
    await mkdir(bin)
    await writeFile(path.join(bin, 'python3'), '#!/bin/sh\necho "ModuleNotFoundError: No module named torch" >&2\nexit 1\n')
    await chmod(path.join(bin, 'python3'), 0o755)
    const r = await runMlops(['train', '--local'], { cwd: dir, env: { PATH: bin } })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`No Python on PATH imports torch and torchvision (tried ${path.join(bin, 'python3')}).`)
    expect(r.stderr).toContain('pip install torch torchvision')
  })
})
