/**
 * The instance role of the `train-ec2` box, as a pure spec from plain values:
 * AmazonSSMManagedInstanceCore (the agent talks to SSM) plus S3 access scoped to the project's
 * data, code and output prefixes and its own command-output log group. Nothing else: no
 * FullAccess policy, no write to the data, no access to other prefixes. The feature creates or
 * converges it with aws/iam/roles.ts (whose RoleSpec this shape matches).
 */

import type { MlopsConfig } from '../../config/schema.js'
import { projectTags, resourceNames } from '../naming.js'
import { projectPrefixes } from './execution-role.js'
import { kmsStatement, serviceTrustPolicy, type PolicyStatement, type RoleSpec, type RoleTarget } from './policy.js'

export const SSM_CORE_POLICY = 'AmazonSSMManagedInstanceCore'
export const EC2_INLINE_POLICY = 'mlops-train-ec2'

/** Everything the role depends on, as plain values. */
export interface Ec2RoleInput {
  readonly roleName: string
  readonly project: string
  /** `aws`, `aws-cn` or `aws-us-gov`. */
  readonly partition: string
  readonly region: string
  readonly accountId: string
  readonly bucket: string
  /** Key prefixes in the bucket (no leading or trailing slash). */
  readonly prefixes: { readonly data: string; readonly code: string; readonly output: string }
  /** The log group Run Command writes the box's output to. */
  readonly logGroupName: string
  /** Grant on the data's KMS key, when the data is SSE-KMS encrypted. */
  readonly dataKeyStatement?: PolicyStatement
  readonly tags: readonly { Key: string; Value: string }[]
}

/** The managed policy ARN in a partition. */
export function ssmCorePolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/${SSM_CORE_POLICY}`
}

/** The role spec: trust ec2.amazonaws.com, SSM core, scoped S3 and logs. */
export function ec2RoleSpec(o: Ec2RoleInput): RoleSpec {
  const p = o.partition
  const bucketArn = `arn:${p}:s3:::${o.bucket}`
  const { data, code, output } = o.prefixes
  const logGroupArn = `arn:${p}:logs:${o.region}:${o.accountId}:log-group:${o.logGroupName}`
  const statements: PolicyStatement[] = [
    {
      Sid: 'ListProjectPrefixes',
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: bucketArn,
      Condition: { StringLike: { 's3:prefix': [data, `${data}/*`, code, `${code}/*`, output, `${output}/*`] } },
    },
    { Sid: 'ReadDataAndCode', Effect: 'Allow', Action: 's3:GetObject', Resource: [`${bucketArn}/${data}/*`, `${bucketArn}/${code}/*`] },
    {
      // Only this project's EC2 runs (`<project>-ec2-<timestamp>`), not SageMaker jobs' output.
      Sid: 'WriteRunOutput',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
      Resource: `${bucketArn}/${output}/${o.project}-ec2-*`,
    },
    {
      // Run Command's CloudWatch output is written with the instance's credentials.
      Sid: 'CommandOutputLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: [logGroupArn, `${logGroupArn}:*`],
    },
    {
      // The agent checks that the group exists first; DescribeLogGroups is only grantable on log-group:*.
      Sid: 'FindCommandOutputLogGroup',
      Effect: 'Allow',
      Action: 'logs:DescribeLogGroups',
      Resource: `arn:${p}:logs:${o.region}:${o.accountId}:log-group:*`,
    },
  ]
  if (o.dataKeyStatement) statements.push(o.dataKeyStatement)
  return {
    name: o.roleName,
    description: `EC2 instance role for mlops train-ec2 in project ${o.project} (SSM + scoped S3, managed by mlops)`,
    // The plain service trust, without aws:SourceAccount / aws:SourceArn: EC2 does not set those keys
    // when it assumes an instance-profile role, so with one the box would get no credentials and its
    // SSM agent would never come online (issue 14 item 8). Only this account can put the role in an
    // instance profile (iam:PassRole), which is the confused-deputy guard.
    trustPolicy: serviceTrustPolicy('ec2.amazonaws.com'),
    inlinePolicies: { [EC2_INLINE_POLICY]: { Version: '2012-10-17', Statement: statements } },
    managedPolicyArns: [ssmCorePolicyArn(p)],
    tags: o.tags,
  }
}

/** CloudWatch log group for the command output of a project's EC2 runs (the role may write only there). */
export function commandLogGroupName(project: string): string {
  return `/mlops/${project}/train-ec2`
}

/** The role's plain inputs for a config and target, with the grant on the data's KMS key when it has one. */
export function ec2RoleInputFor(cfg: Pick<MlopsConfig, 'data' | 'training' | 'project'>, target: RoleTarget): Ec2RoleInput {
  const { accountId, region, partition } = target
  const { data, code, output } = projectPrefixes(cfg)
  const dataKeyStatement = kmsStatement(cfg.data.kmsKeyId, partition, region, accountId)
  return {
    roleName: resourceNames(cfg).ec2Role,
    project: cfg.project.name,
    accountId,
    region,
    partition,
    ...(dataKeyStatement ? { dataKeyStatement } : {}),
    bucket: cfg.data.bucket,
    prefixes: { data, code, output },
    logGroupName: commandLogGroupName(cfg.project.name),
    tags: projectTags(cfg.project.name),
  }
}
