import type { IAMClient } from '@aws-sdk/client-iam'
import type { MlopsConfig } from '../../config/schema.js'
import { projectTags, resourceNames } from '../naming.js'
import type { PlannedOperation } from '../plan.js'
import { partitionOf } from '../../aws/arn.js'
import { ensureRole, type EnsureRoleResult } from '../../aws/iam/roles.js'
import { planRole, serviceTrustPolicy, type PolicyDocument, type RoleSpec } from './policy.js'

/**
 * The Lambda's execution role `<project>-lambda`. The course project attached
 * AmazonSageMakerFullAccess to call one API; this role can do exactly two things: invoke this
 * project's endpoint and write the function's own logs. ensureRole converges an existing role to
 * this spec, detaching any managed policy someone attached by hand.
 */

type LambdaRoleConfig = Pick<MlopsConfig, 'project' | 'endpoint' | 'lambda'>

const LAMBDA_POLICY_NAME = 'mlops-lambda'

/** The endpoint ARN as IAM matches it: SageMaker lower-cases endpoint names in ARNs. */
export function endpointArn(endpointName: string, accountId: string, region: string): string {
  return `arn:${partitionOf(region)}:sagemaker:${region}:${accountId}:endpoint/${endpointName.toLowerCase()}`
}

/** The function's log group ARN with the `:*` suffix that covers its streams. */
export function functionLogGroupArn(functionName: string, accountId: string, region: string): string {
  return `arn:${partitionOf(region)}:logs:${region}:${accountId}:log-group:/aws/lambda/${functionName}:*`
}

/** The inline policy: InvokeEndpoint on one endpoint, logs on one log group. Nothing else. */
export function lambdaRolePolicy(cfg: LambdaRoleConfig, accountId: string, region: string): PolicyDocument {
  const names = resourceNames(cfg)
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeModelEndpoint',
        Effect: 'Allow',
        Action: 'sagemaker:InvokeEndpoint',
        Resource: endpointArn(names.endpoint, accountId, region),
      },
      {
        // CreateLogGroup only matters if someone deletes the group lambda-setup created (with retention).
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: functionLogGroupArn(names.lambdaFunction, accountId, region),
      },
    ],
  }
}

export function lambdaRoleSpec(cfg: LambdaRoleConfig, accountId: string, region: string): RoleSpec {
  const names = resourceNames(cfg)
  return {
    name: names.lambdaRole,
    description: `Execution role of Lambda ${names.lambdaFunction} (mlops project ${cfg.project.name}): invoke endpoint ${names.endpoint}, write own logs`,
    // aws:SourceAccount keeps another account's Lambda from using this role (confused deputy).
    trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', accountId),
    inlinePolicies: { [LAMBDA_POLICY_NAME]: lambdaRolePolicy(cfg, accountId, region) },
    managedPolicyArns: [],
    tags: projectTags(cfg.project.name),
  }
}

export function lambdaRoleArn(cfg: Pick<MlopsConfig, 'project'>, accountId: string, region: string): string {
  return `arn:${partitionOf(region)}:iam::${accountId}:role/${resourceNames(cfg).lambdaRole}`
}

export function ensureLambdaRole(iam: IAMClient, cfg: LambdaRoleConfig, accountId: string, region: string): Promise<EnsureRoleResult> {
  return ensureRole(iam, lambdaRoleSpec(cfg, accountId, region))
}

export function planLambdaRole(cfg: LambdaRoleConfig, accountId: string, region: string): PlannedOperation[] {
  return planRole(lambdaRoleSpec(cfg, accountId, region))
}
