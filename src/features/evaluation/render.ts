import type { ChalkInstance } from 'chalk'
import { formatTable } from '../../shared/output.js'
import type { EvaluateResult } from './evaluate.js'
import type { PredictResult } from './predict.js'
import type { ReportResult } from './run-report.js'

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const SHOWN = 10

export function renderEvaluate(r: EvaluateResult, c: ChalkInstance): string {
  const lines = [`${c.green('✔')} ${r.model} on ${r.split} (${r.images} images): top-1 ${pct(r.top1Accuracy)}, top-5 ${pct(r.top5Accuracy)} in ${r.seconds} s`]
  if (r.training) {
    const sign = r.training.differencePoints >= 0 ? '+' : ''
    lines.push(`  training  top-1 ${pct(r.training.top1Accuracy)} at the end of training (${sign}${r.training.differencePoints} points)`)
  }
  lines.push('', `Worst classes (of ${r.perClass.length}, lowest recall first):`)
  lines.push(
    formatTable(
      ['class', 'recall', 'precision', 'support'],
      r.perClass.slice(0, SHOWN).map((p) => [p.label, pct(p.recall), pct(p.precision), String(p.support)]),
    ),
  )
  if (r.worst.length) {
    lines.push('', 'Most wrongly classified files:')
    lines.push(
      formatTable(
        ['file', 'true', 'predicted', 'confidence'],
        r.worst.slice(0, SHOWN).map((w) => [w.file, w.true, w.predicted, pct(w.confidence)]),
      ),
    )
  }
  lines.push('', `  saved     ${r.output}`, `  next      mlops report            (curves, confusion matrix and these numbers in one HTML page)`)
  return lines.join('\n')
}

export function renderPredict(r: PredictResult, c: ChalkInstance): string {
  const lines = [
    `${c.green('✔')} ${r.predicted} image${r.predicted === 1 ? '' : 's'} predicted in ${r.seconds} s${r.skipped ? `, ${r.skipped} already in the file (skipped)` : ''}${r.errors ? `, ${r.errors} unreadable` : ''}`,
    `  output    ${r.output}`,
  ]
  if (r.accuracy !== undefined && r.perClass) {
    lines.push(`  accuracy  ${pct(r.accuracy)} top-1 over the labelled folders`, '', 'Per class (worst first):')
    lines.push(
      formatTable(
        ['class', 'accuracy', 'correct', 'images'],
        r.perClass.slice(0, SHOWN).map((p) => [p.label, pct(p.accuracy), String(p.correct), String(p.images)]),
      ),
    )
    if (r.perClass.length > SHOWN) lines.push(`  … ${r.perClass.length - SHOWN} more in --json`)
  }
  return lines.join('\n')
}

export function renderReport(r: ReportResult, c: ChalkInstance): string {
  const missing = [!r.sections.evaluation && 'no evaluation.json', !r.sections.loadtest && 'no load test', !r.sections.audit && 'no audit'].filter(Boolean)
  return [
    `${c.green('✔')} Report of ${r.runs.join(' vs ')}: ${r.output} (${Math.round(r.bytes / 1024)} KB, ${r.charts} charts${missing.length ? `; ${missing.join(', ')}` : ''})`,
    `  open      file://${r.output}`,
  ].join('\n')
}
