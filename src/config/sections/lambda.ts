import { z } from 'zod'
import { nonNegativeInt, positiveInt, resourceName } from '../common.js'

/** `lambda`: the function in front of the endpoint (`mlops lambda-setup`). */
export const LambdaSchema = z
  .strictObject({
    /** Unset: `<project>-invoke`. */
    functionName: resourceName.max(64).optional(),
    /** @default 256 */
    memoryMb: z.number().int().min(128, 'at least 128 MB').max(10240, 'at most 10240 MB').default(256),
    /** @default 30 */
    timeoutSeconds: positiveInt('seconds').max(900, 'at most 900 seconds').default(30),
    /** @default 'nodejs20.x' */
    runtime: z.enum(['nodejs20.x', 'nodejs22.x']).default('nodejs20.x'),
    /** Predictions returned per call. @default 3 */
    topK: positiveInt('breeds').max(133).default(3),
    reservedConcurrency: nonNegativeInt('executions').optional(),
    provisionedConcurrency: positiveInt('executions').optional(),
    /** Function URL; AWS_IAM auth unless public is true. */
    url: z.strictObject({ enabled: z.boolean().default(false), public: z.boolean().default(false) }).optional(),
  })
  .refine(
    (l) => l.provisionedConcurrency === undefined || l.reservedConcurrency === undefined || l.provisionedConcurrency <= l.reservedConcurrency,
    { message: 'provisionedConcurrency must not exceed reservedConcurrency', path: ['provisionedConcurrency'] },
  )
