import type { Clock } from '../shared/clock.js'
import { AwsError } from '../shared/errors.js'
import { isAwsErrorNamed, THROTTLING_ERRORS } from './error-translation.js'

/**
 * Bounded retries for the calls a long wait makes over and over. The SDK already retries each call
 * a few times; a training job is watched for hours, so one throttled DescribeTrainingJob after
 * those retries must not end the wait: back off (capped) and look again.
 */

/** Throttling: the request was refused before doing anything, so repeating it is always safe. */
export function isThrottling(err: unknown): boolean {
  return isAwsErrorNamed(err, ...THROTTLING_ERRORS)
}

/** Throttling or a 5xx / network hiccup: safe to repeat for reads. */
export function isTransient(err: unknown): boolean {
  if (isThrottling(err)) return true
  // The same, after callAws translated it.
  if (err instanceof AwsError && (err.code === 'Throttled' || err.code === 'Unreachable')) return true
  const e = err as { $metadata?: { httpStatusCode?: number }; code?: string; name?: string }
  const status = e?.$metadata?.httpStatusCode ?? 0
  if (status >= 500) return true
  return ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(e?.code ?? '') || e?.name === 'TimeoutError'
}

export interface RetryOptions {
  readonly clock: Clock
  readonly signal?: AbortSignal
  /** Total attempts. @default 6 */
  readonly attempts?: number
  /** First pause; doubles each time up to `maxDelayMs`. @default 2000 */
  readonly baseDelayMs?: number
  /** @default 60000 */
  readonly maxDelayMs?: number
  /** Which errors to retry. @default isTransient */
  readonly retryable?: (err: unknown) => boolean
  readonly onRetry?: (attempt: number, err: unknown, delayMs: number) => void
}

/** Runs `fn`, retrying retryable errors with capped exponential backoff on the injectable clock. */
export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const attempts = opts.attempts ?? 6
  const retryable = opts.retryable ?? isTransient
  let delay = opts.baseDelayMs ?? 2000
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err
      opts.onRetry?.(attempt, err, delay)
      await opts.clock.sleep(delay, opts.signal)
      delay = Math.min(delay * 2, opts.maxDelayMs ?? 60_000)
    }
  }
}

const TRANSFER_ERRORS = new Set(['RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'RequestTimeoutException', 'NetworkingError'])
const TRANSFER_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ECONNABORTED'])

/**
 * Whether a whole-object transfer (an upload that the SDK could not replay itself) is worth another
 * attempt: anything transient, plus 429, S3's request-timeout family, refused or dropped connections
 * and whatever the SDK marks `$retryable`. AccessDenied and friends are not.
 */
export function isRetryableTransfer(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  if (isTransient(err)) return true
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown }
  return e.$metadata?.httpStatusCode === 429 || TRANSFER_ERRORS.has(e.name ?? '') || TRANSFER_CODES.has(e.code ?? '') || Boolean(e.$retryable)
}
