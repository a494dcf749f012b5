import { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { applyEndpointScale, prepareEndpointScale, runEndpointScale, showEndpointScale } from './endpoint-scaling.js'
import { loadtestScaleOptions } from './from-loadtest.js'
import { applyLambdaScale, prepareLambdaScale, runLambdaScale } from './lambda-concurrency.js'
import type { EndpointScaleShow, ScaleOptions, ScalePlanDetails, ScaleResult } from './types.js'

/**
 * `mlops scale`: endpoint autoscaling and Lambda concurrency in one command. With only Lambda
 * options it changes only the Lambda; otherwise (endpoint options, or none: the config's
 * endpoint.autoscaling) the endpoint, then the Lambda when asked. `--show` reads the endpoint's
 * settings instead; `--from-loadtest` fills in what the saved load test recommends.
 */
export async function runScale(ctx: CommandContext, opts: ScaleOptions): Promise<Outcome<ScaleResult | EndpointScaleShow, ScalePlanDetails>> {
  if (opts.show && opts.fromLoadtest !== undefined) {
    throw new UserError('ConflictingFlags', '--show only prints the current settings; it takes no other scale flags.', {
      hint: 'Run `mlops scale --show` on its own, or drop --show to change the settings.',
    })
  }
  let { endpoint, lambda } = opts
  if (opts.fromLoadtest !== undefined) {
    const loaded = await loadtestScaleOptions(ctx, opts.fromLoadtest === true ? undefined : opts.fromLoadtest, {
      targetGiven: endpoint.target !== undefined || endpoint.targetRps !== undefined,
      lambdaGiven: given(lambda),
    })
    endpoint = { ...loaded.endpoint, ...endpoint }
    lambda = { ...loaded.lambda, ...lambda }
  }
  const cfg = await ctx.config()
  if (opts.show) return showEndpointScale(ctx, cfg)
  // The plan (for --dry-run and the preflight).
  const run = async (c: CommandContext) => {
    const endpointPart = given(endpoint) || !given(lambda) ? await runEndpointScale(c, cfg, endpoint) : undefined
    const lambdaPart = given(lambda) ? await runLambdaScale(c, cfg, lambda) : undefined
    return combineScaleOutcomes(endpointPart, lambdaPart)
  }
  if (ctx.dryRun) {
    const outcome = await run(ctx)
    return outcome.kind === 'plan' ? planned({ ...outcome.plan, operations: [...ctx.preflightPlan([]), ...outcome.plan.operations] }) : outcome
  }
  if (ctx.preflightEnabled) {
    // The two parts plan and act in turn; the preflight needs both plans before either acts, so
    // they are planned once, quietly, as --dry-run would (no AWS call, nothing printed).
    const outcome = await run(quietDryRun(ctx))
    if (outcome.kind === 'plan') await ctx.preflight('scale', { quotas: [], operations: outcome.plan.operations }, cfg)
  }
  // Every read, check and question of both parts before the first change: declining the Lambda's
  // cost must not leave the endpoint already changed (issue 27).
  const endpointPart = given(endpoint) || !given(lambda) ? await prepareEndpointScale(ctx, cfg, endpoint) : undefined
  const lambdaPart = given(lambda) ? await prepareLambdaScale(ctx, cfg, lambda) : undefined
  const endpointDone = endpointPart ? done(await applyEndpointScale(ctx, cfg, endpointPart)) : undefined
  const lambdaDone = lambdaPart?.kind === 'prepared' ? done(await applyLambdaScale(ctx, cfg, lambdaPart)) : lambdaPart
  return combineScaleOutcomes(endpointDone, lambdaDone)
}

/** The same command as a silent --dry-run: its plan, for the preflight. */
function quietDryRun(ctx: CommandContext): CommandContext {
  const silent = { write: () => true, isTTY: false }
  return new CommandContext({ ...ctx.deps, stdout: silent, stderr: silent }, { ...ctx.globals, dryRun: true, json: true })
}

/** Whether any option of a part was given (an explicit undefined counts as not given). */
function given(part: object): boolean {
  return Object.values(part).some((v) => v !== undefined)
}

/** One outcome for the two parts of `scale`: their plans in order, or their results side by side. */
function combineScaleOutcomes<E, ED extends object, L, LD extends object>(
  endpoint: Outcome<E, ED> | undefined,
  lambda: Outcome<L, LD> | undefined,
): Outcome<{ endpoint?: E; lambda?: L }, { endpoint?: ED; lambda?: LD }> {
  if (endpoint?.kind === 'plan' || lambda?.kind === 'plan') {
    const parts = { endpoint: endpoint?.kind === 'plan' ? endpoint.plan : undefined, lambda: lambda?.kind === 'plan' ? lambda.plan : undefined }
    return planned({
      title: 'scale',
      operations: [...(parts.endpoint?.operations ?? []), ...(parts.lambda?.operations ?? [])],
      notes: [...(parts.endpoint?.notes ?? []), ...(parts.lambda?.notes ?? [])],
      details: {
        ...(parts.endpoint?.details ? { endpoint: parts.endpoint.details } : {}),
        ...(parts.lambda?.details ? { lambda: parts.lambda.details } : {}),
      },
    })
  }
  return done({
    ...(endpoint?.kind === 'done' ? { endpoint: endpoint.result } : {}),
    ...(lambda?.kind === 'done' ? { lambda: lambda.result } : {}),
  })
}
