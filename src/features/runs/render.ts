import type { ChalkInstance } from 'chalk'
import { formatDuration } from '../../shared/duration.js'
import { formatTable } from '../../shared/output.js'
import { formatUsd } from '../../shared/pricing.js'
import { sparkline } from '../../shared/sparkline.js'
import type { ComparedRun, RunComparison, RunSummary, RunsResult } from './types.js'

/** Human text for `mlops runs` and `mlops runs compare`. Pure: data in, text out. */

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`)
const num = (v: number | undefined) => (v === undefined ? '-' : Number.isInteger(v) ? String(v) : v.toFixed(4))

function where(r: RunSummary): string {
  if (r.where === 'local') return `local${r.instanceCount && r.instanceCount > 1 ? ` ${r.instanceCount} hosts` : ''}`
  return r.kind === 'tuning' ? 'sagemaker tuning' : 'sagemaker'
}

function instances(r: RunSummary): string {
  if (r.where === 'local') return 'this machine'
  return r.instanceType ? `${r.instanceCount ?? 1} x ${r.instanceType}` : '-'
}

function spot(r: RunSummary): string {
  if (!r.spot) return 'no'
  return r.spotSavings !== undefined ? `yes, saved ${Math.round(r.spotSavings * 100)}%` : 'yes'
}

/** `2026-11-22 10:30` (UTC). */
const when = (iso: string | undefined) => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '-')

export function renderRuns(r: RunsResult, c: ChalkInstance): string {
  const lines = [c.bold(`mlops runs: project ${r.project} (${r.region} and .mlops/local)`), '']
  if (r.runs.length === 0) {
    lines.push('No runs yet: no SageMaker job tagged for this project and no folder in .mlops/local.')
    return lines.join('\n')
  }
  const hp = r.differingHyperparameters
  const rows = r.runs.map((run) => [
    run.name,
    where(run),
    run.status,
    when(run.startedAt),
    run.durationSeconds !== undefined ? formatDuration(run.durationSeconds) : '-',
    instances(run),
    spot(run),
    ...hp.map((k) => (k in run.hyperparameters ? String(run.hyperparameters[k]) : '-')),
    pct(run.metrics.val_accuracy),
    pct(run.metrics.test_accuracy),
    run.where === 'local' ? 'free' : formatUsd(run.costUsd),
  ])
  lines.push(formatTable(['run', 'where', 'status', 'start (UTC)', 'duration', 'instances', 'spot', ...hp, 'val acc', 'test acc', 'cost'], rows))
  lines.push('')
  const shown = r.runs.length < r.total ? `${r.runs.length} of ${r.total} runs` : `${r.total} run${r.total === 1 ? '' : 's'}`
  lines.push(
    `${shown}, sorted by ${r.sortedBy === 'start' ? 'start, newest first' : r.sortedBy}.${hp.length ? '' : ' No hyperparameter differs between them.'}`,
  )
  lines.push(c.gray(r.priceNote))
  const first = r.runs.find((x) => x.consoleUrl)
  if (first) lines.push(c.gray(`Console (${first.name}): ${first.consoleUrl}`))
  return lines.join('\n')
}

function runLine(label: string, x: ComparedRun): string {
  const r = x.run
  const parts = [
    `${r.where}`,
    r.status,
    instances(r),
    r.durationSeconds !== undefined ? formatDuration(r.durationSeconds) : undefined,
    r.spot ? spot(r) : undefined,
  ]
  return `  ${label}  ${r.name} (${parts.filter(Boolean).join(', ')})`
}

function epochTable(label: string, x: ComparedRun): string[] {
  if (x.epochs.length === 0) return [`  ${label}  no per-epoch metrics (${x.run.where === 'local' ? 'no metrics.json' : 'no metric lines in CloudWatch Logs'})`]
  const acc = x.epochs.map((e) => e.val_accuracy ?? null)
  const loss = x.epochs.map((e) => e.val_loss ?? null)
  return [
    `  ${label}  val_accuracy ${sparkline(acc, 40)}  ${pct(acc.at(-1) ?? undefined)} after ${x.epochs.length} epochs (${x.epochsSource})`,
    `      val_loss     ${sparkline(loss, 40)}  ${num(loss.at(-1) ?? undefined)}`,
  ]
}

export function renderRunsCompare(r: RunComparison, c: ChalkInstance): string {
  const lines = [c.bold('mlops runs compare'), runLine('a', r.a), runLine('b', r.b), '']
  lines.push(c.bold('Hyperparameters that differ'))
  if (r.hyperparameters.length === 0) lines.push('  none: both runs were given the same values')
  else
    lines.push(
      indent(
        formatTable(
          ['name', 'a', 'b'],
          r.hyperparameters.map((h) => [h.name, h.a === undefined ? '(unset)' : String(h.a), h.b === undefined ? '(unset)' : String(h.b)]),
        ),
      ),
    )
  lines.push('', c.bold('Final metrics'))
  if (r.metrics.length === 0) lines.push('  none reported')
  else
    lines.push(
      indent(
        formatTable(
          ['metric', 'a', 'b', 'b - a'],
          r.metrics.map((m) => [m.name, num(m.a), num(m.b), m.delta === undefined ? '-' : signed(m.delta)]),
        ),
      ),
    )
  lines.push('', c.bold('Per epoch'), ...epochTable('a', r.a), ...epochTable('b', r.b))
  lines.push('', c.bold('Per class (evaluation.json)'))
  if (r.perClass.length) {
    const top = r.perClass.slice(0, 10)
    lines.push(
      indent(
        formatTable(
          ['class', 'a', 'b', 'b - a'],
          top.map((p) => [p.name, pct(p.a), pct(p.b), signed(p.delta * 100, ' pts')]),
        ),
      ),
    )
    if (r.perClass.length > top.length) lines.push(`  … ${r.perClass.length - top.length} more classes (--json has them all)`)
  } else {
    const missing = [r.a, r.b].filter((x) => !x.perClass).map((x) => x.run.name)
    lines.push(
      `  not compared: no evaluation.json for ${missing.join(' and ')}${[r.a, r.b].some((x) => x.run.where === 'sagemaker') ? ' (a SageMaker run keeps it in its output.tar.gz)' : ''}`,
    )
  }
  lines.push(
    '',
    c.bold('Cost'),
    `  a ${formatUsd(r.cost.a)}   b ${formatUsd(r.cost.b)}${r.cost.delta !== undefined ? `   b - a ${signed(r.cost.delta, '', 4)}` : ''}`,
  )
  lines.push(c.gray(r.priceNote))
  if (r.html) lines.push('', `${c.green('✔')} Wrote ${r.html.file} (${r.html.charts} charts): both runs side by side, as mlops report draws one`)
  return lines.join('\n')
}

function signed(v: number, unit = '', digits = 4): string {
  const text = unit ? Math.abs(v).toFixed(1) : Number.isInteger(v) ? String(Math.abs(v)) : Math.abs(v).toFixed(digits)
  return `${v > 0 ? '+' : v < 0 ? '-' : '±'}${text}${unit}`
}

const indent = (text: string) =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')
