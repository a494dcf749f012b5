import type { EC2Client } from '@aws-sdk/client-ec2'
import { createSecurityGroup, findSecurityGroup, revokeIngress } from '../../aws/ec2/box.js'
import { UserError } from '../../shared/errors.js'
import { hasProjectTags, TAG_PROJECT } from '../../shared/naming.js'
import { buildSecurityGroupInput } from './requests.js'

export interface SecurityGroupResult {
  readonly groupId: string
  readonly groupName: string
  readonly created: boolean
  /** Inbound rules found on a reused group and removed. */
  readonly revokedRules: number
}

/** Finds the project's group by name + tag in the VPC (creating it if missing) and keeps it free of inbound rules. */
export async function ensureSecurityGroup(ec2: EC2Client, project: string, groupName: string, vpcId: string): Promise<SecurityGroupResult> {
  const existing = await findSecurityGroup(ec2, groupName, vpcId)
  if (!existing) {
    const groupId = await createSecurityGroup(ec2, buildSecurityGroupInput(project, groupName, vpcId))
    return { groupId, groupName, created: true, revokedRules: 0 }
  }
  if (!hasProjectTags(existing.tags, project)) {
    throw new UserError('SecurityGroupNotOurs', `Security group ${groupName} (${existing.groupId}) in ${vpcId} is not tagged ${TAG_PROJECT}=${project}.`, {
      hint: 'mlops only reuses groups it created. Rename or delete that group, or use another project name.',
    })
  }
  // Someone opened a port: the box must stay unreachable, so converge back to no inbound rules.
  if (existing.ingress.length > 0) await revokeIngress(ec2, existing.groupId, existing.ingress)
  return { groupId: existing.groupId, groupName, created: false, revokedRules: existing.ingress.length }
}
