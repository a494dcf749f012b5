import path from 'node:path'
import {
  applyScaling,
  describeScaling,
  removeScaling,
  scalingFromCurrent,
  scalingResourceId,
  type CurrentScaling,
  type ScalingSettings,
} from '../../aws/autoscaling/scaling.js'
import type { AwsClients } from '../../aws/clients.js'
import { assertDeployed, updateEndpoint, waitForEndpoint, type EndpointDescription } from '../../aws/sagemaker/endpoint-lifecycle.js'
import { invokeEndpoint } from '../../aws/sagemaker/invoke-model.js'
import type { Prediction } from '../../aws/sagemaker/prediction.js'
import { AUTOSCALING_DEFAULTS } from '../../config/sections/endpoint.js'
import type { CommandContext } from '../../context.js'
import { InterruptedError, OperationError, type MlopsError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { formatDuration } from '../../shared/duration.js'
import { buildUpdateEndpointInput, scalingBlocksUpdate, type DeploySettings } from './plan.js'
import type { VariantSpec } from '../../shared/endpoint-variant.js'

/**
 * The parts of `deploy` after the new config exists: waiting with visible status, the blue/green
 * switch with autoscaling taken off and put back around an instance-type change, and the smoke
 * test with its optional rollback.
 */

export type DeployClients = Pick<AwsClients, 'sagemaker' | 'sagemakerRuntime' | 's3' | 'iam' | 'sts' | 'autoscaling'>
type Clients = DeployClients

export interface SmokeTestResult {
  readonly image: string
  readonly predictions: Prediction[]
  readonly latencyMs: number
}

/** What happened to the variant's autoscaling during a deploy. */
export interface AutoscalingOutcome {
  readonly action: 'kept' | 're-registered' | 'removed'
  readonly minCapacity?: number
  readonly maxCapacity?: number
}

export async function recordEndpoint(
  ctx: CommandContext,
  s: DeploySettings,
  arn: string | undefined,
  status: string,
  config: string,
  variant: VariantSpec = s.variant,
): Promise<void> {
  await ctx.state().record({
    kind: 'endpoint',
    name: s.endpointName,
    ...(arn ? { arn } : {}),
    region: s.region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { status, endpointConfig: config, variant },
  })
}

/** Waits with a spinner; turns Ctrl-C into a message that says the endpoint keeps changing on AWS. */
export async function waitWithStatus(
  ctx: CommandContext,
  aws: Clients,
  s: DeploySettings,
  initial: string,
  expectConfig?: string,
): Promise<EndpointDescription> {
  const spin = ctx.ui.spinner(`Endpoint ${s.endpointName}: ${initial} (deadline ${formatDuration(s.waitTimeoutSeconds)})`)
  let last = initial
  try {
    const d = await waitForEndpoint(aws.sagemaker, s.endpointName, {
      timeoutMs: s.waitTimeoutSeconds * 1000,
      clock: ctx.clock,
      signal: ctx.signal,
      ...(expectConfig ? { expectConfig } : {}),
      onStatus: (status, elapsed) => {
        last = status
        spin.update(`Endpoint ${s.endpointName}: ${status} (${formatDuration(elapsed / 1000)})`)
      },
    })
    spin.stop()
    return d
  } catch (e) {
    spin.fail(`Endpoint ${s.endpointName}: stopped waiting (${last})`)
    if (e instanceof InterruptedError) {
      throw new InterruptedError(`Interrupted while waiting: endpoint ${s.endpointName} is still ${last} on AWS and carries on without mlops.`, {
        hint: '`mlops status` shows where it got to; `mlops teardown` removes it.',
      })
    }
    throw e
  }
}

export interface SwitchOptions {
  readonly to: string
  readonly toVariant: VariantSpec
  readonly fromVariant: VariantSpec | undefined
  readonly scaling: CurrentScaling | undefined
  /** --instance-count was given: do not keep the autoscaled count. */
  readonly explicitCount: boolean
}

/**
 * UpdateEndpoint to another config and wait. Autoscaling is taken off first when the instance type
 * changes (SageMaker refuses otherwise) and put back afterwards with the same settings, also when
 * SageMaker rolled the update back.
 */
export async function switchConfig(
  ctx: CommandContext,
  aws: Clients,
  s: DeploySettings,
  o: SwitchOptions,
): Promise<{ final: EndpointDescription; autoscaling?: AutoscalingOutcome }> {
  const ui = ctx.ui
  const blocks = Boolean(o.scaling) && scalingBlocksUpdate(o.fromVariant, o.toVariant)
  let restore: ScalingSettings | undefined
  if (o.scaling && blocks) {
    restore = scalingFromCurrent(s.endpointName, o.scaling, {
      policyName: resourceNames({ project: { name: s.project } }).scalingPolicy,
      targetValue: AUTOSCALING_DEFAULTS.targetInvocationsPerInstance,
      scaleInCooldown: AUTOSCALING_DEFAULTS.scaleInCooldown,
      scaleOutCooldown: AUTOSCALING_DEFAULTS.scaleOutCooldown,
    })
    ui.step(`Taking autoscaling off ${o.scaling.resourceId} for the instance-type change (restored after the update)`)
    await removeScaling(
      aws.autoscaling,
      o.scaling.resourceId,
      o.scaling.policies.map((p) => p.name),
    )
  }
  const retain = Boolean(o.scaling) && !blocks && !o.explicitCount
  await updateEndpoint(aws.sagemaker, buildUpdateEndpointInput({ ...s, variant: o.toVariant }, o.to, { retainInstanceCount: retain }))
  await recordEndpoint(ctx, s, undefined, 'Updating', o.to, o.toVariant)
  let final: EndpointDescription
  try {
    final = await waitWithStatus(ctx, aws, s, 'Updating', o.to)
  } catch (e) {
    if (restore)
      ui.warn(
        `Autoscaling of ${scalingResourceId(s.endpointName)} is off for the update; once the endpoint is InService restore it with \`mlops scale --min ${restore.minCapacity} --max ${restore.maxCapacity}\`.`,
      )
    throw e
  }
  let autoscaling: AutoscalingOutcome | undefined = o.scaling
    ? { action: 'kept', minCapacity: o.scaling.minCapacity, maxCapacity: o.scaling.maxCapacity }
    : undefined
  if (restore) {
    const serving = final.EndpointConfigName === o.to ? o.toVariant : o.fromVariant
    if (final.EndpointStatus === 'InService' && serving?.kind === 'instance') {
      await applyScaling(aws.autoscaling, restore)
      await ctx.state().record({
        kind: 'scaling-target',
        name: scalingResourceId(s.endpointName),
        region: s.region,
        createdAt: new Date(ctx.clock.now()).toISOString(),
        details: { ...restore },
      })
      ui.step(`Autoscaling restored: ${restore.minCapacity}-${restore.maxCapacity} instances, target ${restore.targetValue} invocations/instance/minute`)
      autoscaling = { action: 're-registered', minCapacity: restore.minCapacity, maxCapacity: restore.maxCapacity }
    } else if (final.EndpointStatus === 'InService') {
      await ctx.state().remove('scaling-target', scalingResourceId(s.endpointName))
      ui.warn('Autoscaling removed: a serverless endpoint scales by itself (up to its max concurrency).')
      autoscaling = { action: 'removed' }
    }
  }
  assertDeployed(final, o.to, { updating: true })
  return { final, ...(autoscaling ? { autoscaling } : {}) }
}

export interface SmokeOptions {
  readonly bytes: Uint8Array
  readonly file: string
  readonly previousConfig?: string
  readonly previousVariant?: VariantSpec
  readonly rollback: boolean
}

/** Invokes the new endpoint with the sample; on failure optionally restores the previous config, then exits 1. */
export async function smokeTestOrRollback(ctx: CommandContext, aws: Clients, s: DeploySettings, o: SmokeOptions): Promise<SmokeTestResult> {
  const label = path.basename(o.file)
  const spin = ctx.ui.spinner(`Smoke test: sending ${label} to ${s.endpointName}`)
  let failure: MlopsError | Error
  try {
    const answer = await invokeEndpoint(aws.sagemakerRuntime, s.endpointName, { body: o.bytes, contentType: 'image/jpeg', label }, () => ctx.clock.now())
    const top = answer.predictions.slice(0, 3)
    spin.succeed(`Smoke test passed in ${Math.round(answer.latencyMs)} ms: ${top.map((p) => `${p.label} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`)
    return { image: label, predictions: top, latencyMs: answer.latencyMs }
  } catch (e) {
    spin.fail('Smoke test failed')
    if (e instanceof InterruptedError) throw e
    failure = e as Error
  }
  const why = failure.message
  if (!o.rollback || !o.previousConfig) {
    throw new OperationError('SmokeTestFailed', `Smoke test failed on endpoint ${s.endpointName} (now serving ${s.configName}): ${why}`, {
      hint: o.previousConfig
        ? `The new version is serving. Restore the previous one with \`aws sagemaker update-endpoint --endpoint-name ${s.endpointName} --endpoint-config-name ${o.previousConfig}\`, or deploy with --rollback-on-failure next time.`
        : `There is no previous version to go back to. Fix the model or handler and deploy again, or remove the endpoint with \`mlops teardown\`.`,
      cause: failure,
      details: { endpoint: s.endpointName, config: s.configName, previousConfig: o.previousConfig },
    })
  }
  ctx.ui.warn(`Smoke test failed (${why}); rolling back to ${o.previousConfig}.`)
  const scaling = await describeScaling(aws.autoscaling, s.endpointName)
  const back = await switchConfig(ctx, aws, s, {
    to: o.previousConfig,
    toVariant: o.previousVariant ?? s.variant,
    fromVariant: s.variant,
    scaling,
    explicitCount: false,
  })
  await recordEndpoint(ctx, s, back.final.EndpointArn, back.final.EndpointStatus ?? 'InService', o.previousConfig, o.previousVariant ?? s.variant)
  throw new OperationError('SmokeTestFailed', `Smoke test failed on the new version (${why}); endpoint ${s.endpointName} is back on ${o.previousConfig}.`, {
    hint: `The failed model ${s.modelName} and config ${s.configName} are kept for inspection; the container's logs are in CloudWatch (/aws/sagemaker/Endpoints/${s.endpointName}).`,
    cause: failure,
    details: { endpoint: s.endpointName, rolledBackTo: o.previousConfig, failedConfig: s.configName },
  })
}
