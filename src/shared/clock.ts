import { InterruptedError, OperationError } from './errors.js'

/** Time and waiting, injectable so tests never sleep for real. */
export interface Clock {
  now(): number
  /** Resolves after `ms`; rejects with InterruptedError when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new InterruptedError())
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      const onAbort = () => {
        clearTimeout(timer)
        reject(new InterruptedError())
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    }),
}

export interface PollOptions<T> {
  /** One look at the remote state. `done` ends the wait; `status` is shown when it changes. */
  readonly check: () => Promise<{ done: boolean; value: T; status?: string }>
  /** Give up after this long. */
  readonly timeoutMs: number
  /** Pause between checks. */
  readonly intervalMs: number
  readonly clock: Clock
  readonly signal?: AbortSignal
  readonly onStatus?: (status: string, elapsedMs: number) => void
  /** What we were waiting for, for the deadline message ("endpoint dogs to be InService"). */
  readonly what: string
  /** How to look again later ("mlops status"). Added to the deadline error's hint. */
  readonly rerunHint?: string
}

/**
 * Polls until `check` says done, the deadline passes (OperationError 'DeadlineReached') or the
 * signal aborts (InterruptedError). Every wait in mlops goes through here or an SDK waiter with a
 * maxWaitTime, never an open-ended loop.
 */
export async function pollUntil<T>(opts: PollOptions<T>): Promise<T> {
  const start = opts.clock.now()
  let lastStatus: string | undefined
  let last: T | undefined
  for (;;) {
    if (opts.signal?.aborted) throw new InterruptedError()
    const { done, value, status } = await opts.check()
    last = value
    if (status !== undefined && status !== lastStatus) {
      lastStatus = status
      opts.onStatus?.(status, opts.clock.now() - start)
    }
    if (done) return value
    const elapsed = opts.clock.now() - start
    if (elapsed >= opts.timeoutMs) {
      throw new OperationError(
        'DeadlineReached',
        `Gave up waiting for ${opts.what} after ${Math.round(elapsed / 1000)}s (last status: ${lastStatus ?? 'unknown'}).`,
        {
          hint: opts.rerunHint ? `It is still running on AWS. ${opts.rerunHint}` : 'It may still be running on AWS.',
          details: { lastStatus, last },
        },
      )
    }
    await opts.clock.sleep(Math.min(opts.intervalMs, Math.max(1, opts.timeoutMs - elapsed)), opts.signal)
  }
}
