import { existsSync, statSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { InterruptedError, UserError } from '../../shared/errors.js'
import type { ProgressBar } from '../../shared/output.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { etaText, EVALUATION_SCRIPT, runEvaluationScript } from './evaluation-script.js'
import {
  appendPredictions,
  perClassAccuracy,
  predictionsFormat,
  readPredictions,
  resolveOutput,
  type PredictionRow,
  type PredictionsFormat,
} from './predictions-file.js'
import type { LocalModelRunner } from './types.js'
import { costStatement, listFolderImages, listS3Images, parseImageSource, predictRemote, remoteOperations, resolveTarget, type ImageSource } from './remote.js'

export interface PredictOptions {
  /** The folder of images (labelled when it has one sub-folder per class). */
  readonly input: string
  /** -o: predictions.csv or .jsonl. @default 'predictions.csv' */
  readonly output: string
  /** Classes per file. @default 5 */
  readonly topK: number
  /** --endpoint [name] / --lambda [name] (true: the project's), instead of the local predictor. */
  readonly remote?: { readonly kind: 'endpoint' | 'lambda'; readonly name: string | true; readonly concurrency: number }
}

/** The Lambda refuses a "top_k" above 20 (lambda-runtime's MAX_TOP_K). */
const LAMBDA_MAX_TOP_K = 20

export interface PredictResult {
  readonly model: string
  readonly input: string
  readonly output: string
  readonly format: PredictionsFormat
  /** Images in the folder. */
  readonly images: number
  /** Predicted by this run. */
  readonly predicted: number
  /** Already in the output file from an earlier run: skipped. */
  readonly skipped: number
  /** Files that are not readable images (an error row each). */
  readonly errors: number
  readonly seconds: number
  /** Over every labelled row in the file; absent for an unlabelled folder. */
  readonly accuracy?: number
  /** Worst first. */
  readonly perClass?: readonly { label: string; images: number; correct: number; accuracy: number }[]
}

/** Rows are written in groups this size (or every second), so Ctrl-C loses at most one group. */
const FLUSH_ROWS = 16

/** `mlops predict <folder> --local`: every image through the predictor, one row each, resumable. */
export async function runPredict(ctx: CommandContext, resolveRunner: () => Promise<LocalModelRunner>, opts: PredictOptions): Promise<Outcome<PredictResult>> {
  if (opts.remote) return runPredictRemote(ctx, { ...opts, remote: opts.remote })
  const input = path.resolve(ctx.deps.cwd, opts.input)
  if (opts.input.startsWith('s3://')) {
    throw new UserError('InvalidArgument', `<folder> ${opts.input}: an s3:// prefix is read by the deployed model only.`, {
      hint: `Add --endpoint or --lambda (mlops predict ${opts.input} --endpoint), or download the images and pass the folder.`,
    })
  }
  if (!existsSync(input) || !statSync(input).isDirectory()) {
    throw new UserError('InvalidArgument', `<folder> ${opts.input} is not a folder.`, { hint: 'Pass a folder of images, e.g. mlops predict dogImages/test' })
  }
  const output = resolveOutput(ctx.deps.cwd, opts.output)
  const format = predictionsFormat(opts.output)
  // The model and Python are looked up (and Python probed) only once the flags are known to be good.
  const runner = await resolveRunner()
  if (ctx.dryRun) {
    return planned({
      title: `mlops predict ${opts.input} --local`,
      operations: [],
      notes: [`Runs ${EVALUATION_SCRIPT} predict with ${runner.python} on ${runner.modelLabel}; rows go to ${output}.`, 'Nothing is sent to AWS.'],
      details: { local: true, model: runner.modelLabel, input, output },
    })
  }
  const earlier = await earlierRows(output, format, opts)
  const isNew = !existsSync(output)
  const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-predict-'))
  const skipFile = path.join(work, 'skip.txt')
  await writeFile(skipFile, earlier.rows.map((r) => r.file).join('\n') + '\n')
  const started = ctx.clock.now()
  const rows: PredictionRow[] = []
  const writer = rowWriter(ctx, output, format, opts.topK, isNew)
  let bar: ProgressBar | undefined
  let total = 0
  ctx.ui.step(`Predicting ${opts.input} with ${runner.modelLabel}${earlier.rows.length ? ` (resuming: ${earlier.rows.length} already in ${opts.output})` : ''}`)
  try {
    await runEvaluationScript(runner, {
      args: ['predict', '--model-dir', runner.modelDir, '--data', input, '--top-k', String(opts.topK), '--skip', skipFile],
      env: ctx.deps.env,
      signal: ctx.signal,
      onStdout: (line) => {
        let row: PredictionRow
        try {
          row = JSON.parse(line) as PredictionRow
        } catch {
          ctx.ui.debug(line)
          return
        }
        rows.push(row)
        writer.add(row)
      },
      onProgress: (n, all) => {
        total = all
        if (all === 0) return
        bar ??= ctx.ui.progress('Predicting', all)
        bar.update(n, etaText(n, all, ctx.clock.now() - started))
      },
      onLog: (line) => ctx.ui.debug(line),
    })
  } finally {
    // Whatever finished is kept, even on Ctrl-C: the next run skips it.
    await writer.close()
    bar?.done()
    await rm(work, { recursive: true, force: true })
  }
  return done(predictResult(runner.modelLabel, input, output, format, earlier.rows, rows, earlier.rows.length + total, (ctx.clock.now() - started) / 1000))
}

/** The rows an earlier run left in the output (resume), refusing a different --top. */
async function earlierRows(output: string, format: PredictionsFormat, opts: PredictOptions): Promise<{ rows: PredictionRow[] }> {
  const earlier = await readPredictions(output, format)
  if (earlier.topK !== undefined && earlier.rows.length > 0 && earlier.topK !== opts.topK) {
    throw new UserError('ConflictingFlags', `--top ${opts.topK} differs from the ${earlier.topK} classes per row already in ${opts.output}.`, {
      hint: `Resume with --top ${earlier.topK}, or pass another -o.`,
    })
  }
  return earlier
}

function predictResult(
  model: string,
  input: string,
  output: string,
  format: PredictionsFormat,
  earlier: readonly PredictionRow[],
  rows: readonly PredictionRow[],
  images: number,
  seconds: number,
): PredictResult {
  const all = [...earlier, ...rows]
  const perClass = perClassAccuracy(all)
  const labelled = perClass.reduce((n, c) => n + c.images, 0)
  const correct = perClass.reduce((n, c) => n + c.correct, 0)
  return {
    model,
    input,
    output,
    format,
    images,
    predicted: rows.length,
    skipped: earlier.length,
    errors: all.filter((r) => r.error !== undefined).length,
    seconds: Math.round(seconds * 10) / 10,
    ...(labelled > 0 ? { accuracy: correct / labelled, perClass } : {}),
  }
}

/** Appends rows in groups as they come (FLUSH_ROWS or every second); `close` writes the rest. */
function rowWriter(ctx: CommandContext, output: string, format: PredictionsFormat, topK: number, isNew: boolean) {
  let pending: PredictionRow[] = []
  let writing: Promise<void> = appendPredictions(output, format, topK, [], isNew)
  let lastFlush = ctx.clock.now()
  const flush = () => {
    const batch = pending
    pending = []
    lastFlush = ctx.clock.now()
    writing = writing.then(() => appendPredictions(output, format, topK, batch, false))
  }
  return {
    add(row: PredictionRow) {
      pending.push(row)
      if (pending.length >= FLUSH_ROWS || ctx.clock.now() - lastFlush >= 1000) flush()
    },
    async close() {
      flush()
      await writing
    },
  }
}

/** `mlops predict <folder|s3://prefix> --endpoint|--lambda`: every image through the deployed model, resumable. */
async function runPredictRemote(
  ctx: CommandContext,
  opts: PredictOptions & { remote: NonNullable<PredictOptions['remote']> },
): Promise<Outcome<PredictResult>> {
  const source: ImageSource = parseImageSource(ctx.deps.cwd, opts.input, '<folder>')
  const output = resolveOutput(ctx.deps.cwd, opts.output)
  const format = predictionsFormat(opts.output)
  const { kind, concurrency } = opts.remote
  if (kind === 'lambda' && opts.topK > LAMBDA_MAX_TOP_K) {
    throw new UserError('InvalidFlag', `--top ${opts.topK}: the Lambda answers at most ${LAMBDA_MAX_TOP_K} classes per image.`, {
      hint: `Pass --top ${LAMBDA_MAX_TOP_K} or less, or use --endpoint (any number of classes).`,
    })
  }
  const target = await resolveTarget(ctx, kind, opts.remote.name)
  const model = kind === 'lambda' ? `Lambda ${target.name}` : `endpoint ${target.name}`
  const input = source.kind === 's3' ? opts.input : source.root
  if (ctx.dryRun) {
    const local = source.kind === 'folder' ? await listFolderImages(source.root) : undefined
    const count = local ? `once per image: ${local.length}, ${concurrency} at a time` : `once per image under the prefix, ${concurrency} at a time`
    return planned({
      title: `mlops predict ${opts.input} --${kind} ${target.name}`,
      operations: remoteOperations(target, source, opts.topK, count),
      notes: [
        local
          ? await costStatement(
              ctx,
              target,
              local.length,
              local.reduce((n, i) => n + i.size, 0),
              concurrency,
            )
          : 'The count of requests is known once the prefix is listed.',
        `Rows go to ${output}; files already there are skipped.`,
      ],
      details: { target, input, output, concurrency, ...(local ? { images: local.length } : {}) },
    })
  }
  const earlier = await earlierRows(output, format, opts)
  const isNew = !existsSync(output)
  const done_ = new Set(earlier.rows.map((r) => r.file))
  const all = source.kind === 's3' ? await listS3Images(ctx, source) : await listFolderImages(source.root)
  const items = all.filter((i) => !done_.has(i.file))
  ctx.ui.info(
    await costStatement(
      ctx,
      target,
      items.length,
      items.reduce((n, i) => n + i.size, 0),
      concurrency,
    ),
  )
  ctx.ui.step(`Predicting ${opts.input} with ${model}${earlier.rows.length ? ` (resuming: ${earlier.rows.length} already in ${opts.output})` : ''}`)
  const started = ctx.clock.now()
  const rows: PredictionRow[] = []
  const writer = rowWriter(ctx, output, format, opts.topK, isNew)
  try {
    await predictRemote(ctx, {
      target,
      source,
      items,
      topK: opts.topK,
      concurrency,
      progressLabel: 'Predicting',
      onRow: (r) => {
        const row: PredictionRow = {
          file: r.file,
          label: r.label,
          ...(r.error !== undefined
            ? { error: r.error }
            : { predictions: (r.predictions ?? []).map((p) => ({ label: p.label, index: p.index ?? -1, probability: p.probability })) }),
        }
        rows.push(row)
        writer.add(row)
      },
    })
    if (ctx.signal.aborted) throw new InterruptedError()
  } finally {
    // Whatever finished is kept, even on Ctrl-C or a failure: the next run skips it.
    await writer.close()
  }
  return done(predictResult(model, input, output, format, earlier.rows, rows, earlier.rows.length + items.length, (ctx.clock.now() - started) / 1000))
}
