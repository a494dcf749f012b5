import type { VariantSpec } from '../../shared/endpoint-variant.js'
import type { Recommendation } from '../../shared/loadtest-file.js'

/** The documents of `mlops loadtest`: what `--json` prints and `.mlops/loadtest.json` keeps. */

export type TargetKind = 'endpoint' | 'lambda' | 'local'

export interface LoadtestTarget {
  readonly kind: TargetKind
  /** Endpoint name, or `function:alias`. */
  readonly name: string
  /** --local: the URL requests go to. */
  readonly url?: string
}

export interface LevelSummary {
  readonly concurrency: number
  /** Requests sent (open loop: plus those due but left unsent, counted as the error "unsent"). */
  readonly requests: number
  /** Failed requests by HTTP status ("500", "429") or error code ("timeout", "unsent"); {} when none. */
  readonly errors: Readonly<Record<string, number>>
  /** Answered requests per second over the level. */
  readonly rps: number
  /** Percentiles of the successful requests, ms; null when none succeeded. */
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  readonly p99Ms: number | null
}

/** What 1,000 predictions cost at the recommended target (features/capacity/cost.ts). */
export interface CostPer1000 {
  /** USD; null when the instance type's price is unknown. */
  readonly usd: number | null
  /** 'instance' | 'serverless', prefixed 'lambda+' when the function in front is priced too. */
  readonly basis: string
  /** What the endpoint serves on. */
  readonly serving: VariantSpec
  /** Where the price came from. */
  readonly priceSource: string
  /** The arithmetic, one line per part. */
  readonly arithmetic: readonly string[]
  readonly notes?: readonly string[]
}

export interface LoadtestReport {
  readonly target: LoadtestTarget
  readonly levels: readonly LevelSummary[]
  readonly recommendation: Recommendation
  /** Absent when no level was usable. */
  readonly costPer1000?: CostPer1000
}

/** What `.mlops/loadtest.json` holds: the report plus how it was measured. */
export interface SavedLoadtest extends LoadtestReport {
  readonly savedAt: string
  readonly settings: LoadtestSettingsSummary
}

export interface LoadtestSettingsSummary {
  /** Per level. */
  readonly durationMs: number
  readonly concurrency: readonly number[]
  readonly rate?: number
  readonly sloMs: number
  readonly peakRps?: number
  readonly maxRequests: number
  readonly image: string
  readonly payloadBytes: number
}
