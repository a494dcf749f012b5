import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { LOADTEST_FILE } from './loadtest.js'
import type { Recommendation } from './types.js'

/**
 * `mlops scale --from-loadtest [file]`: the saved recommendation as `mlops scale` flags, so it goes
 * through exactly the same checks, requests, before/after and cost as typing them.
 */

const RecommendationSchema = z.object({
  maxRps: z.number().nonnegative(),
  targetInvocationsPerInstance: z.number().int().nonnegative(),
  lambdaReservedConcurrency: z.number().int().nonnegative(),
  lambdaProvisionedConcurrency: z.number().int().nonnegative(),
  reasoning: z.array(z.string()),
})
const SavedSchema = z.object({ recommendation: RecommendationSchema, savedAt: z.string().optional(), target: z.object({ kind: z.string(), name: z.string() }) })

/** The scale flags a recommendation stands for (strings, as typed on the command line). */
export interface LoadtestScaleFlags {
  readonly target?: string
  readonly lambdaReserved?: string
  readonly lambdaProvisioned?: string
}

export interface LoadtestForScale {
  readonly file: string
  readonly recommendation: Recommendation
  readonly flags: LoadtestScaleFlags
}

/** Reads the saved load test (`file`, else .mlops/loadtest.json beside the config) and turns it into flags. */
export async function loadtestScaleFlags(
  ctx: CommandContext,
  file: string | undefined,
  opts: { targetGiven: boolean; lambdaGiven: boolean },
): Promise<LoadtestForScale> {
  const where = file ? path.resolve(ctx.deps.cwd, file) : path.join(ctx.projectDir, LOADTEST_FILE)
  const text = await readFile(where, 'utf8').catch(() => undefined)
  if (text === undefined) {
    throw new UserError('LoadtestNotFound', `--from-loadtest: no load test result at ${where}.`, {
      hint: file ? 'Pass the file `mlops loadtest` saved (.mlops/loadtest.json).' : 'Run `mlops loadtest` first (it saves .mlops/loadtest.json).',
    })
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  const parsed = SavedSchema.safeParse(doc)
  if (!parsed.success) {
    throw new UserError('InvalidLoadtest', `--from-loadtest: ${where} is not a load test result (${parsed.error.issues[0]?.path.join('.') || 'not JSON'}).`, {
      hint: 'Run `mlops loadtest` again to write a fresh one.',
    })
  }
  const rec = parsed.data.recommendation
  if (rec.maxRps <= 0 || rec.targetInvocationsPerInstance <= 0) {
    throw new UserError('NothingToApply', `--from-loadtest: the load test in ${where} recommends nothing (no level passed).`, {
      hint: rec.reasoning[0] ?? 'Run `mlops loadtest` again once the errors are fixed, or with a larger --slo.',
    })
  }
  ctx.ui.info(
    `From the load test of ${parsed.data.target.kind} ${parsed.data.target.name}${parsed.data.savedAt ? ` (${parsed.data.savedAt})` : ''}: ` +
      `${rec.maxRps} requests/s within the SLO.`,
  )
  return {
    file: where,
    recommendation: rec,
    flags: {
      // Flags typed beside --from-loadtest win over the recommendation.
      ...(opts.targetGiven ? {} : { target: String(rec.targetInvocationsPerInstance) }),
      ...(opts.lambdaGiven ? {} : { lambdaReserved: String(rec.lambdaReservedConcurrency), lambdaProvisioned: String(rec.lambdaProvisionedConcurrency) }),
    },
  }
}
