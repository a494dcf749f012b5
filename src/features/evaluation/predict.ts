import { existsSync, statSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
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

export interface PredictOptions {
  /** The folder of images (labelled when it has one sub-folder per class). */
  readonly input: string
  /** -o: predictions.csv or .jsonl. @default 'predictions.csv' */
  readonly output: string
  /** Classes per file. @default 5 */
  readonly topK: number
}

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
  const input = path.resolve(ctx.deps.cwd, opts.input)
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
  const earlier = await readPredictions(output, format)
  if (earlier.topK !== undefined && earlier.rows.length > 0 && earlier.topK !== opts.topK) {
    throw new UserError('ConflictingFlags', `--top ${opts.topK} differs from the ${earlier.topK} classes per row already in ${opts.output}.`, {
      hint: `Resume with --top ${earlier.topK}, or pass another -o.`,
    })
  }
  const isNew = !existsSync(output)
  const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-predict-'))
  const skipFile = path.join(work, 'skip.txt')
  await writeFile(skipFile, earlier.rows.map((r) => r.file).join('\n') + '\n')
  const started = ctx.clock.now()
  const rows: PredictionRow[] = []
  let pending: PredictionRow[] = []
  let writing: Promise<void> = appendPredictions(output, format, opts.topK, [], isNew)
  let lastFlush = started
  const flush = () => {
    const batch = pending
    pending = []
    lastFlush = ctx.clock.now()
    writing = writing.then(() => appendPredictions(output, format, opts.topK, batch, false))
  }
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
        pending.push(row)
        if (pending.length >= FLUSH_ROWS || ctx.clock.now() - lastFlush >= 1000) flush()
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
    flush()
    await writing
    bar?.done()
    await rm(work, { recursive: true, force: true })
  }
  const all = [...earlier.rows, ...rows]
  const perClass = perClassAccuracy(all)
  const labelled = perClass.reduce((n, c) => n + c.images, 0)
  const correct = perClass.reduce((n, c) => n + c.correct, 0)
  return done({
    model: runner.modelLabel,
    input,
    output,
    format,
    images: earlier.rows.length + total,
    predicted: rows.length,
    skipped: earlier.rows.length,
    errors: all.filter((r) => r.error !== undefined).length,
    seconds: Math.round((ctx.clock.now() - started) / 100) / 10,
    ...(labelled > 0 ? { accuracy: correct / labelled, perClass } : {}),
  })
}
