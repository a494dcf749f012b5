import type { MlopsConfig } from '../../config/schema.js'
import type { Permissions } from './grants.js'
import { displayAction } from './subject.js'
import type { RoleInput, RolePurpose } from './types.js'
import { iamAccountOf } from '../../aws/arn.js'

/**
 * `--suggest`: scoped replacement policies. For roles whose purpose mlops knows (it created them:
 * the Lambda in front of the endpoint, the training execution role, the EC2 instance role) the
 * policy is the one mlops would write; for other roles with last-accessed data, it keeps only the
 * services (and, where IAM tracks them, the actions) used in the tracking period.
 */

export interface JsonPolicy {
  Version: '2012-10-17'
  Statement: Record<string, unknown>[]
}

export interface Suggestion {
  readonly role: string
  readonly basis: 'mlops-purpose' | 'last-accessed'
  readonly purpose?: RolePurpose
  /** The inline policy to put on the role (replacing its current permissions). */
  readonly policy: JsonPolicy
  /** AWS managed policies to keep attached. */
  readonly keepAttached: readonly string[]
  /** Attached managed policies to detach. */
  readonly detach: readonly string[]
  readonly notes: readonly string[]
}

export interface SuggestContext {
  readonly config?: Pick<MlopsConfig, 'project' | 'data' | 'training' | 'endpoint' | 'lambda'>
  readonly region: string
  /** Effective permissions by role name (to list the actions of services without action-level data). */
  readonly permissions?: ReadonlyMap<string, Permissions>
}

function accountOf(arn: string): string {
  return iamAccountOf(arn) ?? '<account-id>'
}

export async function suggestFor(role: RoleInput, ctx: SuggestContext): Promise<Suggestion | undefined> {
  if (role.purpose && ctx.config) return suggestForPurpose(role, role.purpose, ctx.config, ctx)
  if (role.lastAccessed?.length) return suggestFromLastAccessed(role, ctx)
  return undefined
}

async function suggestForPurpose(role: RoleInput, purpose: RolePurpose, cfg: NonNullable<SuggestContext['config']>, ctx: SuggestContext): Promise<Suggestion> {
  const account = accountOf(role.arn)
  const attachedManaged = role.policies.filter((x) => x.arn).map((x) => x.arn!)
  // The same documents mlops writes when it creates these roles.
  const { executionRoleSpec } = await import('../../shared/roles/execution-role.js')
  if (purpose === 'training') {
    const { roleTarget } = await import('../../aws/iam/role-target.js')
    const { configuredImageUris } = await import('../../aws/sagemaker/images.js')
    const spec = executionRoleSpec(cfg, roleTarget(account, ctx.region, configuredImageUris(ctx.region, cfg)))
    return {
      role: role.name,
      basis: 'mlops-purpose',
      purpose,
      policy: spec.inlinePolicies['mlops-execution'] as unknown as JsonPolicy,
      keepAttached: [],
      detach: attachedManaged,
      notes: ['The SageMaker execution policy mlops creates: project data, code and model prefixes, its own logs and metrics, the PyTorch images.'],
    }
  }
  if (purpose === 'lambda') {
    const { lambdaRolePolicy } = await import('../../shared/roles/lambda-role.js')
    const { partitionOf } = await import('../../aws/arn.js')
    const { resourceNames } = await import('../../shared/naming.js')
    const names = resourceNames(cfg)
    return {
      role: role.name,
      basis: 'mlops-purpose',
      purpose,
      policy: lambdaRolePolicy(cfg, { accountId: account, region: ctx.region, partition: partitionOf(ctx.region) }) as unknown as JsonPolicy,
      keepAttached: [],
      detach: attachedManaged,
      notes: [`The policy mlops writes for the Lambda ${names.lambdaFunction}: it only invokes ${names.endpoint} and writes its own logs.`],
    }
  }
  const { ec2RoleInputFor, ec2RoleSpec, EC2_INLINE_POLICY } = await import('../../shared/roles/ec2-role.js')
  const { partitionOf } = await import('../../aws/arn.js')
  const spec = ec2RoleSpec(ec2RoleInputFor(cfg, { accountId: account, region: ctx.region, partition: partitionOf(ctx.region) }))
  const keep = spec.managedPolicyArns ?? []
  return {
    role: role.name,
    basis: 'mlops-purpose',
    purpose,
    policy: spec.inlinePolicies[EC2_INLINE_POLICY] as unknown as JsonPolicy,
    keepAttached: [...keep],
    detach: attachedManaged.filter((a) => !keep.includes(a)),
    notes: [
      'The policy mlops writes for the train-ec2 box: the SSM agent (AmazonSSMManagedInstanceCore), the project prefixes and its command log group; nothing else.',
    ],
  }
}

function suggestFromLastAccessed(role: RoleInput, ctx: SuggestContext): Suggestion | undefined {
  const used = (role.lastAccessed ?? []).filter((s) => s.lastAuthenticated)
  const perms = ctx.permissions?.get(role.name)
  const actions = new Set<string>()
  const notes: string[] = []
  for (const s of used) {
    const tracked = (s.actions ?? []).filter((a) => a.lastAccessed)
    if (tracked.length) {
      for (const a of tracked) actions.add(`${s.serviceNamespace}:${a.name}`)
      continue
    }
    const granted = perms ? [...perms.actions()].filter((a) => a.startsWith(`${s.serviceNamespace.toLowerCase()}:`)).map(displayAction) : []
    if (granted.length) {
      for (const a of granted) actions.add(a)
      notes.push(`${s.serviceNamespace}: IAM tracks this service, not its actions; all ${granted.length} actions the role has there are kept: trim them.`)
    } else {
      actions.add(`${s.serviceNamespace}:*`)
      notes.push(`${s.serviceNamespace}: used, but the current grants could not be listed; replace ${s.serviceNamespace}:* with the actions you call.`)
    }
  }
  const unused = (role.lastAccessed ?? []).filter((s) => !s.lastAuthenticated).map((s) => s.serviceNamespace)
  if (unused.length) notes.push(`Never used in the tracking period, dropped: ${unused.join(', ')}.`)
  notes.push('Last-accessed data has no resources: scope each Resource to the ARNs the role uses.')
  if (actions.size === 0) return undefined
  return {
    role: role.name,
    basis: 'last-accessed',
    policy: { Version: '2012-10-17', Statement: [{ Sid: 'UsedActions', Effect: 'Allow', Action: [...actions].sort(), Resource: '*' }] },
    keepAttached: [],
    detach: role.policies.filter((x) => x.arn).map((x) => x.arn!),
    notes,
  }
}
