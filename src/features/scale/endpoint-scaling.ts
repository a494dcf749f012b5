import {
  applyScaling,
  describeScaling,
  rpsForTarget,
  SCALABLE_DIMENSION,
  scalingResourceId,
  SERVICE_NAMESPACE,
  type CurrentScaling,
  type ScalingSettings,
} from '../../aws/autoscaling/scaling.js'
import { describeEndpoint, describeEndpointConfig } from '../../aws/sagemaker/endpoint-lifecycle.js'
import type { MlopsConfig } from '../../config/schema.js'
import { AUTOSCALING_DEFAULTS } from '../../config/sections/endpoint.js'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { planToJson, type PlannedOperation } from '../../shared/plan.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { hourlyPrice } from '../../shared/pricing.js'
import { variantFromConfig } from '../../shared/endpoint-variant.js'
import { planScaling } from './plan.js'
import type { EndpointScaleDryRun, EndpointScaleOptions, EndpointScaleResult, EndpointScaleShow } from './types.js'

/** The endpoint part of `mlops scale`: target tracking on invocations per instance per minute. */

/** Flags over `endpoint.autoscaling` over defaults; UserError when min exceeds max. */
export function resolveScaling(cfg: MlopsConfig, flags: EndpointScaleOptions): ScalingSettings {
  if (flags.target !== undefined && flags.targetRps !== undefined) {
    throw new UserError('ConflictingFlags', 'Give either --target or --target-rps, not both.', {
      hint: '--target is invocations per instance per MINUTE; --target-rps N is the same as --target N*60.',
    })
  }
  const a = cfg.endpoint.autoscaling ?? AUTOSCALING_DEFAULTS
  const min = flags.min ?? a.minCapacity
  const max = flags.max ?? a.maxCapacity
  if (min > max) {
    const from = (flag: string, key: string, given: boolean) => (given ? flag : `endpoint.autoscaling.${key}`)
    throw new UserError(
      'MinAboveMax',
      `The minimum capacity ${min} (${from('--min', 'minCapacity', flags.min !== undefined)}) is above the maximum ${max} (${from('--max', 'maxCapacity', flags.max !== undefined)}).`,
      {
        hint: `Use --min ${max} or less, or raise --max to at least ${min}.`,
      },
    )
  }
  const target = flags.targetRps !== undefined ? flags.targetRps * 60 : (flags.target ?? a.targetInvocationsPerInstance)
  return {
    endpointName: resourceNames(cfg).endpoint,
    policyName: resourceNames(cfg).scalingPolicy,
    minCapacity: min,
    maxCapacity: max,
    targetValue: target,
    scaleInCooldown: flags.scaleInCooldown ?? a.scaleInCooldown,
    scaleOutCooldown: flags.scaleOutCooldown ?? a.scaleOutCooldown,
  }
}

/** DescribeEndpoint + DescribeEndpointConfig: the endpoint must exist, be InService and have instances. */
async function endpointVariant(ctx: CommandContext, cfg: MlopsConfig, forShow: boolean) {
  const { sagemaker } = await ctx.clients(['sagemaker'], cfg)
  const name = resourceNames(cfg).endpoint
  const d = await describeEndpoint(sagemaker, name)
  if (!d) {
    throw new UserError('EndpointNotFound', `Endpoint ${name} does not exist (in this account and region).`, {
      hint: 'Deploy it first with `mlops deploy`; check --region and --profile.',
    })
  }
  const config = d.EndpointConfigName ? await describeEndpointConfig(sagemaker, d.EndpointConfigName) : undefined
  const variant = variantFromConfig(config?.ProductionVariants?.[0])
  const pv = d.ProductionVariants?.[0]
  if (!forShow) {
    if (variant?.kind === 'serverless') {
      throw new UserError(
        'ServerlessScalesItself',
        `Endpoint ${name} is serverless: it scales by itself, from zero up to ${variant.maxConcurrency} concurrent invocations.`,
        {
          hint: `Nothing to register. To allow more concurrency: \`mlops deploy --serverless --max-concurrency <n>\`; for instance autoscaling, deploy with --instance-type first.`,
        },
      )
    }
    if (d.EndpointStatus !== 'InService') {
      throw new UserError('EndpointBusy', `Endpoint ${name} is ${d.EndpointStatus}; autoscaling can be set once it is InService.`, {
        hint: 'Wait for it (`mlops status`), then run `mlops scale` again.',
      })
    }
  }
  return { name, d, variant, pv }
}

/** The reads of `describeScaling`: the scalable target, then its policies when it is registered. */
function planDescribeScaling(resourceId: string, note?: string): PlannedOperation[] {
  return [
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [resourceId], ScalableDimension: SCALABLE_DIMENSION },
      ...(note ? { note } : {}),
    },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalingPolicies',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId, ScalableDimension: SCALABLE_DIMENSION },
      note: 'only when the target is registered',
    },
  ]
}

