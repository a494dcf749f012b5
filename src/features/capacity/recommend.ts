import type { LevelMeasurement } from './runner.js'
import type { Recommendation } from '../../shared/loadtest-file.js'
import type { LevelSummary } from './types.js'

/**
 * From measurements to settings. AWS's starting point for SageMaker target tracking is
 * SageMakerVariantInvocationsPerInstance = max requests/s x 0.5 (safety factor) x 60 (it counts per
 * minute). Lambda concurrency follows Little's law: executions busy = arrival rate x time each takes.
 */

/** AWS's safety factor for the invocations-per-instance target. */
export const SAFETY_FACTOR = 0.5
/** Reserved concurrency gets this much more than p99 latency at peak needs. */
export const RESERVED_HEADROOM = 1.5

const round2 = (n: number) => Math.round(n * 100) / 100

/** One level as reported: counts, throughput, and percentiles of the successful requests (null when none succeeded). */
export function summarizeLevel(m: LevelMeasurement): LevelSummary {
  const completed = m.requests - (m.errors.unsent ?? 0)
  const pct = (q: number) => {
    const v = m.histogram.percentile(q)
    return v === undefined ? null : round2(v)
  }
  return {
    concurrency: m.concurrency,
    requests: m.requests,
    errors: { ...m.errors },
    rps: m.elapsedMs > 0 ? round2((completed * 1000) / m.elapsedMs) : 0,
    p50Ms: pct(0.5),
    p95Ms: pct(0.95),
    p99Ms: pct(0.99),
  }
}

export const errorCount = (l: Pick<LevelSummary, 'errors'>): number => Object.values(l.errors).reduce((a, b) => a + b, 0)

/**
 * maxRps: the highest throughput of a level with no errors and p99 within the SLO. The Lambda
 * numbers use that level's latency at `peakRps` (default maxRps).
 */
export function recommend(levels: readonly LevelSummary[], sloMs: number, peakRps?: number): Recommendation {
  const passing = levels.filter((l) => l.requests > 0 && errorCount(l) === 0 && l.p99Ms !== null && l.p99Ms <= sloMs)
  const failing = levels.filter((l) => !passing.includes(l)).map((l) => `${l.concurrency} (${whyFailed(l)})`)
  const best = passing.reduce<LevelSummary | undefined>((a, l) => (!a || l.rps > a.rps ? l : a), undefined)
  if (!best) {
    return {
      maxRps: 0,
      targetInvocationsPerInstance: 0,
      lambdaReservedConcurrency: 0,
      lambdaProvisionedConcurrency: 0,
      reasoning: [
        `No level ran without errors and with p99 within the ${sloMs} ms SLO${failing.length ? `: concurrency ${failing.join(', ')}` : ''}.`,
        'Nothing to recommend: fix the errors, or allow a larger --slo, and run the load test again.',
      ],
    }
  }
  const maxRps = best.rps
  const target = Math.floor(maxRps * SAFETY_FACTOR * 60)
  const peak = peakRps ?? maxRps
  const p50s = best.p50Ms! / 1000
  const p99s = best.p99Ms! / 1000
  const provisioned = Math.max(1, Math.ceil(round2(peak * p50s)))
  const reserved = Math.max(provisioned, Math.ceil(round2(peak * p99s * RESERVED_HEADROOM)))
  return {
    maxRps,
    targetInvocationsPerInstance: target,
    lambdaReservedConcurrency: reserved,
    lambdaProvisionedConcurrency: provisioned,
    reasoning: [
      `maxRps ${maxRps}: concurrency ${best.concurrency} was the fastest level with no errors and p99 ${best.p99Ms} ms within the ${sloMs} ms SLO` +
        (failing.length ? `; not counted: concurrency ${failing.join(', ')}.` : '.'),
      `targetInvocationsPerInstance = floor(${maxRps} x ${SAFETY_FACTOR} x 60) = ${target} invocations per instance per minute (AWS's safety factor 0.5; measured against the whole endpoint, so divide by its instance count if it had more than one).`,
      `Lambda by Little's law at ${peak} requests/s${peakRps === undefined ? ' (maxRps; set --peak-rps for your expected peak)' : ' (--peak-rps)'}: provisioned = ceil(${peak} x ${round2(p50s)} s p50) = ${provisioned}; reserved = ceil(${peak} x ${round2(p99s)} s p99 x ${RESERVED_HEADROOM} headroom) = ${reserved}.`,
      'The Lambda adds its own overhead to the endpoint latency; a load test with --lambda measures it.',
    ],
  }
}

function whyFailed(l: LevelSummary): string {
  const n = errorCount(l)
  if (l.requests === 0) return 'no requests'
  if (n > 0)
    return `${n} error${n === 1 ? '' : 's'}: ${Object.entries(l.errors)
      .map(([k, v]) => `${k} x${v}`)
      .join(', ')}`
  return l.p99Ms === null ? 'no answers' : `p99 ${l.p99Ms} ms over the SLO`
}
