import { z } from 'zod'
import { atMost, duration, nonNegativeInt, positiveInt, resourceName } from '../common.js'

/** CloudWatch Logs accepts only these retention periods (days). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const

/** Lambda's synchronous request payload limit is 6 MB; the handler refuses larger bodies itself. */
export const MAX_LAMBDA_BODY_BYTES = 6 * 1024 * 1024

/** `lambda`: the function in front of the endpoint (`mlops lambda-setup`). */
export const LambdaSchema = z
  .strictObject({
    /** Unset: `<project>-invoke`. */
    functionName: resourceName.max(64).optional(),
    /** @default 256 */
    memoryMb: z
      .number({ error: 'expected a number (MB)' })
      .int('expected a whole number (MB)')
      .min(128, 'at least 128 MB')
      .max(10240, 'at most 10240 MB')
      .default(256),
    /** @default 30 */
    timeoutSeconds: positiveInt('seconds').max(900, 'at most 900 seconds').default(30),
    /**
     * Node.js managed runtime. Which ones AWS still allows, and the default, come from the dates in
     * aws/lifecycle.ts (checked by lambda-setup before any AWS call). @default DEFAULT_LAMBDA_RUNTIME (nodejs24.x)
     */
    runtime: z
      .string()
      .regex(/^nodejs\d+\.x$/, 'expected a Node.js Lambda runtime such as nodejs24.x')
      .optional(),
    /** arm64 (Graviton) costs about 20% less per GB-second than x86_64 for the same work. @default 'arm64' */
    architecture: z.enum(['arm64', 'x86_64']).default('arm64'),
    /** Predictions returned per call. @default 3 */
    topK: positiveInt('breeds').max(133, atMost(133, 'breeds')).default(3),
    /** Largest request body the handler accepts, in bytes (the MAX_BODY_BYTES variable). @default 5 MiB */
    maxBodyBytes: positiveInt('bytes')
      .max(MAX_LAMBDA_BODY_BYTES, `at most ${MAX_LAMBDA_BODY_BYTES} bytes (Lambda's 6 MB payload limit)`)
      .default(5 * 1024 * 1024),
    /** Days the function's log group keeps logs. @default 30 */
    logRetentionDays: z
      .number()
      .int()
      .refine(
        (d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d),
        `expected one of ${LOG_RETENTION_DAYS.join(', ')} (CloudWatch Logs retention periods)`,
      )
      .default(30),
    /** Longest to wait for each code or configuration update to finish. @default '5m' */
    updateTimeout: duration.default(300),
    /** Longest to wait for provisioned concurrency to become READY. @default '15m' */
    provisionedTimeout: duration.default(900),
    /** PutFunctionConcurrency's ReservedConcurrentExecutions (0 blocks every call). Unset: unreserved. */
    reservedConcurrency: nonNegativeInt('executions').optional(),
    /** Pre-warmed executions on the live alias (0 removes them, as `scale --lambda-provisioned 0`). Unset: none. */
    provisionedConcurrency: nonNegativeInt('executions').optional(),
    /** Function URL; AWS_IAM auth unless public is true. */
    url: z.strictObject({ enabled: z.boolean().default(false), public: z.boolean().default(false) }).optional(),
  })
  .refine((l) => l.provisionedConcurrency === undefined || l.reservedConcurrency === undefined || l.provisionedConcurrency <= l.reservedConcurrency, {
    message: 'provisionedConcurrency must not exceed reservedConcurrency',
    path: ['provisionedConcurrency'],
  })
