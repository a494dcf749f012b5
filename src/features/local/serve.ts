import { createHash } from 'node:crypto'
import { createWriteStream, existsSync, statSync } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { mkdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { extractTarBounded } from '../../shared/archive-bounds.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import { escapeTerminal } from '../../shared/terminal-text.js'
import { OperationError, UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { bundledScriptsDir } from '../../shared/package-root.js'
import { findPython } from './python.js'
import { parseS3Uri } from '../../aws/arn.js'
import { getObjectStream } from '../../aws/s3/model-archive.js'
import { latestRecordedModelRecord } from '../../shared/models.js'
import { startProcesses } from './processes.js'
import { LOCAL_MODEL_KIND } from './train-local.js'
import { BATCHING_DEFAULTS, requestsPerReplica } from '../../config/sections/endpoint.js'

/**
 * `mlops serve`: a model in the foreground behind scripts/serve.py, which runs the same predictor
 * class the endpoint runs (deployment.py's Ray Serve deployment, without Ray) with the Ray Serve
 * image's contract on 127.0.0.1 (GET /ping, POST /invocations, POST /endpoints/<name>/invocations),
 * batching as `endpoint.batching` says.
 * Models: a model folder, a model.tar.gz, a local job's name, or an s3:// model.tar.gz (downloaded
 * once into .mlops/local/serve/). The default is the newest local model (`train --local`), with no
 * AWS call; `--sagemaker-model` serves the newest SageMaker-trained one the state file records
 * (downloaded from S3). Which model and why is said on stderr and in the result (issue 31).
 *
 * The predictor is the project's (training.sourceDir's endpoint.entryPoint, as deploy packs it),
 * else the bundled one; never the Python inside a model archive unless --trust-archive-code (issue 27).
 * Archives unpack within the dataset unzip's bounds; the server dies with this process, even by SIGKILL.
 */

export interface ServeOptions {
  /** A model folder, a model.tar.gz, a local job name or an s3:// URI. @default the newest local model */
  readonly model?: string
  /** Serve the newest SageMaker-trained model the state file records (downloads it; needs AWS). @default false */
  readonly sagemakerModel?: boolean
  /** Run the model folder's own deployment.py instead of the project's predictor. @default false */
  readonly trustArchiveCode?: boolean
  /** @default 8080 */
  readonly port: number
  readonly python?: string
  /** Requests handled at once; more get 503. @default 4 */
  readonly maxConcurrency?: number
  /** Largest request body; larger gets 413. @default 6 MB (InvokeEndpoint's limit) */
  readonly maxBodyBytes?: number
}

/** How the model was chosen: named by --model, the newest local one, or the newest SageMaker one. */
export type ModelChoice = 'flag' | 'newest-local' | 'newest-sagemaker'

export interface ServeResult {
  readonly model: string
  readonly modelDir: string
  readonly choice: ModelChoice
  /** Why this model, in words (also printed on stderr at the start). */
  readonly reason: string
  /** The predictor file serve.py runs ('archive' with --trust-archive-code). */
  readonly predictor: string
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
  readonly choice: ModelChoice
  readonly reason: string
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
  try {
    // The dataset unzip's bounds (total, ratio, free disk; plain files only), checked before writing.
    await extractTarBounded(file, tmp, {
      label: file,
      hint: 'Serve a model.tar.gz that `mlops train` or `train --local` wrote, from a source you trust.',
    })
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
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

/**
 * Resolves `--model` (or the newest local model, or with `sagemakerModel` the newest SageMaker one)
 * to a folder serve.py can load, and says why. Only `--model s3://…` and `sagemakerModel` reach AWS.
 */
export async function resolveLocalModel(ctx: CommandContext, model: string | undefined, opts: { readonly sagemakerModel?: boolean } = {}): Promise<LocalModel> {
  const notServable = (what: string) =>
    new UserError('ModelNotServable', `${what} is not a model: expected a folder with model-info.json and code/ (or deployment.py), or a model.tar.gz.`, {
      hint: 'Pass --model .mlops/local/<job>/model.tar.gz (what `mlops train --local` writes) or a local job name.',
    })
  const isS3 = (uri: string) => parseS3Uri(uri, { requireKey: true }) !== undefined
  if (opts.sagemakerModel) {
    if (model !== undefined) {
      throw new UserError('ConflictingFlags', '--model and --sagemaker-model both choose the model; pass one of them.', {
        hint: 'Use --model <path|job|s3://…> for a particular model, or --sagemaker-model for the newest SageMaker-trained one.',
      })
    }
    const remote = await latestRecordedModelRecord(ctx.state(), isS3)
    if (!remote) {
      throw new UserError('NoSageMakerModel', '--sagemaker-model: the state file records no SageMaker-trained model.', {
        hint: 'Train one with `mlops train`, pass --model s3://…/model.tar.gz, or leave out --sagemaker-model to serve the newest local model.',
      })
    }
    const label = remote.source.jobName ?? remote.source.uri
    return {
      modelDir: await unpackArtifact(ctx.projectDir, await downloadModel(ctx, remote.source.uri)),
      label,
      choice: 'newest-sagemaker',
      reason: `--sagemaker-model: the newest SageMaker-trained model in the state file (${remote.source.uri}, recorded ${remote.recordedAt})`,
    }
  }
  if (model === undefined) {
    const latest = await ctx.state().latest(LOCAL_MODEL_KIND)
    const artifact = (latest?.details as { modelArtifact?: string } | undefined)?.modelArtifact
    // Read from the state file only: serving a local model never calls AWS.
    const remote = await latestRecordedModelRecord(ctx.state(), isS3)
    if (!latest || !artifact || !existsSync(artifact)) {
      throw new UserError('NoLocalModel', 'No locally trained model to serve (the state file records none, or its file is gone).', {
        hint: remote
          ? `Train one with \`mlops train --local\`, pass --model <folder|model.tar.gz>, or pass --sagemaker-model to download and serve ${remote.source.jobName ?? remote.source.uri}.`
          : 'Train one with `mlops train --local`, or pass --model <folder|model.tar.gz|s3://…>.',
      })
    }
    const newer =
      remote && remote.recordedAt > latest.createdAt
        ? `; a newer SageMaker model (${remote.source.jobName ?? remote.source.uri}) exists: pass --sagemaker-model to serve it`
        : ''
    return {
      modelDir: await unpackArtifact(ctx.projectDir, artifact),
      label: latest.name,
      choice: 'newest-local',
      reason: `the newest local model (\`train --local\`, ${latest.createdAt})${newer}`,
    }
  }
  const named = (modelDir: string, label = model): LocalModel => ({ modelDir, label, choice: 'flag', reason: `--model ${model}` })
  if (model.startsWith('s3://')) return named(await unpackArtifact(ctx.projectDir, await downloadModel(ctx, model)))
  const asPath = path.resolve(ctx.deps.cwd, model)
  if (existsSync(asPath)) {
    if (statSync(asPath).isDirectory()) {
      if (isModelDir(asPath)) return named(asPath)
      const inner = path.join(asPath, 'model.tar.gz')
      if (existsSync(inner)) return named(await unpackArtifact(ctx.projectDir, inner))
      throw notServable(asPath)
    }
    if (/\.tar\.gz$|\.tgz$/.test(asPath)) return named(await unpackArtifact(ctx.projectDir, asPath))
    throw notServable(asPath)
  }
  const job = path.join(ctx.projectDir, '.mlops', 'local', model, 'model.tar.gz')
  if (/^[\w.-]+$/.test(model) && existsSync(job)) return named(await unpackArtifact(ctx.projectDir, job))
  throw new UserError('ModelNotFound', `--model ${model} is neither a file, a folder nor a local job (looked for ${job}).`, {
    hint: 'List local jobs with `ls .mlops/local`, or pass a path.',
  })
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) \S+ \d{3} /

/** Runs serve.py until Ctrl-C (or until it exits by itself, which is an error). */
/** The project's predictor (training.sourceDir's endpoint.entryPoint, what deploy packs), else the bundled one. */
async function projectPredictor(ctx: CommandContext): Promise<string> {
  const bundled = path.join(bundledScriptsDir(), 'deployment.py')
  if (!existsSync(ctx.configPath)) return bundled
  const cfg = await ctx.config()
  const file = path.join(resolveTrainingSourceDir(cfg, ctx.projectDir).dir, cfg.endpoint.entryPoint)
  return existsSync(file) ? file : bundled
}

/** Runs serve.py until Ctrl-C (or until it exits by itself, which is an error). */
export async function runServe(ctx: CommandContext, opts: ServeOptions): Promise<Outcome<ServeResult>> {
  if (opts.model !== undefined && opts.sagemakerModel) {
    throw new UserError('ConflictingFlags', '--model and --sagemaker-model both choose the model; pass one of them.', {
      hint: 'Use --model <path|job|s3://…> for a particular model, or --sagemaker-model for the newest SageMaker-trained one.',
    })
  }
  const resolved: LocalModel = ctx.dryRun
    ? {
        modelDir: opts.model ?? (opts.sagemakerModel ? '<newest SageMaker model>' : '<newest local model>'),
        label: opts.model ?? (opts.sagemakerModel ? 'newest SageMaker model' : 'newest local model'),
        choice: opts.model !== undefined ? 'flag' : opts.sagemakerModel ? 'newest-sagemaker' : 'newest-local',
        reason: opts.model !== undefined ? `--model ${opts.model}` : opts.sagemakerModel ? '--sagemaker-model' : 'the newest local model',
      }
    : await resolveLocalModel(ctx, opts.model, { sagemakerModel: opts.sagemakerModel })
  const python = ctx.dryRun ? (opts.python ?? ctx.deps.env.MLOPS_PYTHON ?? 'python3') : findPython({ flag: opts.python, env: ctx.deps.env }).path
  // The endpoint's batching, so the local server batches as the deployed predictor does.
  const batching = existsSync(ctx.configPath) ? (await ctx.config()).endpoint.batching : undefined
  // As many requests at once as a deployed replica takes: with fewer, a batch could never fill.
  const maxConcurrency = opts.maxConcurrency ?? requestsPerReplica((batching ?? BATCHING_DEFAULTS).maxBatchSize)
  const predictor = opts.trustArchiveCode ? 'archive' : await projectPredictor(ctx)
  const args = [
    path.join(bundledScriptsDir(), 'serve.py'),
    '--model-dir',
    resolved.modelDir,
    '--port',
    String(opts.port),
    // The child stops when this process dies, even by SIGKILL (no server left holding the port).
    '--exit-with-parent',
    ...(opts.trustArchiveCode ? ['--trust-archive-code'] : ['--predictor', predictor]),
    '--max-concurrency',
    String(maxConcurrency),
    ...(opts.maxBodyBytes ? ['--max-body-bytes', String(opts.maxBodyBytes)] : []),
    ...(batching ? ['--max-batch-size', String(batching.maxBatchSize), '--batch-wait-ms', String(batching.batchWaitTimeoutMs)] : []),
  ]
  const url = `http://127.0.0.1:${opts.port}`
  if (ctx.dryRun) {
    const download = opts.sagemakerModel || opts.model?.startsWith('s3://')
    return planned({
      title: 'mlops serve',
      operations: [
        ...(download
          ? [
              {
                service: 's3',
                operation: 'GetObject',
                input: { Bucket: '<bucket>', Key: opts.model ?? '<newest SageMaker model.tar.gz>' },
                note: 'download the model once',
              },
            ]
          : []),
        { service: 'local', operation: 'StartModelServer', input: { Command: [python, ...args] }, note: resolved.reason },
      ],
      details: { url, model: resolved.label, choice: resolved.choice, reason: resolved.reason },
    })
  }
  if (opts.trustArchiveCode) ctx.ui.warn(`--trust-archive-code: running the Python inside ${resolved.label}; do this only for a model you trust.`)
  ctx.ui.info(`Model: ${escapeTerminal(resolved.label)}, chosen as ${escapeTerminal(resolved.reason)}`)
  let requests = 0
  const group = startProcesses(
    [{ name: 'serve', command: python, args, cwd: resolved.modelDir, env: { ...ctx.deps.env, PYTHONUNBUFFERED: '1' } }],
    (_n, _s, line) => {
      if (REQUEST_LINE.test(line)) requests++
      // What a client sent (a path) or a predictor printed must not drive the terminal.
      ctx.ui.info(escapeTerminal(line))
    },
  )
  ctx.ui.step(`Serving ${escapeTerminal(resolved.label)} on ${url} (Ctrl-C stops it)`)
  const interrupted = new Promise<'interrupt'>((resolve) => {
    if (ctx.signal.aborted) resolve('interrupt')
    else ctx.signal.addEventListener('abort', () => resolve('interrupt'), { once: true })
  })
  const first = await Promise.race([interrupted, group.firstExit])
  const result = { model: resolved.label, modelDir: resolved.modelDir, choice: resolved.choice, reason: resolved.reason, predictor, url, requests }
  if (first === 'interrupt') {
    await group.stop()
    return done({ ...result, stoppedBy: 'interrupt' })
  }
  const line = escapeTerminal([...first.tail].reverse().find((l) => l.startsWith('error: ')) ?? first.tail.at(-1) ?? '')
  if (first.code === 2) throw new UserError('ServeFailed', `The model server could not start: ${line}`, { hint: 'Choose another --port.' })
  throw new OperationError('ServeFailed', `The model server stopped unexpectedly (exit ${first.code ?? first.signal}): ${line}`)
}
