import { existsSync, statSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { etaText, EVALUATION_SCRIPT, runEvaluationScript } from './evaluation-script.js'
import type { ProgressBar } from '../../shared/output.js'
import type { Evaluation } from '../../shared/report/report-data.js'
import type { LocalModelRunner } from './types.js'

export interface EvaluateOptions {
  /** `test`, `valid` (data.localDir's split folders) or any labelled folder. @default 'test' */
  readonly split: string
  /** Where evaluation.json goes. @default .mlops/evaluate/<model>-<split>.json */
  readonly output?: string
  /** Requests in flight with --endpoint (evaluate-remote.ts). @default 4 */
  readonly concurrency?: number
}

export interface EvaluateResult {
  readonly model: string
  readonly split: string
  readonly folder: string
  readonly output: string
  readonly images: number
  readonly top1Accuracy: number
  readonly top5Accuracy: number
  /** Worst recall first. */
  readonly perClass: Evaluation['per_class']
  readonly worst: readonly { file: string; true: string; predicted: string; confidence: number }[]
  /** The evaluation train.py left for this model's test split, when there is one. */
  readonly training?: { readonly top1Accuracy: number; readonly differencePoints: number; readonly file: string }
  readonly seconds: number
}

/** The split's folder: data.localDir/<split> for test and valid, else the folder given. */
export async function splitFolder(ctx: CommandContext, split: string): Promise<string> {
  if (split === 'test' || split === 'valid') {
    const cfg = await ctx.config()
    const dir = path.join(ctx.resolvePath(cfg.data.localDir), split)
    if (!existsSync(dir)) {
      throw new UserError('SplitMissing', `--split ${split}: ${dir} does not exist.`, {
        hint: 'Point data.localDir at the dataset (train/, valid/, test/), or pass --split <folder>.',
      })
    }
    return dir
  }
  const dir = path.resolve(ctx.deps.cwd, split)
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError('InvalidFlag', `--split ${split} is neither test, valid nor a folder.`, {
      hint: 'For example: --split test, or --split ./more-dogs (one sub-folder per class)',
    })
  }
  return dir
}

export const safe = (s: string) =>
  path
    .basename(s)
    .replace(/\.tar\.gz$|\.tgz$/, '')
    .replace(/[^\w.-]+/g, '_') || 'model'

/** `mlops evaluate --local`: evaluation.py on the model and a labelled folder, through the one predictor. */
export async function runEvaluate(
  ctx: CommandContext,
  resolveRunner: () => Promise<LocalModelRunner>,
  opts: EvaluateOptions,
): Promise<Outcome<EvaluateResult>> {
  const folder = await splitFolder(ctx, opts.split)
  const splitName = opts.split === 'test' || opts.split === 'valid' ? opts.split : path.basename(folder)
  const chosen = opts.output ? path.resolve(ctx.deps.cwd, opts.output) : undefined
  // The model and Python are looked up (and Python probed) only once the flags are known to be good.
  const runner = await resolveRunner()
  const output = chosen ?? path.join(ctx.projectDir, '.mlops', 'evaluate', `${safe(runner.modelLabel)}-${safe(splitName)}.json`)
  if (ctx.dryRun) {
    return planned({
      title: `mlops evaluate --local (${splitName})`,
      operations: [],
      notes: [`Runs ${EVALUATION_SCRIPT} evaluate with ${runner.python} on ${runner.modelLabel} and ${folder}; writes ${output}.`, 'Nothing is sent to AWS.'],
      details: { local: true, model: runner.modelLabel, folder, output },
    })
  }
  await mkdir(path.dirname(output), { recursive: true })
  const started = ctx.clock.now()
  let bar: ProgressBar | undefined
  ctx.ui.step(`Evaluating ${runner.modelLabel} on ${folder}`)
  try {
    await runEvaluationScript(runner, {
      args: ['evaluate', '--model-dir', runner.modelDir, '--data', folder, '--split', splitName, '--output', output],
      env: ctx.deps.env,
      signal: ctx.signal,
      onProgress: (n, all) => {
        bar ??= ctx.ui.progress('Evaluating', all)
        bar.update(n, etaText(n, all, ctx.clock.now() - started))
      },
      onLog: (line) => ctx.ui.debug(line),
    })
  } finally {
    bar?.done()
  }
  const ev = JSON.parse(await readFile(output, 'utf8')) as Evaluation & { unknown_labels?: string[] }
  assertEvaluated(ev, folder)
  const training = splitName === 'test' ? await trainingEvaluation(ctx.projectDir, runner.modelLabel, ev.top1_accuracy) : undefined
  return done(evaluateResult(ev, { model: runner.modelLabel, split: splitName, folder, output, seconds: (ctx.clock.now() - started) / 1000, training }))
}

/** UserError when no image of the folder was labelled with one of the model's classes. */
export function assertEvaluated(ev: Evaluation & { unknown_labels?: string[] }, folder: string): void {
  if (ev.images > 0) return
  const unknown = ev.unknown_labels?.length ? ` (${ev.unknown_labels.slice(0, 3).join(', ')}, … are in folders the model has no class for)` : ''
  throw new UserError('NothingToEvaluate', `No image in ${folder} is labelled with one of the model's ${ev.classes.length} classes${unknown}.`, {
    hint: 'Evaluation needs a labelled folder: one sub-folder per class, named as in training (e.g. 001.Affenpinscher).',
  })
}

/** The result of either path from evaluation.json. */
export function evaluateResult(
  ev: Evaluation,
  o: { model: string; split: string; folder: string; output: string; seconds: number; training?: EvaluateResult['training'] },
): EvaluateResult {
  return {
    model: o.model,
    split: o.split,
    folder: o.folder,
    output: o.output,
    images: ev.images,
    top1Accuracy: ev.top1_accuracy,
    top5Accuracy: ev.top5_accuracy,
    perClass: [...ev.per_class].sort((a, b) => a.recall - b.recall || a.label.localeCompare(b.label)),
    worst: ev.worst.map(({ file, true: t, predicted, confidence }) => ({ file, true: t, predicted, confidence })),
    ...(o.training ? { training: o.training } : {}),
    seconds: Math.round(o.seconds * 10) / 10,
  }
}

/** The test evaluation a local training run left (`.mlops/local/<job>/output/data/evaluation.json`). */
async function trainingEvaluation(projectDir: string, label: string, top1: number): Promise<EvaluateResult['training']> {
  if (!/^[\w.-]+$/.test(label)) return undefined
  const file = path.join(projectDir, '.mlops', 'local', label, 'output', 'data', 'evaluation.json')
  if (!existsSync(file)) return undefined
  const first = JSON.parse(await readFile(file, 'utf8')) as Evaluation
  return { top1Accuracy: first.top1_accuracy, differencePoints: Math.round((top1 - first.top1_accuracy) * 1000) / 10, file }
}
