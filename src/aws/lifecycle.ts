/**
 * Dates AWS retires things on: the one place mlops keeps them, so defaults are chosen from data and a
 * test (with an injected clock) fails well before a default reaches a block date.
 *
 * Sources: the Lambda runtime table (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html, as of
 * 2026-12-01) and the SageMaker Debugger availability notice. moto knows none of these dates.
 */

/** A Lambda managed runtime's life: after `blockCreate` CreateFunction fails; after `blockUpdate` updates fail too. */
export interface LambdaRuntimeLife {
  readonly runtime: string
  /** End of standard support (no more security patches). */
  readonly deprecation: string
  readonly blockCreate: string
  readonly blockUpdate: string
}

/** The Node.js runtimes the bundled handler can run on, newest first. */
export const LAMBDA_NODE_RUNTIMES: readonly LambdaRuntimeLife[] = [
  { runtime: 'nodejs24.x', deprecation: '2028-04-30', blockCreate: '2028-06-01', blockUpdate: '2028-07-01' },
  { runtime: 'nodejs22.x', deprecation: '2027-04-30', blockCreate: '2027-06-01', blockUpdate: '2027-07-01' },
  // Kept so the config can name it and get a clear refusal instead of AWS's InvalidParameterValue.
  { runtime: 'nodejs20.x', deprecation: '2026-04-30', blockCreate: '2026-08-31', blockUpdate: '2026-09-30' },
]

/** The runtime new functions get: the newest one. */
export const DEFAULT_LAMBDA_RUNTIME = LAMBDA_NODE_RUNTIMES[0].runtime

/**
 * The idle-stop reaper's runtime (`deploy --idle-stop`), which no config chooses: its function is
 * created on it and its bundle targets it. Kept here, with the dates, so the lifecycle test watches it too.
 */
export const REAPER_LAMBDA_RUNTIME = 'nodejs24.x'

/** The life of a runtime, or undefined for one mlops does not know. */
export function lambdaRuntimeLife(runtime: string): LambdaRuntimeLife | undefined {
  return LAMBDA_NODE_RUNTIMES.find((r) => r.runtime === runtime)
}

/** What AWS allows for a runtime at `nowMs`: everything, updates of existing functions only, or nothing. */
export function lambdaRuntimeStatus(runtime: string, nowMs: number): 'supported' | 'deprecated' | 'create-blocked' | 'blocked' | 'unknown' {
  const life = lambdaRuntimeLife(runtime)
  if (!life) return 'unknown'
  if (nowMs >= Date.parse(life.blockUpdate)) return 'blocked'
  if (nowMs >= Date.parse(life.blockCreate)) return 'create-blocked'
  if (nowMs >= Date.parse(life.deprecation)) return 'deprecated'
  return 'supported'
}

/**
 * SageMaker Debugger: closed to new customers from this date (accounts that never used it cannot
 * start using it); existing users keep it. mlops keeps `training.debugger` opt-in and warns.
 */
export const DEBUGGER_CLOSED_TO_NEW_CUSTOMERS = '2026-07-30'
