import { describe, expect, it } from 'vitest'
import { costPer1000, type CostInputs } from '../../src/features/capacity/cost.js'
import { recommend } from '../../src/features/capacity/recommend.js'
import type { LevelSummary } from '../../src/features/capacity/types.js'

/** The cost per 1,000 predictions at the recommended target (issue 30 item 3): the arithmetic, pinned. */

const LEVELS: LevelSummary[] = [
  { concurrency: 1, requests: 400, errors: {}, rps: 10, p50Ms: 100, p95Ms: 110, p99Ms: 120 },
  { concurrency: 4, requests: 1600, errors: {}, rps: 40, p50Ms: 100, p95Ms: 140, p99Ms: 150 },
  { concurrency: 8, requests: 1800, errors: { '503': 3 }, rps: 45, p50Ms: 170, p95Ms: 400, p99Ms: 900 },
]
const base = (over: Partial<CostInputs>): CostInputs => ({
  target: 'endpoint',
  levels: LEVELS,
  recommendation: recommend(LEVELS, 500),
  serving: { kind: 'instance', instanceType: 'ml.c5.xlarge', instanceCount: 1 },
  hourly: 0.204,
  priceSource: 'price list 2026-12-01 (us-east-1)',
  payloadBytes: 100_000,
  ...over,
})

describe('cost per 1,000 predictions', () => {
  it('instances: the endpoint hourly price over the predictions an hour at the target (maxRps x 0.5 x 3600)', () => {
    // maxRps 40 (concurrency 8 had errors): 40 x 0.5 x 3600 = 72,000 an hour; $0.204 / 72,000 x 1000.
    const cost = costPer1000(base({}))!
    expect(cost.usd).toBe(0.002833)
    expect(cost.basis).toBe('instance')
    expect(cost.priceSource).toBe('price list 2026-12-01 (us-east-1)')
    expect(cost.arithmetic).toEqual([
      '1 x ml.c5.xlarge at $0.204/hour = $0.204/hour, answering 40 x 0.5 x 3600 = 72000 predictions/hour at the target: $0.204 / 72000 x 1000 = $0.002833.',
    ])
    // Two instances measured together answered the same 40 requests/s: twice the price per prediction.
    expect(costPer1000(base({ serving: { kind: 'instance', instanceType: 'ml.c5.xlarge', instanceCount: 2 } }))!.usd).toBe(0.005667)
  })

  it('serverless: memory x p50 duration x the GB-second price, plus data in and out', () => {
    // 2 GB x 0.1 s x $0.00002 = $0.000004 a request; (100,000 + 1,024) bytes x $0.016/GB = $0.0000016164.
    const cost = costPer1000(base({ serving: { kind: 'serverless', memoryMb: 2048, maxConcurrency: 5 }, hourly: undefined }))!
    expect(cost.usd).toBe(0.005616)
    expect(cost.basis).toBe('serverless')
    expect(cost.priceSource).toBe('SageMaker Serverless Inference list price, us-east-1 (built in)')
    expect(cost.notes).toEqual(['Duration is the measured p50, network included, so it errs high.'])
  })

  it('through the Lambda: its duration and request price on top of the endpoint', () => {
    // Endpoint as above ($0.002833) + (0.25 GB x 0.1 s x $0.0000133334 + $0.0000002) x 1000 = $0.000533.
    const cost = costPer1000(base({ target: 'lambda', lambda: { memoryMb: 256, architecture: 'arm64' } }))!
    expect(cost.basis).toBe('lambda+instance')
    expect(cost.usd).toBe(0.003367)
    expect(cost.arithmetic).toHaveLength(2)
  })

  it('an unknown price is null, not a guess; a local measurement says what it stands for', () => {
    expect(costPer1000(base({ hourly: undefined }))!.usd).toBeNull()
    expect(costPer1000(base({ target: 'local' }))!.notes?.[0]).toMatch(/^Measured on this machine, not on the endpoint/)
  })

  it('no usable level: no figure', () => {
    const failing = [{ ...LEVELS[2] }]
    expect(costPer1000(base({ levels: failing, recommendation: recommend(failing, 500) }))).toBeUndefined()
  })
})
