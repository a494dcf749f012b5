import type { Command } from 'commander'
import type { Deps } from '../context.js'
import type { EndpointScaleOptions } from '../features/scale/types.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { AutoscalingSchema, TargetRpsSchema } from '../config/sections/endpoint.js'
import { LambdaSchema } from '../config/sections/lambda.js'
import { intOption, numberOption } from './options.js'

interface ScaleFlags {
  readonly min?: string
  readonly max?: string
  readonly target?: string
  readonly targetRps?: string
  readonly scaleInCooldown?: string
  readonly scaleOutCooldown?: string
  readonly show?: boolean
  readonly lambdaReserved?: string
  readonly lambdaProvisioned?: string
  /** true: the last result (.mlops/loadtest.json); a string: that file. */
  readonly fromLoadtest?: string | true
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('scale')
    .description('endpoint autoscaling and Lambda reserved/provisioned concurrency')
    .option('--min <n>', 'fewest endpoint instances (default: endpoint.autoscaling.minCapacity, 1)')
    .option('--max <n>', 'most endpoint instances (default: endpoint.autoscaling.maxCapacity, 2)')
    .option('--target <n>', 'target invocations per instance per MINUTE (default: endpoint.autoscaling.targetInvocationsPerInstance, 70)')
    .option('--target-rps <n>', 'target as requests per SECOND per instance; sets --target to n x 60')
    .option('--scale-in-cooldown <s>', 'seconds after a scale-in before the next one (default: 300)')
    .option('--scale-out-cooldown <s>', 'seconds after a scale-out before the next one (default: 60)')
    .option('--show', 'print the current autoscaling settings and change nothing')
    .option('--lambda-reserved <n>', "the Lambda's reserved concurrency; none removes the reservation (0 blocks every call, and is asked)")
    .option('--lambda-provisioned <n>', 'pre-warmed Lambda executions on the live alias (costs money while idle; 0 removes them)')
    .option('--from-loadtest [file]', "apply a load test's recommendation (default: the last, .mlops/loadtest.json); other flags win")
    .addHelpText(
      'after',
      `
The endpoint scales on SageMakerVariantInvocationsPerInstance, which counts invocations per
instance per MINUTE (not a CPU percentage). AWS's starting point for the target:

  target = max requests/s one instance handles x 0.5 (safety factor) x 60

so an instance that handles 4 requests/s gets --target 120, the same as --target-rps 2.
Flags override endpoint.autoscaling in mlops.config.yaml. A serverless endpoint scales by itself.

Examples:
  $ mlops scale                                  endpoint.autoscaling from the config
  $ mlops scale --min 1 --max 4 --target-rps 2   2 requests/s per instance = 120/min
  $ mlops scale --max 6 --scale-in-cooldown 600
  $ mlops scale --show
  $ mlops scale --lambda-reserved 20 --lambda-provisioned 2
  $ mlops scale --lambda-reserved none            back to the account's unreserved pool
  $ mlops scale --from-loadtest --max 4           target and Lambda concurrency from \`mlops loadtest\``,
    )
    .action(
      action<ScaleFlags>(deps, async (ctx, flags) => {
        const { endpoint, lambda } = parseScaleFlags(flags)
        const [{ runScale }, { renderScale }] = await Promise.all([import('../features/scale/scale.js'), import('../features/scale/render.js')])
        ctx.ui.result(await runScale(ctx, { endpoint, lambda, show: flags.show === true, fromLoadtest: flags.fromLoadtest }), renderScale)
      }),
    )
}

/** Each flag checked by the config field it overrides: endpoint.autoscaling.* and lambda.*Concurrency. */
const autoscaling = AutoscalingSchema.shape
const FLAGS = {
  min: intOption('--min', autoscaling.minCapacity.unwrap(), '1'),
  max: intOption('--max', autoscaling.maxCapacity.unwrap(), '4'),
  target: numberOption('--target', autoscaling.targetInvocationsPerInstance.unwrap(), '120'),
  targetRps: numberOption('--target-rps', TargetRpsSchema, '2'),
  scaleInCooldown: intOption('--scale-in-cooldown', autoscaling.scaleInCooldown.unwrap(), '300'),
  scaleOutCooldown: intOption('--scale-out-cooldown', autoscaling.scaleOutCooldown.unwrap(), '60'),
  lambdaReserved: intOption('--lambda-reserved', LambdaSchema.shape.reservedConcurrency.unwrap(), '20'),
  lambdaProvisioned: intOption('--lambda-provisioned', LambdaSchema.shape.provisionedConcurrency.unwrap(), '2'),
}

/** Every flag checked before any AWS call (UserError naming the flag, exit 2); here only the rules that combine them. */
export function parseScaleFlags(opts: ScaleFlags): {
  endpoint: EndpointScaleOptions
  lambda: { reserved?: number | null; provisioned?: number }
  endpointGiven: boolean
  lambdaGiven: boolean
} {
  const given = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>))
  const endpoint: EndpointScaleOptions = {
    ...given('min', FLAGS.min(opts.min)),
    ...given('max', FLAGS.max(opts.max)),
    ...given('target', FLAGS.target(opts.target)),
    ...given('targetRps', FLAGS.targetRps(opts.targetRps)),
    ...given('scaleInCooldown', FLAGS.scaleInCooldown(opts.scaleInCooldown)),
    ...given('scaleOutCooldown', FLAGS.scaleOutCooldown(opts.scaleOutCooldown)),
  }
  if (endpoint.target !== undefined && endpoint.targetRps !== undefined) {
    throw new UserError('ConflictingFlags', 'Give either --target or --target-rps, not both.', {
      hint: '--target is invocations per instance per MINUTE; --target-rps N is the same as --target N*60.',
    })
  }
  if (endpoint.min !== undefined && endpoint.max !== undefined && endpoint.min > endpoint.max) {
    throw new UserError('MinAboveMax', `--min ${endpoint.min} is above --max ${endpoint.max}.`, {
      hint: `For example: --min ${endpoint.max} --max ${endpoint.min}`,
    })
  }
  const lambda = {
    ...given('reserved', opts.lambdaReserved?.trim().toLowerCase() === 'none' ? null : FLAGS.lambdaReserved(opts.lambdaReserved)),
    ...given('provisioned', FLAGS.lambdaProvisioned(opts.lambdaProvisioned)),
  }
  const endpointGiven = Object.keys(endpoint).length > 0
  const lambdaGiven = Object.keys(lambda).length > 0
  if (opts.show && (endpointGiven || lambdaGiven)) {
    throw new UserError('ConflictingFlags', '--show only prints the current settings; it takes no other scale flags.', {
      hint: 'Run `mlops scale --show` on its own, or drop --show to change the settings.',
    })
  }
  return { endpoint, lambda, endpointGiven, lambdaGiven }
}
