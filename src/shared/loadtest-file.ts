import path from 'node:path'

/**
 * The file `mlops loadtest` writes and `mlops scale --from-loadtest` reads: where it is kept and the
 * recommendation in it. Each command owns its side (writing the report, reading and applying it).
 */

/** Where the last result is kept, beside the config. */
export const LOADTEST_FILE = path.join('.mlops', 'loadtest.json')

export interface Recommendation {
  /** Highest throughput of a level with no errors and p99 within the SLO; 0 when no level passed. */
  readonly maxRps: number
  /** floor(maxRps x 0.5 x 60): SageMakerVariantInvocationsPerInstance target tracking value. */
  readonly targetInvocationsPerInstance: number
  readonly lambdaReservedConcurrency: number
  readonly lambdaProvisionedConcurrency: number
  /** One line per number: where it came from. */
  readonly reasoning: readonly string[]
}
