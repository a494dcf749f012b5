import { readFile } from 'node:fs/promises'
import type { EpochMetrics as ReportEpoch, Evaluation, RunData } from '../../shared/report/report-data.js'
import type { ComparedRun } from './types.js'

/**
 * A compared run as the report page shows it (shared/report/report-page.ts): `runs compare --html`
 * writes the same page `mlops report` does, one column per run. The per-epoch curves come from what
 * `runs compare` read (metrics.json, or the job's metric lines in CloudWatch Logs); the evaluation
 * section from the run's evaluation.json when it has one.
 */
export async function comparedRunPage(c: ComparedRun): Promise<RunData> {
  const r = c.run
  const history: ReportEpoch[] = c.epochs
    .filter((e) => typeof e.epoch === 'number')
    .map((e) => ({
      epoch: e.epoch,
      train_loss: e.train_loss ?? Number.NaN,
      val_loss: e.val_loss ?? Number.NaN,
      val_accuracy: e.val_accuracy ?? Number.NaN,
      ...(e.images_per_sec !== undefined ? { images_per_sec: e.images_per_sec } : {}),
    }))
  const evaluation = c.evaluationFile ? await evaluationIn(c.evaluationFile) : undefined
  return {
    name: r.name,
    where: r.where,
    ...(r.startedAt ? { startedAt: r.startedAt } : {}),
    ...(r.durationSeconds !== undefined ? { durationSeconds: r.durationSeconds } : {}),
    instances: r.instanceCount ?? 1,
    instanceType: r.instanceType ?? (r.where === 'local' ? 'local' : 'unknown'),
    ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
    ...(r.where === 'sagemaker' && r.billableSeconds !== undefined ? { costBasis: `${r.billableSeconds} billable seconds × ${r.instanceCount ?? 1}` } : {}),
    hyperparameters: Object.fromEntries(Object.entries(r.hyperparameters).map(([k, v]) => [k, String(v)])),
    metrics: r.metrics,
    history,
    ...(evaluation ? { evaluation } : {}),
  }
}

/** The whole evaluation.json, when it has what the page draws (the confusion matrix and per-class rows). */
async function evaluationIn(file: string): Promise<Evaluation | undefined> {
  try {
    const ev = JSON.parse(await readFile(file, 'utf8')) as Partial<Evaluation>
    return Array.isArray(ev.confusion) && Array.isArray(ev.per_class) && Array.isArray(ev.classes) ? (ev as Evaluation) : undefined
  } catch {
    return undefined
  }
}
