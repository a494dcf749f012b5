import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
  type ApplicationAutoScalingClient,
  type PutScalingPolicyRequest,
  type RegisterScalableTargetRequest,
} from '@aws-sdk/client-application-auto-scaling'
import { callAws, callAwsIgnoringNotFound } from '../error-translation.js'

/**
 * Application Auto Scaling for the endpoint's variant (reference sagemaker.md 4.1): a scalable
 * target on `sagemaker:variant:DesiredInstanceCount` and one target-tracking policy on
 * SageMakerVariantInvocationsPerInstance, whose unit is invocations per instance per MINUTE.
 */

export const SERVICE_NAMESPACE = 'sagemaker'
export const SCALABLE_DIMENSION = 'sagemaker:variant:DesiredInstanceCount'
export const PREDEFINED_METRIC = 'SageMakerVariantInvocationsPerInstance'

/** `endpoint/<endpoint>/variant/AllTraffic`. */
export function scalingResourceId(endpointName: string, variantName = 'AllTraffic'): string {
  return `endpoint/${endpointName}/variant/${variantName}`
}

export interface ScalingSettings {
  readonly endpointName: string
  readonly policyName: string
  readonly minCapacity: number
  readonly maxCapacity: number
  /** Invocations per instance per minute. */
  readonly targetValue: number
  /** Seconds. */
  readonly scaleInCooldown: number
  /** Seconds. */
  readonly scaleOutCooldown: number
}

/** The current scaling of a variant, as Application Auto Scaling reports it. */
export interface CurrentScaling {
  readonly resourceId: string
  readonly minCapacity: number
  readonly maxCapacity: number
  readonly policies: readonly {
    readonly name: string
    readonly type?: string
    readonly metric?: string
    readonly targetValue?: number
    readonly scaleInCooldown?: number
    readonly scaleOutCooldown?: number
  }[]
}

/** Requests per second at which a target value is reached per instance (target / 60). */
export function rpsForTarget(target: number): number {
  return target / 60
}

export function buildRegisterInput(s: Pick<ScalingSettings, 'endpointName' | 'minCapacity' | 'maxCapacity'>): RegisterScalableTargetRequest {
  return {
    ServiceNamespace: SERVICE_NAMESPACE,
    ResourceId: scalingResourceId(s.endpointName),
    ScalableDimension: SCALABLE_DIMENSION,
    MinCapacity: s.minCapacity,
    MaxCapacity: s.maxCapacity,
  }
}

export function buildPolicyInput(s: ScalingSettings): PutScalingPolicyRequest {
  return {
    PolicyName: s.policyName,
    ServiceNamespace: SERVICE_NAMESPACE,
    ResourceId: scalingResourceId(s.endpointName),
    ScalableDimension: SCALABLE_DIMENSION,
    PolicyType: 'TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration: {
      TargetValue: s.targetValue,
      PredefinedMetricSpecification: { PredefinedMetricType: PREDEFINED_METRIC },
      ScaleInCooldown: s.scaleInCooldown,
      ScaleOutCooldown: s.scaleOutCooldown,
    },
  }
}

/** The variant's scalable target and policies; undefined when it is not registered. */
export async function describeScaling(as: ApplicationAutoScalingClient, endpointName: string): Promise<CurrentScaling | undefined> {
  const resourceId = scalingResourceId(endpointName)
  const targets = await callAws({ service: 'application-autoscaling', operation: 'DescribeScalableTargets', resource: resourceId }, () =>
    as.send(new DescribeScalableTargetsCommand({ ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [resourceId], ScalableDimension: SCALABLE_DIMENSION })),
  )
  const target = targets.ScalableTargets?.find((t) => t.ResourceId === resourceId)
  if (!target) return undefined
  const policies = await callAws({ service: 'application-autoscaling', operation: 'DescribeScalingPolicies', resource: resourceId }, () =>
    as.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId, ScalableDimension: SCALABLE_DIMENSION })),
  )
  return {
    resourceId,
    minCapacity: target.MinCapacity ?? 0,
    maxCapacity: target.MaxCapacity ?? 0,
    policies: (policies.ScalingPolicies ?? []).map((p) => {
      const tt = p.TargetTrackingScalingPolicyConfiguration
      return {
        name: p.PolicyName ?? '',
        type: p.PolicyType,
        metric: tt?.PredefinedMetricSpecification?.PredefinedMetricType ?? (tt?.CustomizedMetricSpecification ? 'custom' : undefined),
        targetValue: tt?.TargetValue,
        scaleInCooldown: tt?.ScaleInCooldown,
        scaleOutCooldown: tt?.ScaleOutCooldown,
      }
    }),
  }
}

/** RegisterScalableTarget then PutScalingPolicy (both idempotent: they update what is there). */
export async function applyScaling(as: ApplicationAutoScalingClient, s: ScalingSettings): Promise<{ policyArn?: string }> {
  const resource = scalingResourceId(s.endpointName)
  await callAws({ service: 'application-autoscaling', operation: 'RegisterScalableTarget', resource }, () =>
    as.send(new RegisterScalableTargetCommand(buildRegisterInput(s))),
  )
  const out = await callAws({ service: 'application-autoscaling', operation: 'PutScalingPolicy', resource }, () =>
    as.send(new PutScalingPolicyCommand(buildPolicyInput(s))),
  )
  return { policyArn: out.PolicyARN }
}

/** Deletes the policies, then deregisters the target (`resourceId` as from {@link scalingResourceId}); each "already gone" is fine. */
export async function removeScaling(as: ApplicationAutoScalingClient, resourceId: string, policyNames: readonly string[]): Promise<void> {
  const base = { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId, ScalableDimension: SCALABLE_DIMENSION } as const
  const gone = async (operation: string, fn: () => Promise<unknown>) => {
    await callAwsIgnoringNotFound({ service: 'application-autoscaling', operation, resource: resourceId }, fn)
  }
  for (const PolicyName of policyNames) await gone('DeleteScalingPolicy', () => as.send(new DeleteScalingPolicyCommand({ PolicyName, ...base })))
  await gone('DeregisterScalableTarget', () => as.send(new DeregisterScalableTargetCommand(base)))
}

/** Settings to re-create `current` after an update (same min, max and first target-tracking policy). */
export function scalingFromCurrent(
  endpointName: string,
  current: CurrentScaling,
  fallback: Omit<ScalingSettings, 'endpointName' | 'minCapacity' | 'maxCapacity'>,
): ScalingSettings {
  const p = current.policies.find((x) => x.metric === PREDEFINED_METRIC) ?? current.policies[0]
  return {
    endpointName,
    minCapacity: current.minCapacity,
    maxCapacity: current.maxCapacity,
    policyName: p?.name || fallback.policyName,
    targetValue: p?.targetValue ?? fallback.targetValue,
    scaleInCooldown: p?.scaleInCooldown ?? fallback.scaleInCooldown,
    scaleOutCooldown: p?.scaleOutCooldown ?? fallback.scaleOutCooldown,
  }
}
