import { describe, expect, it } from 'vitest'
import { LatencyHistogram, MAX_RELATIVE_ERROR } from '../../src/features/capacity/histogram.js'
import { recommend, summarizeLevel } from '../../src/features/capacity/recommend.js'
import { runLevel, runLevels, type Sender } from '../../src/features/capacity/runner.js'
import type { LevelSummary } from '../../src/features/capacity/types.js'
import type { Clock } from '../../src/shared/clock.js'

/**
 * A discrete-event clock: sleep() schedules a timer, and drive() fires timers in time order once
 * every pending promise has settled, so concurrent requests overlap in virtual time as they would
 * in real time, and a test of 10 virtual seconds takes milliseconds.
 */
function simClock(): Clock & { drive<T>(p: Promise<T>): Promise<T> } {
  let now = 0
  const timers: { at: number; resolve: () => void }[] = []
  return {
    now: () => now,
    sleep: (ms) => new Promise<void>((resolve) => timers.push({ at: now + ms, resolve })),
    async drive<T>(p: Promise<T>): Promise<T> {
      let settled = false
      void p.then(
        () => (settled = true),
        () => (settled = true),
      )
      for (;;) {
        for (let i = 0; i < 5 && !settled; i++) await new Promise((r) => setImmediate(r))
        if (settled) return p
        if (timers.length === 0) throw new Error('nothing scheduled and the run is not done')
        timers.sort((a, b) => a.at - b.at)
        const next = timers.shift()!
        now = Math.max(now, next.at)
        next.resolve()
      }
    },
  }
}

/** A server whose i-th answer takes latencies[i % n] ms; `fails(i)` answers 500. */
function simServer(clock: Clock, latencies: readonly number[], fails: (i: number) => boolean = () => false) {
  let i = 0
  let inFlight = 0
  let maxInFlight = 0
  const send: Sender = async () => {
    const n = i++
    inFlight += 1
    maxInFlight = Math.max(maxInFlight, inFlight)
    await clock.sleep(latencies[n % latencies.length])
    inFlight -= 1
    return fails(n) ? { ok: false, status: '500' } : { ok: true }
  }
  return { send, received: () => i, maxInFlight: () => maxInFlight }
}

const never = new AbortController().signal
const oneToHundred = Array.from({ length: 100 }, (_, k) => k + 1)

describe('latency histogram', () => {
  it('reports percentiles within its bounded relative error, from microseconds to minutes', () => {
    for (const scale of [0.001, 1, 1000, 60_000]) {
      const h = new LatencyHistogram()
      const values = Array.from({ length: 10_000 }, (_, k) => (k + 1) * scale)
      for (const v of [...values].reverse()) h.record(v)
      for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
        const exact = values[Math.ceil(q * values.length) - 1]
        expect(Math.abs(h.percentile(q)! - exact) / exact, `q=${q} scale=${scale}`).toBeLessThanOrEqual(MAX_RELATIVE_ERROR + 1e-9)
      }
      expect(h.count).toBe(10_000)
      expect(h.mean()).toBeCloseTo(5000.5 * scale, 6)
    }
    expect(MAX_RELATIVE_ERROR).toBeLessThan(0.01)
  })

  it('is exact for small values and clamps to what was recorded', () => {
    const h = new LatencyHistogram()
    expect(h.percentile(0.5)).toBeUndefined()
    h.record(0.2)
    h.record(0.2)
    h.record(7000)
    expect(h.percentile(0.5)).toBe(0.2)
    expect(h.percentile(1)).toBe(7000)
    expect(h.max()).toBe(7000)
  })
})

describe('closed loop', () => {
  it('runs each level for its duration exactly, with that many requests in flight', async () => {
    const clock = simClock()
    const server = simServer(clock, [10])
    const m = await clock.drive(runLevel(server.send, { concurrency: 4, durationMs: 1000, maxRequests: 1e6 }, clock, never))
    // 4 workers x (1000 ms / 10 ms): none starts at or after the deadline.
    expect(m.requests).toBe(400)
    expect(server.received()).toBe(400)
    expect(server.maxInFlight()).toBe(4)
    expect(m.elapsedMs).toBe(1000)
    expect(summarizeLevel(m)).toEqual({ concurrency: 4, requests: 400, errors: {}, rps: 400, p50Ms: 10, p95Ms: 10, p99Ms: 10 })
  })

  it('measures a known latency distribution and counts errors by status', async () => {
    const clock = simClock()
    const server = simServer(clock, oneToHundred, (i) => i % 50 === 49)
    const m = await clock.drive(runLevel(server.send, { concurrency: 1, durationMs: 60_000, maxRequests: 1000 }, clock, never))
    const s = summarizeLevel(m)
    expect(s.requests).toBe(1000)
    expect(s.errors).toEqual({ '500': 20 })
    // The successful latencies are 1..100 ms, each 10 times, less the 20 failed ones (the 50 and 100 ms
    // answers): 980 values, the 490th is 49, the 931st 95, the 971st 99.
    expect(s.p50Ms).toBeCloseTo(49, 0)
    expect(s.p95Ms).toBeCloseTo(95, 0)
    expect(s.p99Ms).toBeCloseTo(99, 0)
    expect(s.rps).toBeCloseTo((1000 * 1000) / 50_500, 1)
  })

  it('never sends more than the run budget, across levels', async () => {
    const clock = simClock()
    const server = simServer(clock, [5])
    const levels = await clock.drive(runLevels(server.send, { levels: [1, 2, 4, 8], durationMs: 1000, maxRequests: 300 }, clock, never))
    expect(levels.map((l) => l.requests)).toEqual([200, 100])
    expect(server.received()).toBe(300)
  })

  it('stops at once when aborted', async () => {
    const clock = simClock()
    const server = simServer(clock, [10])
    const stop = new AbortController()
    stop.abort()
    const m = await clock.drive(runLevel(server.send, { concurrency: 3, durationMs: 1000, maxRequests: 100 }, clock, stop.signal))
    expect(m.requests).toBe(0)
  })
})

