import type { MlopsConfig } from '../../config/schema.js'
import { projectTags, resourceNames } from '../naming.js'
import { serviceTrustPolicy, type PolicyDocument, type RoleSpec, type RoleTarget } from './policy.js'

/**
 * The Lambda's execution role `<project>-lambda`, as a pure spec. The course project attached
 * AmazonSageMakerFullAccess to call one API; this role can do exactly two things: invoke this
 * project's endpoint and write the function's own logs. The feature hands the spec to
 * aws/iam/roles.ts's ensureRole, which converges an existing role to it (detaching any managed
 * policy someone attached by hand). The spec is plain data in the vocabulary every mlops role uses
 * (./policy.ts); the partition is the caller's (aws/arn.ts partitionOf).
 */

type LambdaRoleConfig = Pick<MlopsConfig, 'project' | 'endpoint' | 'lambda'>

const LAMBDA_POLICY_NAME = 'mlops-lambda'

/** The endpoint ARN as IAM matches it: SageMaker lower-cases endpoint names in ARNs. */
export function endpointArn(endpointName: string, s: RoleTarget): string {
  return `arn:${s.partition}:sagemaker:${s.region}:${s.accountId}:endpoint/${endpointName.toLowerCase()}`
}

/** The function's log group ARN with the `:*` suffix that covers its streams. */
export function functionLogGroupArn(functionName: string, s: RoleTarget): string {
  return `arn:${s.partition}:logs:${s.region}:${s.accountId}:log-group:/aws/lambda/${functionName}:*`
}

/** The inline policy: InvokeEndpoint on one endpoint, logs on one log group. Nothing else. */
export function lambdaRolePolicy(cfg: LambdaRoleConfig, s: RoleTarget): PolicyDocument {
  const names = resourceNames(cfg)
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'InvokeModelEndpoint',
        Effect: 'Allow',
        Action: 'sagemaker:InvokeEndpoint',
        Resource: endpointArn(names.endpoint, s),
      },
      {
        // CreateLogGroup only matters if someone deletes the group lambda-setup created (with retention).
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: functionLogGroupArn(names.lambdaFunction, s),
      },
    ],
  }
}

/** The whole role: trust, the one inline policy, no managed policies, the project tags. */
export function lambdaRoleSpec(cfg: LambdaRoleConfig, s: RoleTarget): RoleSpec {
  const names = resourceNames(cfg)
  return {
    name: names.lambdaRole,
    description: `Execution role of Lambda ${names.lambdaFunction} (mlops project ${cfg.project.name}): invoke endpoint ${names.endpoint}, write own logs`,
    // aws:SourceAccount keeps another account's Lambda from using this role (confused deputy).
    trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', s.accountId),
    inlinePolicies: { [LAMBDA_POLICY_NAME]: lambdaRolePolicy(cfg, s) },
    managedPolicyArns: [],
    tags: projectTags(cfg.project.name),
  }
}

export function lambdaRoleArn(cfg: Pick<MlopsConfig, 'project'>, s: RoleTarget): string {
  return `arn:${s.partition}:iam::${s.accountId}:role/${resourceNames(cfg).lambdaRole}`
}
