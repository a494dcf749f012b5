import { z } from 'zod'
import { positiveInt } from '../common.js'

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const

/** `audit`: defaults for `mlops audit-iam`. */
export const AuditSchema = z.strictObject({
  /** Exit 3 when a finding is at or above this. @default 'high' */
  failOn: z.enum([...SEVERITIES, 'none']).default('high'),
  /** A role unused for longer is reported. @default 90 */
  unusedDays: positiveInt('days').default(90),
  /** Exclusions file (YAML or JSON). */
  exclusions: z.string().min(1).optional(),
  /** Extra roles to audit besides the project's own. */
  roles: z.array(z.string().min(1)).default([]),
})
