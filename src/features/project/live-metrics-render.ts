import type { ChalkInstance } from 'chalk'
import { formatTable } from '../../shared/output.js'
import { sparkline } from '../../shared/sparkline.js'
import type { MetricSeries, MetricsResult } from './live-metrics.js'

/** The human rendering of `status --metrics`: a row per series with its sparkline, then the comparisons. */

const SPARK_WIDTH = 30

function figure(s: MetricSeries, v: number | null): string {
  if (v === null) return '-'
  const n = v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10)
  return s.unit === 'ms' ? `${n} ms` : s.unit === 'percent' ? `${n}%` : n
}

function rows(series: readonly MetricSeries[]): string[][] {
  return series.map((s) => [
    s.label,
    s.unit === 'count' ? `${figure(s, s.total)} total` : `${figure(s, s.values.at(-1) ?? null)} last`,
    `${figure(s, s.peak)} peak`,
    s.values.length ? sparkline(s.values, SPARK_WIDTH) : 'no data',
  ])
}

export function renderMetrics(r: MetricsResult, c: ChalkInstance): string {
  const minutes = Math.round((Date.parse(r.until) - Date.parse(r.since)) / 60_000)
  const lines = [c.bold(`mlops status --metrics: project ${r.project} in ${r.region}, last ${minutes} min (${r.periodSeconds} s points)`), '']
  if (!r.endpoint.exists) lines.push(`Endpoint ${r.endpoint.name}: not found in ${r.region}.`)
  else {
    const count = r.endpoint.currentInstanceCount !== undefined ? `, ${r.endpoint.currentInstanceCount} instance(s) now` : ''
    lines.push(c.bold(`Endpoint ${r.endpoint.name}`) + ` (${r.endpoint.status ?? 'unknown'}, variant ${r.endpoint.variant}${count})`)
    lines.push(formatTable(['series', 'window', 'peak', 'trend'], rows(r.endpoint.series)))
  }
  lines.push('', c.bold(`Lambda ${r.lambda.name}`))
  if (r.lambda.series.every((s) => s.values.length === 0)) lines.push('No data in the window (not called, or no such function).')
  else lines.push(formatTable(['series', 'window', 'peak', 'trend'], rows(r.lambda.series)))
  lines.push('')
  if (r.comparisons.length === 0) {
    lines.push(
      c.gray(r.loadtest ? 'Nothing to compare: no scaling target and no usable load test level.' : 'No load test to compare with: run `mlops loadtest`.'),
    )
  }
  for (const cmp of r.comparisons) lines.push(`${cmp.above ? c.yellow('▲') : c.green('•')} ${cmp.text}`)
  return lines.join('\n')
}