describe('open loop (--rate)', () => {
  it('sends on schedule, rate x duration requests', async () => {
    const clock = simClock()
    const server = simServer(clock, [5])
    const m = await clock.drive(runLevel(server.send, { concurrency: 4, durationMs: 2000, maxRequests: 1e6, rate: 50 }, clock, never))
    expect(m.requests).toBe(100)
    expect(server.received()).toBe(100)
    expect(summarizeLevel(m)).toMatchObject({ errors: {}, p50Ms: 5, p99Ms: 5 })
  })

  it('charges a stalled server for the queue it causes (coordinated omission) and never overruns the level', async () => {
    const clock = simClock()
    // 100 requests/s due, but one at a time at 20 ms each: the server manages 50/s.
    const server = simServer(clock, [20])
    const m = await clock.drive(runLevel(server.send, { concurrency: 1, durationMs: 1000, maxRequests: 1e6, rate: 100 }, clock, never))
    const s = summarizeLevel(m)
    expect(server.received()).toBe(50)
    expect(s.requests).toBe(100)
    expect(s.errors).toEqual({ unsent: 50 })
    // Request i is due at 10i ms and answered at 20i + 20 ms: latency 10i + 20, up to 510 ms.
    expect(s.p50Ms).toBeCloseTo(260, -1)
    expect(s.p99Ms).toBeGreaterThan(490)
    expect(m.elapsedMs).toBe(1000)
  })

  it('the request bound caps an open-loop level too', async () => {
    const clock = simClock()
    const server = simServer(clock, [1])
    const m = await clock.drive(runLevel(server.send, { concurrency: 2, durationMs: 10_000, maxRequests: 7, rate: 100 }, clock, never))
    expect(m.requests).toBe(7)
    expect(server.received()).toBe(7)
  })
})

const level = (concurrency: number, rps: number, p50Ms: number, p99Ms: number, errors: Record<string, number> = {}): LevelSummary => ({
  concurrency,
  requests: 100,
  errors,
  rps,
  p50Ms,
  p95Ms: p99Ms,
  p99Ms,
})

describe('recommendation', () => {
  it('maxRps is the fastest level without errors and within the SLO; the rest follows from it', () => {
    const levels = [level(1, 9.5, 100, 150), level(2, 18.3, 105, 200), level(4, 30, 130, 1200), level(8, 40, 190, 400, { '503': 2 })]
    const r = recommend(levels, 1000)
    expect(r.maxRps).toBe(18.3)
    expect(r.targetInvocationsPerInstance).toBe(549) // floor(18.3 x 0.5 x 60) = floor(549.0)
    expect(r.lambdaProvisionedConcurrency).toBe(2) // ceil(18.3 x 0.105) = ceil(1.92)
    expect(r.lambdaReservedConcurrency).toBe(6) // ceil(18.3 x 0.2 x 1.5) = ceil(5.49)
    expect(r.reasoning.join('\n')).toMatch(/concurrency 4 \(p99 1200 ms over the SLO\), 8 \(2 errors: 503 x2\)/)
  })

  it('uses --peak-rps for the Lambda numbers and floors the target', () => {
    const r = recommend([level(1, 7.77, 120, 300)], 1000, 100)
    expect(r.targetInvocationsPerInstance).toBe(233) // floor(233.1)
    expect(r.lambdaProvisionedConcurrency).toBe(12) // ceil(100 x 0.12)
    expect(r.lambdaReservedConcurrency).toBe(45) // ceil(100 x 0.3 x 1.5)
    expect(r.reasoning.join('\n')).toMatch(/100 requests\/s \(--peak-rps\)/)
  })

  it('recommends nothing when no level passes', () => {
    const r = recommend([level(1, 5, 900, 2000)], 1000)
    expect(r).toMatchObject({ maxRps: 0, targetInvocationsPerInstance: 0, lambdaReservedConcurrency: 0, lambdaProvisionedConcurrency: 0 })
    expect(r.reasoning[0]).toMatch(/No level ran without errors and with p99 within the 1000 ms SLO: concurrency 1 \(p99 2000 ms over the SLO\)/)
  })
})
