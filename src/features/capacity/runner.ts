import { systemClock, type Clock } from '../../shared/clock.js'
import { LatencyHistogram } from './histogram.js'

/**
 * The load generator of `mlops loadtest`: runs concurrency levels one after another, each bounded by
 * a duration and by what is left of the run's request budget, and measures every request with its
 * own client timing.
 *
 * Closed loop (default): `concurrency` workers each send, wait for the answer, send again.
 * Open loop (`rate`): requests are due at fixed times (start + i / rate) whatever the answers do,
 * with at most `concurrency` in flight. Latency is measured from the time a request was DUE, not from
 * when it could finally be sent, so a server that stalls is charged for the queue it causes
 * (coordinated omission; Gil Tene, "How NOT to Measure Latency"). Requests still queued when the
 * level's time is up are not sent and count as the error "unsent".
 */

/** What one request came back as: ok, or an error named by its HTTP status or error code. */
export type SendOutcome = { readonly ok: true } | { readonly ok: false; readonly status: string }

/** Sends one request. It should not throw; a throw counts as the error "error". */
export type Sender = (signal: AbortSignal) => Promise<SendOutcome>

export interface LevelSpec {
  readonly concurrency: number
  readonly durationMs: number
  /** No more than this many requests in the level (what is left of the run's budget). */
  readonly maxRequests: number
  /** Open loop: requests per second. */
  readonly rate?: number
}

export interface LevelMeasurement {
  readonly concurrency: number
  /** Requests sent, plus (open loop) those due but left unsent. */
  readonly requests: number
  /** Failed requests by HTTP status or error code ({} when none). */
  readonly errors: Readonly<Record<string, number>>
  /** From the level's start to its last answer. */
  readonly elapsedMs: number
  /** Latency of the successful requests. */
  readonly histogram: LatencyHistogram
}

/** A wall clock with sub-millisecond resolution, for timing requests (Date.now() has 1 ms steps). */
export const preciseSystemClock: Clock = { now: () => performance.timeOrigin + performance.now(), sleep: systemClock.sleep }

export async function runLevel(send: Sender, spec: LevelSpec, clock: Clock, signal: AbortSignal): Promise<LevelMeasurement> {
  const histogram = new LatencyHistogram()
  const errors: Record<string, number> = {}
  const start = clock.now()
  const deadline = start + spec.durationMs
  let sent = 0
  let lastAnswer = start

  const measure = async (dueAt: number) => {
    let outcome: SendOutcome
    try {
      outcome = await send(signal)
    } catch {
      outcome = { ok: false, status: 'error' }
    }
    const end = clock.now()
    lastAnswer = Math.max(lastAnswer, end)
    if (outcome.ok) histogram.record(end - dueAt)
    else errors[outcome.status] = (errors[outcome.status] ?? 0) + 1
  }

  if (spec.rate === undefined) {
    const worker = async () => {
      while (sent < spec.maxRequests && clock.now() < deadline && !signal.aborted) {
        sent += 1
        await measure(clock.now())
      }
    }
    await Promise.all(Array.from({ length: spec.concurrency }, worker))
    return { concurrency: spec.concurrency, requests: sent, errors, elapsedMs: lastAnswer - start, histogram }
  }

  const interval = 1000 / spec.rate
  const due = Math.min(spec.maxRequests, Math.ceil((spec.durationMs / 1000) * spec.rate))
  const inFlight = new Set<Promise<void>>()
  let unsent = 0
  for (let i = 0; i < due; i++) {
    const dueAt = start + i * interval
    const wait = dueAt - clock.now()
    if (wait > 0 && !signal.aborted) await clock.sleep(wait, signal).catch(() => undefined)
    while (inFlight.size >= spec.concurrency) await Promise.race(inFlight)
    if (clock.now() >= deadline || signal.aborted) {
      unsent = due - i
      break
    }
    sent += 1
    const p: Promise<void> = measure(dueAt).finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  await Promise.all(inFlight)
  if (unsent > 0) errors.unsent = unsent
  return { concurrency: spec.concurrency, requests: sent + unsent, errors, elapsedMs: lastAnswer - start, histogram }
}

export interface RunSpec {
  /** Concurrency levels, run in this order. */
  readonly levels: readonly number[]
  readonly durationMs: number
  /** For the whole run, all levels together: a hard bound on what is sent. */
  readonly maxRequests: number
  readonly rate?: number
}

/** Every level in order; a level is skipped once the request budget is spent. */
export async function runLevels(
  send: Sender,
  spec: RunSpec,
  clock: Clock,
  signal: AbortSignal,
  onLevel?: (m: LevelMeasurement) => void,
): Promise<LevelMeasurement[]> {
  const out: LevelMeasurement[] = []
  let used = 0
  for (const concurrency of spec.levels) {
    const left = spec.maxRequests - used
    if (left <= 0 || signal.aborted) break
    const m = await runLevel(send, { concurrency, durationMs: spec.durationMs, maxRequests: left, ...(spec.rate ? { rate: spec.rate } : {}) }, clock, signal)
    used += m.requests
    out.push(m)
    onLevel?.(m)
  }
  return out
}
