import { formatUsd } from '../../shared/pricing.js'
import type { ChalkInstance } from 'chalk'
import { formatTable } from '../../shared/output.js'
import { errorCount } from './recommend.js'
import type { LevelSummary, LoadtestReport } from './types.js'

/** The people's view of a load test: a table, a small chart, and the recommendation. */

const BAR_WIDTH = 30

const ms = (v: number | null) => (v === null ? '-' : v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : String(Math.round(v)))

function errorsText(l: LevelSummary): string {
  const n = errorCount(l)
  if (n === 0) return '0'
  return `${n} (${Object.entries(l.errors)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ')})`
}

function bar(value: number, max: number): string {
  const n = max > 0 ? Math.round((value / max) * BAR_WIDTH) : 0
  return '█'.repeat(n) + (n === 0 && value > 0 ? '▏' : '')
}

/** Throughput and p99 per level as two bar columns, scaled to their largest value. Plain text. */
export function renderChart(levels: readonly LevelSummary[]): string {
  const maxRps = Math.max(0, ...levels.map((l) => l.rps))
  const maxP99 = Math.max(0, ...levels.map((l) => l.p99Ms ?? 0))
  const width = String(Math.max(...levels.map((l) => l.concurrency), 1)).length
  const lines = [`${' '.repeat(width + 2)}${'throughput (req/s)'.padEnd(BAR_WIDTH + 9)}p99 latency (ms)`]
  for (const l of levels) {
    const rps = `${bar(l.rps, maxRps).padEnd(BAR_WIDTH)} ${String(l.rps).padStart(7)}`
    lines.push(`c${String(l.concurrency).padStart(width)} ${rps}  ${bar(l.p99Ms ?? 0, maxP99).padEnd(BAR_WIDTH)} ${ms(l.p99Ms).padStart(7)}`)
  }
  return lines.join('\n')
}

export function renderLoadtest(r: LoadtestReport, c: ChalkInstance): string {
  const table = formatTable(
    ['Concurrency', 'Requests', 'Errors', 'Req/s', 'p50 ms', 'p95 ms', 'p99 ms'],
    r.levels.map((l) => [String(l.concurrency), String(l.requests), errorsText(l), String(l.rps), ms(l.p50Ms), ms(l.p95Ms), ms(l.p99Ms)]),
  )
  const rec = r.recommendation
  const lines = [c.bold(`Load test of ${r.target.kind} ${r.target.url ?? r.target.name}`), table, '', renderChart(r.levels), '']
  if (rec.maxRps > 0) {
    lines.push(
      c.bold('Recommendation'),
      `  max throughput within the SLO  ${rec.maxRps} requests/s`,
      `  endpoint target                ${rec.targetInvocationsPerInstance} invocations per instance per minute`,
      `  Lambda reserved concurrency    ${rec.lambdaReservedConcurrency}`,
      `  Lambda provisioned concurrency ${rec.lambdaProvisionedConcurrency}`,
    )
  } else lines.push(c.yellow('No recommendation: no level passed.'))
  lines.push(...rec.reasoning.map((line) => c.gray(`  ${line}`)))
  const cost = r.costPer1000
  if (cost) {
    lines.push(`  cost per 1,000 predictions     ${formatUsd(cost.usd ?? undefined)} (${cost.basis}, at the target)`)
    lines.push(...[...cost.arithmetic, ...(cost.notes ?? []), cost.priceSource].filter(Boolean).map((line) => c.gray(`  ${line}`)))
  }
  if (rec.maxRps > 0) lines.push(c.gray('Apply with `mlops scale --from-loadtest` (shows the before/after and the cost).'))
  return lines.join('\n')
}
