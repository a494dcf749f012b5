import type { MlopsConfig } from '../../config/schema.js'
import { projectTags, resourceNames } from '../naming.js'

/**
 * The Lambda's execution role `<project>-lambda`, as a pure spec. The course project attached
 * AmazonSageMakerFullAccess to call one API; this role can do exactly two things: invoke this
 * project's endpoint and write the function's own logs. The feature hands the spec to
 * aws/iam/roles.ts's ensureRole, which converges an existing role to it (detaching any managed
 * policy someone attached by hand). Shared sits below aws/, so the spec is plain data: its shape is
 * the RoleSpec that ensureRole takes, and the partition is the caller's (aws/arn.ts partitionOf).
 */

type LambdaRoleConfig = Pick<MlopsConfig, 'project' | 'endpoint' | 'lambda'>

/** Where the role lives. */
export interface RoleScope {
  readonly accountId: string
  readonly region: string
  /** `aws`, `aws-cn` or `aws-us-gov` (aws/arn.ts partitionOf(region)). */
  readonly partition: string
}

interface LambdaPolicyStatement {
  Sid: string
  Effect: 'Allow'
  Action: string | string[]
  Resource: string
}

/** An IAM policy document as ensureRole takes it. */
export interface LambdaPolicyDocument {
  Version: '2012-10-17'
  Statement: LambdaPolicyStatement[]
}

const LAMBDA_POLICY_NAME = 'mlops-lambda'

/** The endpoint ARN as IAM matches it: SageMaker lower-cases endpoint names in ARNs. */
export function endpointArn(endpointName: string, s: RoleScope): string {
  return `arn:${s.partition}:sagemaker:${s.region}:${s.accountId}:endpoint/${endpointName.toLowerCase()}`
}

/** The function's log group ARN with the `:*` suffix that covers its streams. */
export function functionLogGroupArn(functionName: string, s: RoleScope): string {
  return `arn:${s.partition}:logs:${s.region}:${s.accountId}:log-group:/aws/lambda/${functionName}:*`
}

/** The inline policy: InvokeEndpoint on one endpoint, logs on one log group. Nothing else. */
export function lambdaRolePolicy(cfg: LambdaRoleConfig, s: RoleScope): LambdaPolicyDocument {
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
export function lambdaRoleSpec(cfg: LambdaRoleConfig, s: RoleScope) {
  const names = resourceNames(cfg)
  return {
    name: names.lambdaRole,
    description: `Execution role of Lambda ${names.lambdaFunction} (mlops project ${cfg.project.name}): invoke endpoint ${names.endpoint}, write own logs`,
    // aws:SourceAccount keeps another account's Lambda from using this role (confused deputy).
    trustPolicy: {
      Version: '2012-10-17' as const,
      Statement: [
        {
          Effect: 'Allow' as const,
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': s.accountId } },
        },
      ],
    },
    inlinePolicies: { [LAMBDA_POLICY_NAME]: lambdaRolePolicy(cfg, s) },
    managedPolicyArns: [] as string[],
    tags: projectTags(cfg.project.name),
  }
}

export function lambdaRoleArn(cfg: Pick<MlopsConfig, 'project'>, s: RoleScope): string {
  return `arn:${s.partition}:iam::${s.accountId}:role/${resourceNames(cfg).lambdaRole}`
}
