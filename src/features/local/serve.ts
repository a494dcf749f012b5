import { createHash } from 'node:crypto'
import { createWriteStream, existsSync, statSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { mkdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { extract as extractTar } from 'tar'
import type { CommandContext } from '../../context.js'
import { OperationError, UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { bundledScriptsDir } from '../../shared/package-root.js'
import { findPython } from './python.js'
import { parseS3Uri } from '../../aws/arn.js'
import { getObjectStream } from '../../aws/s3/model-archive.js'
import { latestRecordedModelRecord } from '../../shared/models.js'
import { startProcesses } from './processes.js'
import { LOCAL_MODEL_KIND } from './train-local.js'

/**
 * `mlops serve`: a model in the foreground behind scripts/serve.py, which runs the same predictor
 * class the endpoint runs (deployment.py's Ray Serve deployment, without Ray) with the Ray Serve
 * image's contract on 127.0.0.1 (GET /ping, POST /invocations, POST /endpoints/<name>/invocations),
 * batching as `endpoint.batching` says.
 * Models: a model folder, a model.tar.gz, a local job's name, or an s3:// model.tar.gz (downloaded
 * once into .mlops/local/serve/). The default is the newest trained model, local or SageMaker (the
 * state file records both; a SageMaker one is downloaded from S3).
 */

export interface ServeOptions {
  /** A model folder, a model.tar.gz, a local job name or an s3:// URI. @default the newest trained model, local or SageMaker */
  readonly model?: string
  /** @default 8080 */
  readonly port: number
  readonly python?: string
  /** Requests handled at once; more get 503. @default 4 */
  readonly maxConcurrency?: number
  /** Largest request body; larger gets 413. @default 6 MB (InvokeEndpoint's limit) */
  readonly maxBodyBytes?: number
}

export interface ServeResult {
  readonly model: string
  readonly modelDir: string
  readonly url: string
  /** Requests answered (one log line each). */
  readonly requests: number
  readonly stoppedBy: 'interrupt' | 'exit'
}

export interface LocalModel {
  /** The folder serve.py loads (model.pth, model-info.json, code/). */
  readonly modelDir: string
  /** What the user named, or the job found in the state file. */
  readonly label: string
}

/** A trained model folder (code/ beside the weights) or a deployed one (deployment.py at its root, issue 25). */
const isModelDir = (dir: string) =>
  existsSync(path.join(dir, 'model-info.json')) && (existsSync(path.join(dir, 'code')) || existsSync(path.join(dir, 'deployment.py')))

/** Unpacks a model.tar.gz once into `.mlops/local/serve/<hash>/` and returns that folder. */
async function unpackArtifact(projectDir: string, file: string): Promise<string> {
  const info = statSync(file)
  const key = createHash('sha256')
    .update(`${path.resolve(file)}:${info.size}:${info.mtimeMs}`)
    .digest('hex')
    .slice(0, 16)
  const dir = path.join(projectDir, '.mlops', 'local', 'serve', key)
  if (isModelDir(dir)) return dir
  const tmp = `${dir}.${process.pid}.tmp`
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true })
  await extractTar({ file, cwd: tmp })
  await rm(dir, { recursive: true, force: true })
  await rename(tmp, dir)
  return dir
}

/**
 * Downloads an s3:// model.tar.gz once into `.mlops/local/serve/<hash of the URI>.tar.gz` (a re-run
 * with the same URI reuses it) and returns the file.
 */
async function downloadModel(ctx: CommandContext, uri: string): Promise<string> {
  const loc = parseS3Uri(uri, { requireKey: true })
  if (!loc || !loc.key.endsWith('.tar.gz')) {
    throw new UserError('InvalidFlag', `--model ${uri} is not an S3 URI of a model.tar.gz.`, {
      hint: 'For example: --model s3://my-bucket/output/<job>/output/model.tar.gz',
    })
  }
  const file = path.join(ctx.projectDir, '.mlops', 'local', 'serve', `${createHash('sha256').update(uri).digest('hex').slice(0, 16)}.tar.gz`)
  if (existsSync(file)) return file
  // The config gives the region when there is one; serve itself needs none.
  const cfg = existsSync(ctx.configPath) ? await ctx.config() : undefined
  const { s3 } = await ctx.clients(['s3'], cfg)
  ctx.ui.step(`Downloading ${uri}`)
  const body = await getObjectStream(s3, loc.bucket, loc.key)
  if (!body) throw new UserError('ModelNotFound', `${uri} does not exist.`, { hint: 'Check the URI, or train a model first (`mlops train`).' })
  await mkdir(path.dirname(file), { recursive: true })
  const partial = `${file}.${process.pid}.partial`
  try {
    await pipeline(body, createWriteStream(partial), { signal: ctx.signal })
    await rename(partial, file)
  } finally {
    await rm(partial, { force: true })
  }
  return file
}

/** Resolves `--model` (or the newest trained model) to a folder serve.py can load. */
export async function resolveLocalModel(ctx: CommandContext, model: string | undefined): Promise<LocalModel> {
  const notServable = (what: string) =>
    new UserError('ModelNotServable', `${what} is not a model: expected a folder with model-info.json and code/ (or deployment.py), or a model.tar.gz.`, {
      hint: 'Pass --model .mlops/local/<job>/model.tar.gz (what `mlops train --local` writes) or a local job name.',
    })
  if (model === undefined) {
    const latest = await ctx.state().latest(LOCAL_MODEL_KIND)
    const artifact = (latest?.details as { modelArtifact?: string } | undefined)?.modelArtifact
    // A SageMaker (or EC2) model trained after the newest local one wins: it is what deploy would serve.
    const remote = await latestRecordedModelRecord(ctx.state(), (uri) => parseS3Uri(uri, { requireKey: true }) !== undefined)
    if (remote && (!latest || !artifact || !existsSync(artifact) || remote.recordedAt > latest.createdAt)) {
      return { modelDir: await unpackArtifact(ctx.projectDir, await downloadModel(ctx, remote.source.uri)), label: remote.source.jobName ?? remote.source.uri }
    }
    if (!latest || !artifact || !existsSync(artifact)) {
      throw new UserError('NoLocalModel', 'No locally trained model to serve (the state file records none, or its file is gone).', {
        hint: 'Train one with `mlops train --local`, or pass --model <folder|model.tar.gz>. For a SageMaker model, `aws s3 cp` its model.tar.gz here and pass that file.',
      })
    }
    return { modelDir: await unpackArtifact(ctx.projectDir, artifact), label: latest.name }
  }
  if (model.startsWith('s3://')) return { modelDir: await unpackArtifact(ctx.projectDir, await downloadModel(ctx, model)), label: model }
  const asPath = path.resolve(ctx.deps.cwd, model)
  if (existsSync(asPath)) {
    if (statSync(asPath).isDirectory()) {
      if (isModelDir(asPath)) return { modelDir: asPath, label: model }
      const inner = path.join(asPath, 'model.tar.gz')
      if (existsSync(inner)) return { modelDir: await unpackArtifact(ctx.projectDir, inner), label: model }
      throw notServable(asPath)
    }
    if (/\.tar\.gz$|\.tgz$/.test(asPath)) return { modelDir: await unpackArtifact(ctx.projectDir, asPath), label: model }
    throw notServable(asPath)
  }
  const job = path.join(ctx.projectDir, '.mlops', 'local', model, 'model.tar.gz')
  if (/^[\w.-]+$/.test(model) && existsSync(job)) return { modelDir: await unpackArtifact(ctx.projectDir, job), label: model }
  throw new UserError('ModelNotFound', `--model ${model} is neither a file, a folder nor a local job (looked for ${job}).`, {
    hint: 'List local jobs with `ls .mlops/local`, or pass a path.',
  })
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) \S+ \d{3} /

/** Runs serve.py until Ctrl-C (or until it exits by itself, which is an error). */
export async function runServe(ctx: CommandContext, opts: ServeOptions): Promise<Outcome<ServeResult>> {
  const resolved = ctx.dryRun ? { modelDir: opts.model ?? '<latest local model>', label: opts.model ?? 'latest' } : await resolveLocalModel(ctx, opts.model)
  const python = ctx.dryRun ? (opts.python ?? ctx.deps.env.MLOPS_PYTHON ?? 'python3') : findPython({ flag: opts.python, env: ctx.deps.env }).path
  // The endpoint's batching, so the local server batches as the deployed predictor does.
  const batching = existsSync(ctx.configPath) ? (await ctx.config()).endpoint.batching : undefined
  const args = [
    path.join(bundledScriptsDir(), 'serve.py'),
    '--model-dir',
    resolved.modelDir,
    '--port',
    String(opts.port),
    ...(opts.maxConcurrency ? ['--max-concurrency', String(opts.maxConcurrency)] : []),
    ...(opts.maxBodyBytes ? ['--max-body-bytes', String(opts.maxBodyBytes)] : []),
    ...(batching ? ['--max-batch-size', String(batching.maxBatchSize), '--batch-wait-ms', String(batching.batchWaitTimeoutMs)] : []),
  ]
  const url = `http://127.0.0.1:${opts.port}`
  if (ctx.dryRun) {
    return planned({
      title: 'mlops serve',
      operations: [{ service: 'local', operation: 'StartModelServer', input: { Command: [python, ...args] } }],
      details: { url, model: resolved.label },
    })
  }
  let requests = 0
  const group = startProcesses(
    [{ name: 'serve', command: python, args, cwd: resolved.modelDir, env: { ...ctx.deps.env, PYTHONUNBUFFERED: '1' } }],
    (_n, _s, line) => {
      if (REQUEST_LINE.test(line)) requests++
      ctx.ui.info(line)
    },
  )
  ctx.ui.step(`Serving ${resolved.label} on ${url} (Ctrl-C stops it)`)
  const interrupted = new Promise<'interrupt'>((resolve) => {
    if (ctx.signal.aborted) resolve('interrupt')
    else ctx.signal.addEventListener('abort', () => resolve('interrupt'), { once: true })
  })
  const first = await Promise.race([interrupted, group.firstExit])
  if (first === 'interrupt') {
    await group.stop()
    return done({ model: resolved.label, modelDir: resolved.modelDir, url, requests, stoppedBy: 'interrupt' })
  }
  const line = [...first.tail].reverse().find((l) => l.startsWith('error: ')) ?? first.tail.at(-1) ?? ''
  if (first.code === 2) throw new UserError('ServeFailed', `The model server could not start: ${line}`, { hint: 'Choose another --port.' })
  throw new OperationError('ServeFailed', `The model server stopped unexpectedly (exit ${first.code ?? first.signal}): ${line}`)
}
