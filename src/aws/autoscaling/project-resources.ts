import {
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  type ApplicationAutoScalingClient,
  type ScalableTarget,
} from '@aws-sdk/client-application-auto-scaling'
import { callAws, callAwsIgnoringNotFound } from '../errors.js'
import { SCALABLE_DIMENSION, SERVICE_NAMESPACE } from './scaling.js'

/** The Application Auto Scaling reads and deletes of `status` and `teardown`, for SageMaker variants. */

const ctx = (operation: string, resource?: string) => ({ service: 'application-autoscaling', operation, ...(resource ? { resource } : {}) })

export async function describeScalableTargets(client: ApplicationAutoScalingClient, resourceIds: readonly string[]): Promise<ScalableTarget[]> {
  const out = await callAws(ctx('DescribeScalableTargets'), () =>
    client.send(new DescribeScalableTargetsCommand({ ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [...resourceIds] })),
  )
  return out.ScalableTargets ?? []
}

export async function listScalingPolicyNames(client: ApplicationAutoScalingClient, resourceId: string): Promise<string[]> {
  const out = await callAws(ctx('DescribeScalingPolicies', resourceId), () =>
    client.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId })),
  )
  return (out.ScalingPolicies ?? []).map((p) => p.PolicyName!)
}

/** Deletes the policies, then deregisters the target; each "already gone" is fine. */
export async function removeScaling(client: ApplicationAutoScalingClient, resourceId: string, policyNames: readonly string[]): Promise<void> {
  const base = { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId, ScalableDimension: SCALABLE_DIMENSION } as const
  for (const PolicyName of policyNames) {
    await callAwsIgnoringNotFound(ctx('DeleteScalingPolicy', resourceId), () => client.send(new DeleteScalingPolicyCommand({ PolicyName, ...base })))
  }
  await callAwsIgnoringNotFound(ctx('DeregisterScalableTarget', resourceId), () => client.send(new DeregisterScalableTargetCommand(base)))
}
