import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { z } from 'zod'
import type { CommandContext } from '../../context.js'
import { escapeTerminal } from '../../shared/terminal-text.js'
import { UserError } from '../../shared/errors.js'
import { LOADTEST_FILE, RecommendationSchema, type Recommendation } from '../../shared/loadtest-file.js'
import type { EndpointScaleOptions, LambdaScaleOptions } from './types.js'

/**
 * `mlops scale --from-loadtest [file]`: the saved recommendation as `scale` options, so it goes
 * through exactly the same requests, before/after and cost as typing the flags. The numbers are
 * checked here against the same bounds the flags have.
 */

/** What every load test file holds; a recommendation of nothing (maxRps 0, no level passed) is its own answer. */
const RecommendationShape = z.object({
  maxRps: z.number().nonnegative(),
  reasoning: z.array(z.string()),
})
const SavedSchema = z.object({
  recommendation: RecommendationShape.loose(),
  savedAt: z.string().optional(),
  target: z.object({ kind: z.enum(['endpoint', 'lambda', 'local']), name: z.string() }),
})

export interface LoadtestForScale {
  readonly file: string
  readonly recommendation: Recommendation
  /** The options the recommendation stands for, less those given beside --from-loadtest. */
  readonly endpoint: Pick<EndpointScaleOptions, 'target'>
  readonly lambda: LambdaScaleOptions
}

/** Reads the saved load test (`file`, else .mlops/loadtest.json beside the config) and turns it into options. */
export async function loadtestScaleOptions(
  ctx: CommandContext,
  file: string | undefined,
  given: { readonly targetGiven: boolean; readonly lambdaGiven: boolean },
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
  const saved = parsed.data.recommendation
  if (saved.maxRps <= 0) {
    throw new UserError('NothingToApply', `--from-loadtest: the load test in ${where} recommends nothing (no level passed).`, {
      hint:
        (saved.reasoning[0] !== undefined ? escapeTerminal(saved.reasoning[0]) : undefined) ??
        'Run `mlops loadtest` again once the errors are fixed, or with a larger --slo.',
    })
  }
  const applicable = RecommendationSchema.safeParse(saved)
  if (!applicable.success) {
    const issue = applicable.error.issues[0]
    throw new UserError(
      'InvalidLoadtest',
      `--from-loadtest: ${where} is not a load test result (recommendation.${issue?.path.join('.')}): ${issue?.message ?? 'invalid'}.`,
      { hint: 'Run `mlops loadtest` again to write a fresh one; the numbers in it are held to the same limits as the scale flags.' },
    )
  }
  const rec: Recommendation = applicable.data
  const { kind, name } = parsed.data.target
  if (kind === 'local') {
    // A laptop's numbers say little about an ml.* instance: never applied to AWS without a deliberate yes.
    ctx.ui.warn(`${where} was measured on the local server (\`mlops loadtest --local\`), not on AWS: its numbers need not hold for the endpoint or the Lambda.`)
    if (!ctx.globals.yes && !ctx.dryRun) {
      throw new UserError('LocalLoadtest', `--from-loadtest: ${where} is a local measurement; applying it to AWS needs --yes.`, {
        hint: 'Measure the endpoint itself (`mlops loadtest --yes`) and apply that, or pass --yes to apply the local numbers anyway.',
      })
    }
  }
  // The file may be hand-edited: what it says is printed escaped, never as terminal control sequences (issue 27).
  ctx.ui.info(
    `From the load test of ${escapeTerminal(kind)} ${escapeTerminal(name)}${parsed.data.savedAt ? ` (${escapeTerminal(parsed.data.savedAt)})` : ''}: ${rec.maxRps} requests/s within the SLO.`,
  )
  return {
    file: where,
    recommendation: rec,
    // Options given beside --from-loadtest win over the recommendation.
    endpoint: given.targetGiven ? {} : { target: rec.targetInvocationsPerInstance },
    lambda: given.lambdaGiven ? {} : { reserved: rec.lambdaReservedConcurrency, provisioned: rec.lambdaProvisionedConcurrency },
  }
}
