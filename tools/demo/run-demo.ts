/**
 * `npm run demo`: the whole pipeline against a local moto server, no AWS account needed.
 *
 * What is real: every mlops command runs unmodified (the built CLI, in its own process) and every
 * AWS request goes to moto. `mlops train --local` really trains the model on this CPU, `mlops serve`
 * really serves it through the endpoint's predictor class (scripts/deployment.py's Ray Serve
 * deployment, run without Ray; its log names the class), and `mlops invoke --local` (with and without
 * --lambda, the bundled Lambda handler) prints that model's answers: no canned predictions. What is
 * emulated, and said so as it happens: moto completes a training job instantly without running it,
 * so the locally trained model goes where SageMaker would put it; moto's endpoint and Lambda cannot
 * run code, so they answer the deploy and lambda-setup smoke tests with what the local model server
 * (and the real handler in front of it) answered.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { freePort, startMoto, motoClientConfig, motoEnv, type MotoServer } from '../dev/moto-server.js'
import { silenceSdkNodeVersionWarning } from '../../src/shared/warnings.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const CLI = path.join(ROOT, 'dist', 'bin.js')
const TORCH_PYTHON = process.env.MLOPS_TORCH_PYTHON ?? '/usr/bin/python3'
const PROJECT = 'dog-demo'
const BUCKET = 'dog-demo-data'

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s)
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s)

let stepNo = 0
function header(title: string): void {
  stepNo++
  process.stdout.write(`\n${bold(`━━ ${stepNo}. ${title}`)}\n`)
}
function emulated(note: string): void {
  process.stdout.write(dim(`   [emulated] ${note}\n`))
}

interface Run {
  code: number
  stdout: string
}

/** Runs the built CLI as a user would, streaming its output; returns stdout for --json steps. */
function mlops(args: string[], cwd: string, env: Record<string, string>, { expect = [0], quiet = false } = {}): Promise<Run> {
  process.stdout.write(dim(`   $ mlops ${args.join(' ')}\n`))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      if (!quiet) process.stdout.write(indent(d.toString()))
    })
    child.stderr.on('data', (d: Buffer) => process.stdout.write(dim(indent(d.toString()))))
    child.on('error', reject)
    child.on('exit', (code) => {
      if (!expect.includes(code ?? -1)) reject(new Error(`mlops ${args[0]} exited ${code}; expected ${expect.join(' or ')}`))
      else resolve({ code: code ?? -1, stdout })
    })
  })
}

function indent(s: string): string {
  return s.replace(/^(?=.)/gm, '   ')
}

