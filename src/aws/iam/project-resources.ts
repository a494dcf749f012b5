import {
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesForRoleCommand,
  ListRolePoliciesCommand,
  RemoveRoleFromInstanceProfileCommand,
  type IAMClient,
  type InstanceProfile,
  type Role,
} from '@aws-sdk/client-iam'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'

/** The IAM reads and deletes of `status` and `teardown`. Not found is an answer; anything else propagates. */

const ctx = (operation: string, resource: string) => ({ service: 'iam', operation, resource })

export async function getRoleIfExists(iam: IAMClient, name: string): Promise<Role | undefined> {
  return (await callAwsOrUndefined(ctx('GetRole', name), () => iam.send(new GetRoleCommand({ RoleName: name }))))?.Role
}

export async function listInstanceProfileNamesForRole(iam: IAMClient, roleName: string): Promise<string[]> {
  const out = await callAws(ctx('ListInstanceProfilesForRole', roleName), () => iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: roleName })))
  return (out.InstanceProfiles ?? []).map((p) => p.InstanceProfileName!)
}

export async function getInstanceProfileIfExists(iam: IAMClient, name: string): Promise<InstanceProfile | undefined> {
  return (await callAwsOrUndefined(ctx('GetInstanceProfile', name), () => iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))))
    ?.InstanceProfile
}

/**
 * Deletes a role the way IAM requires: inline policies, attached policies and instance-profile
 * memberships first, then the role. False when the role was already gone.
 */
export async function deleteRoleCompletely(iam: IAMClient, roleName: string, instanceProfiles: readonly string[]): Promise<boolean> {
  const inline = await callAwsOrUndefined(ctx('ListRolePolicies', roleName), () => iam.send(new ListRolePoliciesCommand({ RoleName: roleName })))
  if (!inline) return false
  for (const PolicyName of inline.PolicyNames ?? []) {
    await callAwsIgnoringNotFound(ctx('DeleteRolePolicy', roleName), () => iam.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName })))
  }
  const attached = await callAws(ctx('ListAttachedRolePolicies', roleName), () => iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName })))
  for (const p of attached.AttachedPolicies ?? []) {
    await callAwsIgnoringNotFound(ctx('DetachRolePolicy', roleName), () =>
      iam.send(new DetachRolePolicyCommand({ RoleName: roleName, PolicyArn: p.PolicyArn })),
    )
  }
  for (const InstanceProfileName of instanceProfiles) {
    await callAwsIgnoringNotFound(ctx('RemoveRoleFromInstanceProfile', InstanceProfileName), () =>
      iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName, RoleName: roleName })),
    )
  }
  return callAwsIgnoringNotFound(ctx('DeleteRole', roleName), () => iam.send(new DeleteRoleCommand({ RoleName: roleName })))
}

export function deleteInstanceProfile(iam: IAMClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteInstanceProfile', name), () => iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: name })))
}
