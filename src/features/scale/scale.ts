import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { runEndpointScale, showEndpointScale } from './endpoint-scaling.js'
import { loadtestScaleOptions } from './from-loadtest.js'
import { runLambdaScale } from './lambda-concurrency.js'
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
  const endpointPart = given(endpoint) || !given(lambda) ? await runEndpointScale(ctx, cfg, endpoint) : undefined
  const lambdaPart = given(lambda) ? await runLambdaScale(ctx, cfg, lambda) : undefined
  return combineScaleOutcomes(endpointPart, lambdaPart)
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
