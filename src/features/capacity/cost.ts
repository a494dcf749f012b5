import type { VariantSpec } from '../../shared/endpoint-variant.js'
import type { Recommendation } from '../../shared/loadtest-file.js'
import { LAMBDA_GB_SECOND, LAMBDA_REQUEST, SERVERLESS_INFERENCE_DATA_GB, SERVERLESS_INFERENCE_GB_SECOND } from '../../shared/pricing.js'
import { SAFETY_FACTOR } from './recommend.js'
import type { CostPer1000, LevelSummary, TargetKind } from './types.js'

/**
 * What 1,000 predictions cost at the recommended scaling target, so the choice between instance
 * types and serverless is a number. An instance endpoint bills by the hour whether busy or not: at the
 * target it answers maxRps x 0.5 requests/s (the safety factor keeps it below saturation), so a
 * prediction costs the endpoint's hourly price over that many an hour. Serverless and Lambda bill the
 * time each request takes at their memory size, taken here as the measured p50 (which includes the
 * network, so it errs high).
 */

/** Roughly what a top-5 JSON answer weighs; serverless bills data out as well as in. */
export const RESPONSE_BYTES_ESTIMATE = 1024

export interface CostInputs {
  readonly target: TargetKind
  readonly levels: readonly LevelSummary[]
  readonly recommendation: Recommendation
  /** What the endpoint serves on (the deployed variant, or the config's for --local). */
  readonly serving: VariantSpec
  /** USD per hour of one instance of `serving` (instance variants); undefined: price unknown. */
  readonly hourly?: number
  /** Where `hourly` came from ("price list 2026-12-01 (us-east-1)", "built-in table ..."). */
  readonly priceSource: string
  readonly payloadBytes: number
  /** The function in front (target 'lambda'). */
  readonly lambda?: { readonly memoryMb: number; readonly architecture: 'arm64' | 'x86_64' }
}

const round6 = (n: number) => Math.round(n * 1e6) / 1e6

/** The cost per 1,000 predictions, or undefined when the load test found no usable level. */
export function costPer1000(i: CostInputs): CostPer1000 | undefined {
  const rec = i.recommendation
  const best = i.levels.find((l) => l.rps === rec.maxRps && l.p50Ms !== null)
  if (rec.maxRps <= 0 || !best) return undefined
  const p50s = best.p50Ms! / 1000
  const arithmetic: string[] = []
  let usd: number | null
  if (i.serving.kind === 'instance') {
    const perHour = rec.maxRps * SAFETY_FACTOR * 3600
    if (i.hourly === undefined) {
      usd = null
      arithmetic.push(`${i.serving.instanceType}: price unknown, so no cost per 1,000 predictions.`)
    } else {
      const endpointHourly = i.hourly * i.serving.instanceCount
      usd = (endpointHourly / perHour) * 1000
      arithmetic.push(
        `${i.serving.instanceCount} x ${i.serving.instanceType} at $${i.hourly}/hour = $${round6(endpointHourly)}/hour, answering ` +
          `${rec.maxRps} x ${SAFETY_FACTOR} x 3600 = ${Math.round(perHour)} predictions/hour at the target: ` +
          `$${round6(endpointHourly)} / ${Math.round(perHour)} x 1000 = $${round6(usd)}.`,
      )
    }
  } else {
    const gb = i.serving.memoryMb / 1024
    const compute = gb * p50s * SERVERLESS_INFERENCE_GB_SECOND
    const data = ((i.payloadBytes + RESPONSE_BYTES_ESTIMATE) / 1e9) * SERVERLESS_INFERENCE_DATA_GB
    usd = (compute + data) * 1000
    arithmetic.push(
      `serverless ${i.serving.memoryMb} MB: ${round6(gb)} GB x ${p50s} s p50 x $${SERVERLESS_INFERENCE_GB_SECOND}/GB-s + ` +
        `${i.payloadBytes + RESPONSE_BYTES_ESTIMATE} bytes in and out x $${SERVERLESS_INFERENCE_DATA_GB}/GB, x 1000 = $${round6(usd)}.`,
    )
  }
  if (i.lambda && usd !== null) {
    const gb = i.lambda.memoryMb / 1024
    const fn = (gb * p50s * LAMBDA_GB_SECOND[i.lambda.architecture] + LAMBDA_REQUEST) * 1000
    arithmetic.push(
      `Lambda ${i.lambda.memoryMb} MB ${i.lambda.architecture}: (${round6(gb)} GB x ${p50s} s x $${LAMBDA_GB_SECOND[i.lambda.architecture]}/GB-s + ` +
        `$${LAMBDA_REQUEST} a request) x 1000 = $${round6(fn)} on top.`,
    )
    usd += fn
  }
  const notes: string[] = []
  if (i.target === 'local')
    notes.push(
      'Measured on this machine, not on the endpoint: the figure is what the endpoint would cost if one instance answered as fast as this machine did.',
    )
  if (i.serving.kind !== 'instance' || i.lambda) notes.push('Duration is the measured p50, network included, so it errs high.')
  return {
    usd: usd === null ? null : round6(usd),
    basis: `${i.lambda ? 'lambda+' : ''}${i.serving.kind}`,
    serving: i.serving,
    priceSource: i.serving.kind === 'instance' ? i.priceSource : 'SageMaker Serverless Inference list price, us-east-1 (built in)',
    arithmetic,
    ...(notes.length ? { notes } : {}),
  }
}
