import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import { UserError } from './errors.js'
import { requestRateField } from '../config/flag-fields.js'
import { AutoscalingSchema } from '../config/sections/endpoint.js'
import { LambdaSchema } from '../config/sections/lambda.js'

/**
 * The file `mlops loadtest` writes and `mlops scale --from-loadtest` reads: where it is kept and the
 * recommendation in it. Each command owns its side (writing the report, reading and applying it).
 */

/** Where the last result is kept, beside the config. */
export const LOADTEST_FILE = path.join('.mlops', 'loadtest.json')

/** The last `status --metrics` result, kept beside the load test's so `mlops report` can chart it offline. */
export const METRICS_FILE = path.join('.mlops', 'metrics.json')

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

/** What `status --metrics` and `report` show of the last load test: when and against what it ran, and its levels. */
export interface SavedLoadtestFigures {
  readonly savedAt: string
  readonly target: { readonly kind: string; readonly name: string }
  readonly levels: readonly {
    readonly concurrency: number
    readonly requests: number
    readonly rps: number
    readonly p50Ms: number | null
    readonly p95Ms: number | null
    readonly p99Ms: number | null
  }[]
  readonly recommendation: Pick<Recommendation, 'maxRps' | 'targetInvocationsPerInstance'>
}

const finite = z.number().finite()
const figuresSchema = z.object({
  savedAt: z.string(),
  target: z.object({ kind: z.string(), name: z.string() }),
  levels: z.array(
    z.object({
      concurrency: finite,
      requests: finite.nonnegative(),
      rps: finite.nonnegative(),
      p50Ms: finite.nullable(),
      p95Ms: finite.nullable(),
      p99Ms: finite.nullable(),
    }),
  ),
  recommendation: z.object({ maxRps: finite.nonnegative(), targetInvocationsPerInstance: finite.nonnegative() }),
})

/**
 * The figures of the last load test (.mlops/loadtest.json under `projectDir`); undefined when there is
 * none. A file that is not a load test's is a named error, not a silent "no load test". The one reader
 * of the file: `status --metrics` and `report` show the same figures.
 */
export async function readSavedLoadtest(projectDir: string): Promise<SavedLoadtestFigures | undefined> {
  const file = path.join(projectDir, LOADTEST_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UserError('LoadtestFileUnreadable', `${file}: ${(err as Error).message}`, { hint: 'Run `mlops loadtest` again to rewrite it.' })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const r = figuresSchema.safeParse(parsed)
  if (!r.success) {
    throw new UserError('LoadtestFileInvalid', `${file} is not a load test result mlops wrote (${r.error.issues[0]?.path.join('.') || 'JSON'}).`, {
      hint: 'Run `mlops loadtest` again to rewrite it, or delete the file.',
    })
  }
  return r.data
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