export async function runEndpointScale(
  ctx: CommandContext,
  cfg: MlopsConfig,
  flags: EndpointScaleOptions,
): Promise<Outcome<EndpointScaleResult, EndpointScaleDryRun>> {
  const s = resolveScaling(cfg, flags)
  const base = {
    endpoint: s.endpointName,
    resourceId: scalingResourceId(s.endpointName),
    minCapacity: s.minCapacity,
    maxCapacity: s.maxCapacity,
    policyName: s.policyName,
    targetValue: s.targetValue,
    targetRps: rpsForTarget(s.targetValue),
    scaleInCooldown: s.scaleInCooldown,
    scaleOutCooldown: s.scaleOutCooldown,
  }
  if (ctx.dryRun) {
    const ops: PlannedOperation[] = [
      { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: s.endpointName }, note: 'must exist and be InService' },
      {
        service: 'sagemaker',
        operation: 'DescribeEndpointConfig',
        input: { EndpointConfigName: '<config the endpoint serves>' },
        note: 'a serverless endpoint scales by itself and is refused',
      },
      ...planDescribeScaling(scalingResourceId(s.endpointName), 'the settings before this change, reported as previous'),
      ...planScaling(s),
    ]
    const type = cfg.endpoint.instanceType
    const each = hourlyPrice(type)
    return planned({
      title: `endpoint autoscaling for ${s.endpointName}`,
      operations: ops,
      details: { dryRun: true, operations: planToJson(ops), ...base, ...(each !== undefined ? { maxHourlyUsd: each * s.maxCapacity } : {}) },
    })
  }
  return done(await applyEndpointScale(ctx, cfg, await readEndpointScale(ctx, cfg, s)))
}

/** What the endpoint part read before any change: the settings, the variant and the registration before. */
export interface PreparedEndpointScale {
  readonly settings: ScalingSettings
  readonly instanceType?: string
  readonly previous?: CurrentScaling
}

/** The endpoint part's reads and checks (exists, InService, not serverless), and no write. */
export async function prepareEndpointScale(ctx: CommandContext, cfg: MlopsConfig, flags: EndpointScaleOptions): Promise<PreparedEndpointScale> {
  return readEndpointScale(ctx, cfg, resolveScaling(cfg, flags))
}

async function readEndpointScale(ctx: CommandContext, cfg: MlopsConfig, s: ScalingSettings): Promise<PreparedEndpointScale> {
  const { variant } = await endpointVariant(ctx, cfg, false)
  const { autoscaling } = await ctx.clients(['autoscaling'], cfg)
  const previous = await describeScaling(autoscaling, s.endpointName)
  return { settings: s, ...(variant?.kind === 'instance' ? { instanceType: variant.instanceType } : {}), ...(previous ? { previous } : {}) }
}

/** Registers the target and puts the policy of a prepared endpoint part, and records it. */
export async function applyEndpointScale(ctx: CommandContext, cfg: MlopsConfig, p: PreparedEndpointScale): Promise<EndpointScaleResult> {
  const s = p.settings
  const resourceId = scalingResourceId(s.endpointName)
  const { autoscaling } = await ctx.clients(['autoscaling'], cfg)
  const out = await applyScaling(autoscaling, s)
  await ctx.state().record({
    kind: 'scaling-target',
    name: resourceId,
    region: ctx.awsSettings(cfg).region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { ...s },
  })
  const type = p.instanceType
  const each = type ? hourlyPrice(type) : undefined
  return {
    endpoint: s.endpointName,
    resourceId,
    minCapacity: s.minCapacity,
    maxCapacity: s.maxCapacity,
    policyName: s.policyName,
    targetValue: s.targetValue,
    targetRps: rpsForTarget(s.targetValue),
    scaleInCooldown: s.scaleInCooldown,
    scaleOutCooldown: s.scaleOutCooldown,
    ...(out.policyArn ? { policyArn: out.policyArn } : {}),
    ...(type ? { instanceType: type } : {}),
    ...(each !== undefined ? { maxHourlyUsd: each * s.maxCapacity } : {}),
    ...(p.previous ? { previous: p.previous } : {}),
  }
}

export async function showEndpointScale(ctx: CommandContext, cfg: MlopsConfig): Promise<Outcome<EndpointScaleShow>> {
  const name = resourceNames(cfg).endpoint
  const resourceId = scalingResourceId(name)
  if (ctx.dryRun) {
    return planned({
      title: 'show endpoint autoscaling',
      operations: [
        { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: name } },
        { service: 'sagemaker', operation: 'DescribeEndpointConfig', input: { EndpointConfigName: '<config the endpoint serves>' } },
        ...planDescribeScaling(resourceId),
      ],
    })
  }
  const { d, variant, pv } = await endpointVariant(ctx, cfg, true)
  const { autoscaling } = await ctx.clients(['autoscaling'], cfg)
  const scaling = await describeScaling(autoscaling, name)
  return done({
    endpoint: name,
    resourceId,
    ...(d.EndpointStatus ? { status: d.EndpointStatus } : {}),
    ...(variant ? { variant } : {}),
    ...(pv?.CurrentInstanceCount !== undefined ? { currentInstances: pv.CurrentInstanceCount } : {}),
    ...(pv?.DesiredInstanceCount !== undefined ? { desiredInstances: pv.DesiredInstanceCount } : {}),
    ...(scaling ? { scaling } : {}),
  })
}
