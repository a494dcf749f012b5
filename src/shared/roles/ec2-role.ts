import type { IAMClient } from '@aws-sdk/client-iam'
import type { MlopsConfig } from '../../config/schema.js'
import { commandLogGroupName } from '../../features/ec2/requests.js'
import { projectTags, resourceNames } from '../naming.js'
import type { PlannedOperation } from '../plan.js'
import { partitionOf } from '../../aws/arn.js'
import { projectPrefixes } from './execution-role.js'
import { ensureInstanceProfile, ensureRole } from '../../aws/iam/roles.js'
import { kmsStatement, planRole, serviceTrustPolicy, type PolicyDocument, type PolicyStatement, type RoleSpec } from './policy.js'

/**
 * The instance role of the `train-ec2` box, created once and converged on every run:
 * AmazonSSMManagedInstanceCore (the agent talks to SSM) plus S3 access scoped to the project's
 * data, code and output prefixes and its own command-output log group. Nothing else: no
 * FullAccess policy, no write to the data, no access to other prefixes.
 */

export const SSM_CORE_POLICY = 'AmazonSSMManagedInstanceCore'
export const EC2_INLINE_POLICY = 'mlops-train-ec2'

type RoleConfig = Pick<MlopsConfig, 'data' | 'training' | 'project'>

/** The managed policy ARN in the region's partition. */
export function ssmCorePolicyArn(region: string): string {
  return `arn:${partitionOf(region)}:iam::aws:policy/${SSM_CORE_POLICY}`
}

/** The role spec: trust ec2.amazonaws.com, SSM core, scoped S3 and logs. */
export function ec2RoleSpec(cfg: RoleConfig, accountId: string, region: string): RoleSpec {
  const p = partitionOf(region)
  const project = cfg.project.name
  const bucketArn = `arn:${p}:s3:::${cfg.data.bucket}`
  const { data, code, output } = projectPrefixes(cfg)
  const logGroupArn = `arn:${p}:logs:${region}:${accountId}:log-group:${commandLogGroupName(project)}`
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
      Resource: `${bucketArn}/${output}/${project}-ec2-*`,
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
      Resource: `arn:${p}:logs:${region}:${accountId}:log-group:*`,
    },
  ]
  const kms = kmsStatement(cfg.data.kmsKeyId, p, region, accountId)
  if (kms) statements.push(kms)
  const policy: PolicyDocument = { Version: '2012-10-17', Statement: statements }
  return {
    name: resourceNames(cfg).ec2Role,
    description: `EC2 instance role for mlops train-ec2 in project ${project} (SSM + scoped S3, managed by mlops)`,
    trustPolicy: serviceTrustPolicy('ec2.amazonaws.com', accountId),
    inlinePolicies: { [EC2_INLINE_POLICY]: policy },
    managedPolicyArns: [ssmCorePolicyArn(region)],
    tags: projectTags(project),
  }
}

export interface Ec2RoleResult {
  readonly roleName: string
  readonly roleArn: string
  readonly profileName: string
  readonly profileArn: string
  /** True when the role or the profile was created just now (IAM needs time to propagate). */
  readonly created: boolean
}

/** Creates or converges the role, then the instance profile holding it. */
export async function ensureEc2Role(iam: IAMClient, cfg: RoleConfig, accountId: string, region: string): Promise<Ec2RoleResult> {
  const spec = ec2RoleSpec(cfg, accountId, region)
  const role = await ensureRole(iam, spec)
  const profileName = resourceNames(cfg).ec2InstanceProfile
  const profile = await ensureInstanceProfile(iam, profileName, spec.name, spec.tags)
  return { roleName: spec.name, roleArn: role.arn, profileName, profileArn: profile.arn, created: role.created || profile.created }
}

/** Dry-run requests for the role and its instance profile. */
export function planEc2Role(cfg: RoleConfig, accountId: string, region: string): PlannedOperation[] {
  const spec = ec2RoleSpec(cfg, accountId, region)
  const profileName = resourceNames(cfg).ec2InstanceProfile
  return [
    ...planRole(spec),
    { service: 'iam', operation: 'GetInstanceProfile', input: { InstanceProfileName: profileName }, note: 'create only if missing' },
    { service: 'iam', operation: 'CreateInstanceProfile', input: { InstanceProfileName: profileName, Tags: spec.tags } },
    { service: 'iam', operation: 'AddRoleToInstanceProfile', input: { InstanceProfileName: profileName, RoleName: spec.name } },
  ]
}