/** Runs a Python program with Debian's CPU torch; throws with its output on failure. */
function python(args: string[], cwd: string): string {
  const r = spawnSync(TORCH_PYTHON, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`${TORCH_PYTHON} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

async function main(): Promise<void> {
  const started = Date.now()
  const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-demo-'))
  let moto: MotoServer | undefined
  let server: ChildProcess | undefined
  try {
    process.stdout.write(bold('mlops demo: the whole pipeline against a local AWS emulator (moto); no AWS account is used.\n'))
    moto = await startMoto()
    process.stdout.write(dim(`   moto listening on ${moto.endpoint}; working in ${work}\n`))
    const env = { ...motoEnv(moto.endpoint), MLOPS_PYTHON: TORCH_PYTHON }
    const s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })

    header('init: write a commented config')
    await mlops(['init', '--project', PROJECT, '--bucket', BUCKET], work, env)
    // Small and CPU-friendly settings so the real training run below takes seconds.
    const cfgPath = path.join(work, 'mlops.config.yaml')
    const cfg = (await readFile(cfgPath, 'utf8'))
      .replace('instanceType: ml.g4dn.xlarge', 'instanceType: ml.m5.xlarge')
      .replace(
        / {4}arch: resnet50\n {4}epochs: 10\n {4}batch-size: 64\n {4}lr: 0.001\n/,
        '    arch: resnet18\n    epochs: 4\n    batch-size: 16\n    lr: 0.003\n    weights: none\n    image-size: 64\n    num-workers: 0\n',
      )
      .replace('maxCapacity: 4', 'maxCapacity: 2')
      // The project's training code: this repository's scripts/ (a real project keeps its own beside the config).
      .replace('sourceDir: scripts', `sourceDir: ${path.join(ROOT, 'scripts')}`)
    await writeFile(cfgPath, cfg)

    header('a small dog-breed-shaped dataset (5 breeds, synthetic images)')
    python(
      [
        path.join(ROOT, 'scripts-dev/make_synthetic_dataset.py'),
        '--out',
        path.join(work, 'dogImages'),
        '--classes',
        '5',
        '--train-per-class',
        '24',
        '--valid-per-class',
        '8',
        '--test-per-class',
        '8',
        '--size',
        '64',
        '--seed',
        '7',
      ],
      work,
    )
    process.stdout.write('   wrote dogImages/{train,valid,test}/<breed>/*.jpg\n')

    header('upload-data: sync the images to S3')
    const upload = JSON.parse((await mlops(['upload-data', '--yes', '--json'], work, env, { quiet: true })).stdout)
    process.stdout.write(
      `   uploaded ${upload.uploaded} files (${upload.bytes} bytes), skipped ${upload.skipped}; channels ${JSON.stringify(upload.channels)}\n`,
    )
    const again = JSON.parse((await mlops(['upload-data', '--yes', '--json'], work, env, { quiet: true })).stdout)
    process.stdout.write(`   re-run: uploaded ${again.uploaded}, skipped ${again.skipped} (nothing changed)\n`)

    header('train --local: the same scripts/train.py on this CPU, under the SageMaker training contract')
    const local = JSON.parse((await mlops(['train', '--local', '--json'], work, env, { quiet: true })).stdout)
    process.stdout.write(`   job ${local.jobName}: ${formatLocalMetrics(local.metrics)}\n   model ${local.modelArtifact}\n`)

    header('train --instances 2: a data-parallel SageMaker training job')
    const train = JSON.parse((await mlops(['train', '--instances', '2', '--yes', '--json'], work, env, { quiet: true })).stdout)
    process.stdout.write(`   job ${train.jobName}: ${train.status}; distribution ${train.distribution?.mode} (${train.distribution?.reason})\n`)
    const artifact: string = train.modelArtifact
    emulated('moto marks the job Completed without running it; the model trained above goes where SageMaker puts it:')
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(artifact)
    if (!m) throw new Error(`train returned no model artifact URI (got ${artifact})`)
    await s3.send(new PutObjectCommand({ Bucket: m[1], Key: m[2], Body: await readFile(local.modelArtifact) }))
    process.stdout.write(`   put ${artifact}\n`)

    header('serve: the trained model through the endpoint’s predictor class (deployment.py, without Ray), on this machine')
    const port = await freePort()
    server = startServe(work, env, port)
    await waitForPing(port, server)
    process.stdout.write(`   GET http://127.0.0.1:${port}/ping -> 200\n`)

    header('deploy: model, endpoint config, endpoint, smoke test')
    const prediction = await classifyLocally(port, path.join(ROOT, 'assets/sample.jpg'))
    emulated(
      'moto cannot run the model server, so it answers the smoke test with what mlops serve (the deployment.py predictor, the model above) answered for assets/sample.jpg:',
    )
    process.stdout.write(`   ${prediction.slice(0, 160)}…\n`)
    await moto.setEndpointResults(Array.from({ length: 20 }, () => ({ Body: prediction, ContentType: 'application/json' })))
    await mlops(['deploy', '--yes'], work, env)

    header('lambda-setup: a least-privilege function in front of the endpoint')
    const lambdaAnswer = await realLambdaAnswer(prediction)
    emulated('moto cannot run Node functions; the real bundled handler ran here on the model server’s answer, and moto returns what it returned.')
    await moto.setLambdaResults(Array.from({ length: 20 }, () => lambdaAnswer))
    await mlops(['lambda-setup', '--yes'], work, env)

    header('scale: endpoint autoscaling (target tracking) and Lambda concurrency')
    await mlops(['scale', '--min', '1', '--max', '2', '--target-rps', '2', '--yes'], work, env)
    await mlops(['scale', '--lambda-reserved', '5', '--lambda-provisioned', '1', '--yes'], work, env)

    header('invoke --local: the model server, then the bundled Lambda handler in this process against it')
    await mlops(['invoke', path.join(ROOT, 'assets/sample.jpg'), '--top', '3', '--local', '--port', String(port)], work, env)
    await mlops(['invoke', path.join(ROOT, 'assets/sample.jpg'), '--top', '3', '--local', '--lambda', '--port', String(port)], work, env)
    await stopServe(server)
    server = undefined

    header('audit-iam: least-privilege findings for the roles mlops created')
    await mlops(['audit-iam'], work, env, { expect: [0, 3] })

    header('status: what is running and what it costs')
    await mlops(['status'], work, env)

    header('teardown: delete it all (the data stays)')
    await mlops(['teardown', '--yes'], work, env)
    await mlops(['teardown', '--yes'], work, env)

    process.stdout.write(`\n${bold(`Demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`)} Nothing is left running; moto is stopping.\n`)
  } finally {
    if (server) await stopServe(server).catch(() => undefined)
    await moto?.stop()
    if (!process.env.MLOPS_DEMO_KEEP) await rm(work, { recursive: true, force: true })
  }
}

