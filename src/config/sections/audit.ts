import { z } from 'zod'
import { atMost, positiveInt } from '../common.js'

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const

/** `audit`: defaults for `mlops audit-iam`. Flags override them. */
export const AuditSchema = z.strictObject({
  /** Exit 3 when a finding is at or above this. @default 'high' */
  failOn: z.enum([...SEVERITIES, 'none'], { error: 'expected critical, high, medium, low or none' }).default('high'),
  /** A role unused for longer is reported; at most ten years, as `audit-iam --unused-days` had. @default 90 */
  unusedDays: positiveInt('days').max(3650, atMost(3650, 'days')).default(90),
  /** Exclusions file (YAML or JSON), relative to this config file. */
  exclusions: z.string().min(1).optional(),
  /** Extra roles to audit besides the project's own (names or ARNs). @default [] */
  roles: z.array(z.string().min(1)).default([]),
  /** Accounts allowed to assume roles without a trust-cross-account finding (merged with the exclusions file's). @default [] */
  knownAccounts: z.array(z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id (quote it: "111122223333")')).default([]),
})
