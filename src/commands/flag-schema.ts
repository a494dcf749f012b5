import type { z } from 'zod'
import { parseIntFlag } from '../context.js'
import { UserError } from '../shared/errors.js'

/**
 * A whole-number flag checked by the config's own field schema (for example
 * `LambdaSchema.shape.memoryMb`), so a limit is written once: the range in the message comes from
 * the schema's min/max, and any other rule of the field (a refine) is applied too.
 */
export function parseIntFlagBySchema(
  value: string | undefined,
  flag: string,
  field: z.ZodType<number> & { readonly minValue?: number | null; readonly maxValue?: number | null },
  invalid?: (value: string) => string,
): number | undefined {
  if (value === undefined) return undefined
  const n = parseIntFlag(value, flag, { min: field.minValue ?? 1, max: field.maxValue ?? Number.MAX_SAFE_INTEGER })
  const checked = field.safeParse(n)
  if (!checked.success) {
    throw new UserError('InvalidFlag', invalid ? invalid(value) : `${flag}: ${checked.error.issues[0]?.message ?? 'invalid'}, got "${value}".`, {
      hint: `For example: ${flag} ${field.minValue ?? 1}`,
    })
  }
  return n
}