function formatLocalMetrics(metrics: Record<string, number>): string {
  return ['epoch', 'val_accuracy', 'test_accuracy'].map((k) => `${k}=${metrics[k]}`).join(' ')
}

/** `mlops serve` in the background, its request log shown dimmed. */
function startServe(cwd: string, env: Record<string, string>, port: number): ChildProcess {
  process.stdout.write(dim(`   $ mlops serve --port ${port} &\n`))
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
    cwd,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout.on('data', (d: Buffer) => process.stdout.write(dim(indent(`[serve] ${d.toString()}`))))
  child.stderr.on('data', (d: Buffer) => process.stdout.write(dim(indent(d.toString().replace(/^(?=.)/gm, '[serve] ')))))
  return child
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mlops serve exited ${child.exitCode}`)
    const ok = await fetch(`http://127.0.0.1:${port}/ping`).then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error('mlops serve did not answer /ping within 2 minutes')
}

/** Ctrl-C for the server, as a user would; it must exit 0 with nothing left behind. */
async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  child.kill('SIGINT')
  const code = await exited
  if (code !== 0) throw new Error(`mlops serve exited ${code} on Ctrl-C`)
}

/** The model server's answer for one image (POST /invocations, as SageMaker calls the container). */
async function classifyLocally(port: number, image: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/invocations`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: await readFile(image) })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`mlops serve answered ${res.status}: ${text}`)
  return text
}

/** Runs the real Lambda handler against a fake endpoint that answers `prediction`. */
async function realLambdaAnswer(prediction: string): Promise<string> {
  const image = (await readFile(path.join(ROOT, 'assets/sample.jpg'))).toString('base64')
  const { createHandler } = await import('../../src/lambda-runtime/handler.js')
  const handler = createHandler({
    env: { ENDPOINT_NAME: `${PROJECT}-endpoint`, TOP_K: '3' },
    client: () => ({ send: async () => ({ Body: new TextEncoder().encode(prediction) }) }) as never,
    log: () => undefined,
  })
  const result = await handler({ image, top_k: 3 }, { awsRequestId: 'demo-request' })
  return JSON.stringify(result)
}

silenceSdkNodeVersionWarning()
main().catch((err: unknown) => {
  process.stderr.write(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
