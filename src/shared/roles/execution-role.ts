import type { MlopsConfig } from '../../config/schema.js'
import { projectTags, resourceNames } from '../naming.js'
import type { PlannedOperation } from '../plan.js'
import { kmsStatement, planRole, serviceTrustPolicy, type PolicyDocument, type RoleSpec, type RoleTarget } from './policy.js'

/**
 * The SageMaker execution role mlops creates when `training.roleArn` is not set. Training jobs,
 * tuning jobs and the endpoint's model all run as this role. It can read the project's data and
 * model artifacts, write output and checkpoints, pull the images it runs and write its own logs:
 * nothing else, and no AWS managed FullAccess policy.
 *
 * Pure: plain inputs in, a spec out. The feature converges it with `aws/iam/roles.ts` `ensureRole`
 * and gets the target facts from `aws/iam/role-target.ts` `roleTarget`.
 */

type ExecutionRoleConfig = Pick<MlopsConfig, 'data' | 'training' | 'project'>

/** The account facts the execution role's policy names, with the repositories of the images it pulls. */
export interface ExecutionRoleTarget extends RoleTarget {
  /**
   * ECR repository ARNs of the images the project's jobs and endpoint pull, derived from the image
   * URIs actually used (training and serving, defaults or overrides, any region's registry).
   */
  readonly imageRepositoryArns: readonly string[]
  /** ECR repository ARN of the region's Debugger rule images, where Debugger has them. */
  readonly debuggerRuleRepositoryArn?: string
}

/** Key prefixes of the project in `data.bucket` that the role touches. */
export function projectPrefixes(cfg: Pick<MlopsConfig, 'data' | 'training' | 'project'>) {
  return {
    data: cfg.data.prefix,
    code: `${cfg.project.name}/code`,
    output: cfg.training.outputPrefix,
    checkpoints: `${cfg.project.name}/checkpoints`,
    models: `${cfg.project.name}/models`,
  }
}

export function executionRoleSpec(cfg: ExecutionRoleConfig, target: ExecutionRoleTarget): RoleSpec {
  const { accountId, region, partition: p } = target
  const bucketArn = `arn:${p}:s3:::${cfg.data.bucket}`
  const prefixes = projectPrefixes(cfg)
  const objects = (prefix: string) => `${bucketArn}/${prefix}/*`
  const policy: PolicyDocument = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ListProjectPrefixes',
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: bucketArn,
        Condition: { StringLike: { 's3:prefix': Object.values(prefixes).flatMap((x) => [x, `${x}/*`]) } },
      },
      {
        Sid: 'ReadDataCodeAndModels',
        Effect: 'Allow',
        Action: 's3:GetObject',
        Resource: [objects(prefixes.data), objects(prefixes.code), objects(prefixes.output), objects(prefixes.checkpoints), objects(prefixes.models)],
      },
      {
        Sid: 'WriteOutputAndCheckpoints',
        Effect: 'Allow',
        Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
        Resource: [objects(prefixes.output), objects(prefixes.checkpoints)],
      },
      // SageMaker pulls each image with this role: the three layer actions on that image's own
      // repository, and nothing broader (shared/reference/aws-images-2026.md, IAM facts).
      ...(target.imageRepositoryArns.length > 0
        ? [
            {
              Sid: 'PullImages',
              Effect: 'Allow' as const,
              Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
              Resource: [...target.imageRepositoryArns],
            },
          ]
        : []),
      {
        // GetAuthorizationToken has no resource-level permissions: "*" is the only valid resource.
        Sid: 'EcrLogin',
        Effect: 'Allow',
        Action: 'ecr:GetAuthorizationToken',
        Resource: '*',
      },
      {
        Sid: 'OwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [
          `arn:${p}:logs:${region}:${accountId}:log-group:/aws/sagemaker/TrainingJobs:*`,
          `arn:${p}:logs:${region}:${accountId}:log-group:/aws/sagemaker/Endpoints/*`,
        ],
      },
      {
        // PutMetricData has no resource-level permissions either; the namespace condition scopes it.
        Sid: 'OwnMetrics',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'aws/sagemaker/*'] } },
      },
    ],
  }
  // training.debugger (opt-in): the rules run as processing jobs under this role; they pull the
  // region's rule image and write /aws/sagemaker/ProcessingJobs logs. Nothing of this without it.
  const debuggerRepo = target.debuggerRuleRepositoryArn
  const d = cfg.training.debugger
  if (d && (d.rules.length > 0 || d.profilerReport) && debuggerRepo) {
    policy.Statement.push(
      {
        Sid: 'PullDebuggerRuleImage',
        Effect: 'Allow',
        Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        Resource: [debuggerRepo],
      },
      {
        Sid: 'DebuggerRuleLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        Resource: [`arn:${p}:logs:${region}:${accountId}:log-group:/aws/sagemaker/ProcessingJobs:*`],
      },
    )
  }
  // SSE-KMS data (data.kmsKeyId): jobs must decrypt the dataset and encrypt what they write.
  const kms = kmsStatement(cfg.data.kmsKeyId, p, region, accountId)
  if (kms) policy.Statement.push(kms)
  return {
    name: resourceNames(cfg).trainingRole,
    description: `SageMaker execution role for mlops project ${cfg.project.name} (least privilege, managed by mlops)`,
    trustPolicy: serviceTrustPolicy('sagemaker.amazonaws.com', accountId),
    inlinePolicies: { 'mlops-execution': policy },
    managedPolicyArns: [],
    tags: projectTags(cfg.project.name),
  }
}

/** Dry-run requests for the execution role (none when training.roleArn is given). */
export function planExecutionRole(cfg: ExecutionRoleConfig, target: ExecutionRoleTarget): PlannedOperation[] {
  return cfg.training.roleArn ? [] : planRole(executionRoleSpec(cfg, target))
}

/** The role ARN to show in plans and to pass to jobs: `training.roleArn`, or the project's role. */
export function executionRoleArnFor(cfg: Pick<MlopsConfig, 'training' | 'project'>, target: Pick<RoleTarget, 'accountId' | 'partition'>): string {
  return cfg.training.roleArn ?? `arn:${target.partition}:iam::${target.accountId}:role/${resourceNames(cfg).trainingRole}`
}
