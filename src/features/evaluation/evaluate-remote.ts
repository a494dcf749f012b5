import { mkdir, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { InterruptedError, UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { assertEvaluated, evaluateResult, safe, splitFolder, type EvaluateOptions, type EvaluateResult } from './evaluate.js'
import { costStatement, EVERY_CLASS, listFolderImages, predictRemote, remoteOperations, resolveTarget } from './remote.js'
import { classesFromAnswers, DEFAULT_WORST, summarizeRows, type ScoredRow } from './summary.js'

/** Requests in flight at once when --concurrency is not given. */
export const DEFAULT_CONCURRENCY = 4

/**
 * `mlops evaluate --endpoint`: every image of the split through the deployed endpoint, asking for
 * every class (the answer names the model's classes and the true class's probability), then the
 * same evaluation.json the local path and train.py write (summary.ts, checked against evaluation.py).
 */
export async function runEvaluateRemote(ctx: CommandContext, opts: EvaluateOptions & { readonly endpoint: string | true }): Promise<Outcome<EvaluateResult>> {
  const folder = await splitFolder(ctx, opts.split)
  const splitName = opts.split === 'test' || opts.split === 'valid' ? opts.split : path.basename(folder)
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY
  const target = await resolveTarget(ctx, 'endpoint', opts.endpoint)
  const output = opts.output
    ? path.resolve(ctx.deps.cwd, opts.output)
    : path.join(ctx.projectDir, '.mlops', 'evaluate', `${safe(target.name)}-${safe(splitName)}.json`)
  const items = await listFolderImages(folder)
  if (items.length === 0) {
    throw new UserError('NothingToEvaluate', `--split ${opts.split}: ${folder} has no images (.jpg, .png, ...).`, {
      hint: 'Evaluation needs a labelled folder: one sub-folder per class, named as in training (e.g. 001.Affenpinscher).',
    })
  }
  const bytes = items.reduce((n, i) => n + i.size, 0)
  const cost = await costStatement(ctx, target, items.length, bytes, concurrency)
  const model = `endpoint ${target.name}`
  if (ctx.dryRun) {
    return planned({
      title: `mlops evaluate --endpoint ${target.name} (${splitName})`,
      operations: remoteOperations(target, { kind: 'folder', root: folder }, EVERY_CLASS, `once per image: ${items.length}, ${concurrency} at a time`),
      notes: [cost, `Writes ${output}.`],
      details: { target, folder, output, images: items.length, concurrency },
    })
  }
  ctx.ui.info(cost)
  const started = ctx.clock.now()
  const rows: ScoredRow[] = []
  ctx.ui.step(`Evaluating ${model} on ${folder}`)
  await predictRemote(ctx, {
    target,
    source: { kind: 'folder', root: folder },
    items,
    topK: EVERY_CLASS,
    concurrency,
    keepBytes: true,
    progressLabel: 'Evaluating',
    // Only a wrong answer can be among the worst files: the others' bytes are not kept.
    onRow: (row) => rows.push(row.bytes && row.predictions?.[0]?.label === row.label ? { ...row, bytes: undefined } : row),
  })
  if (ctx.signal.aborted) throw new InterruptedError()
  rows.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
  const ev = { ...summarizeRows(rows, classesFromAnswers(rows), DEFAULT_WORST, splitName), seconds: (ctx.clock.now() - started) / 1000 }
  assertEvaluated(ev, folder)
  // Write then rename, as evaluation.py does: a reader never sees half a file.
  await mkdir(path.dirname(output), { recursive: true })
  await writeFile(`${output}.tmp`, JSON.stringify(ev, null, 1) + '\n')
  await rename(`${output}.tmp`, output)
  return done(evaluateResult(ev, { model, split: splitName, folder, output, seconds: ev.seconds }))
}
