import {
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  type ApplicationAutoScalingClient,
  type ScalableTarget,
} from '@aws-sdk/client-application-auto-scaling'
import { callAws } from '../error-translation.js'
import { SERVICE_NAMESPACE } from './scaling.js'

/** The Application Auto Scaling reads of `status` and `teardown`, for SageMaker variants (the delete is scaling.ts `removeScaling`). */

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
