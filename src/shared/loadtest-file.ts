import path from 'node:path'
import { z } from 'zod'
import { requestRateField } from '../config/flag-fields.js'
import { AutoscalingSchema } from '../config/sections/endpoint.js'
import { LambdaSchema } from '../config/sections/lambda.js'

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

/**
 * A recommendation that can be applied, each number checked by the very field of the flag it stands
 * for (`--target`, `--lambda-reserved`, `--lambda-provisioned`; maxRps by `--peak-rps`'s): `loadtest`
 * never saves, and `scale --from-loadtest` never applies, numbers the flags would refuse (issue 27).
 */
export const RecommendationSchema = z
  .object({
    maxRps: requestRateField,
    targetInvocationsPerInstance: AutoscalingSchema.shape.targetInvocationsPerInstance.unwrap(),
    lambdaReservedConcurrency: LambdaSchema.shape.reservedConcurrency.unwrap(),
    lambdaProvisionedConcurrency: LambdaSchema.shape.provisionedConcurrency.unwrap(),
    reasoning: z.array(z.string()),
  })
  .refine((r) => r.lambdaProvisionedConcurrency <= r.lambdaReservedConcurrency, {
    message: 'must not exceed lambdaReservedConcurrency',
    path: ['lambdaProvisionedConcurrency'],
  })
