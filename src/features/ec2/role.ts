import type { IAMClient } from '@aws-sdk/client-iam'
import type { MlopsConfig } from '../../config/schema.js'
import { partitionOf } from '../../aws/arn.js'
import { ensureInstanceProfile, ensureRole } from '../../aws/iam/roles.js'
import { planRole, type RoleSpec } from '../../shared/roles/policy.js'
import { resourceNames } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { ec2RoleInputFor, ec2RoleSpec } from '../../shared/roles/ec2-role.js'

/** The box's instance role and profile: the pure spec from shared/roles, converged through aws/iam. */

type RoleConfig = Pick<MlopsConfig, 'data' | 'training' | 'project'>

/** The spec for this config, account and region. */
export function ec2RoleFor(cfg: RoleConfig, accountId: string, region: string): RoleSpec {
  return ec2RoleSpec(ec2RoleInputFor(cfg, { accountId, region, partition: partitionOf(region) }))
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
  const spec = ec2RoleFor(cfg, accountId, region)
  const role = await ensureRole(iam, spec)
  const profileName = resourceNames(cfg).ec2InstanceProfile
  const profile = await ensureInstanceProfile(iam, profileName, spec.name, spec.tags)
  return { roleName: spec.name, roleArn: role.arn, profileName, profileArn: profile.arn, created: role.created || profile.created }
}

/** Dry-run requests for the role and its instance profile. */
export function planEc2Role(cfg: RoleConfig, accountId: string, region: string): PlannedOperation[] {
  const spec = ec2RoleFor(cfg, accountId, region)
  const profileName = resourceNames(cfg).ec2InstanceProfile
  return [
    ...planRole(spec),
    { service: 'iam', operation: 'GetInstanceProfile', input: { InstanceProfileName: profileName }, note: 'create only if missing' },
    { service: 'iam', operation: 'CreateInstanceProfile', input: { InstanceProfileName: profileName, Tags: spec.tags } },
    { service: 'iam', operation: 'AddRoleToInstanceProfile', input: { InstanceProfileName: profileName, RoleName: spec.name } },
  ]
}
