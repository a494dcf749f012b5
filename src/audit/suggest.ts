import type { MlopsConfig } from '../config/schema.js'
import type { Permissions } from './grants.js'
import { displayAction } from './subject.js'
import type { RoleInput, RolePurpose } from './types.js'

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
  /** The endpoint's ARN from DescribeEndpoint (live); built from the name otherwise. */
  readonly endpointArn?: string
  /** Effective permissions by role name (to list the actions of services without action-level data). */
  readonly permissions?: ReadonlyMap<string, Permissions>
}

const SSM_CORE = 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'

function accountOf(arn: string): string {
  return /^arn:aws[\w-]*:iam::(\d{12}):/.exec(arn)?.[1] ?? '<account-id>'
}

function partitionOf(region: string): string {
  return region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws'
}

export async function suggestFor(role: RoleInput, ctx: SuggestContext): Promise<Suggestion | undefined> {
  if (role.purpose && ctx.config) return suggestForPurpose(role, role.purpose, ctx.config, ctx)
  if (role.lastAccessed?.length) return suggestFromLastAccessed(role, ctx)
  return undefined
}

async function suggestForPurpose(
  role: RoleInput,
  purpose: RolePurpose,
  cfg: NonNullable<SuggestContext['config']>,
  ctx: SuggestContext,
): Promise<Suggestion> {
  const account = accountOf(role.arn)
  const p = partitionOf(ctx.region)
  const attachedManaged = role.policies.filter((x) => x.arn).map((x) => x.arn!)
  const notes: string[] = []
  // The same documents mlops writes when it creates these roles.
  const { executionRoleSpec, projectPrefixes } = await import('../aws/execution-role.js')
  if (purpose === 'training') {
    const spec = executionRoleSpec(cfg, account, ctx.region)
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
    const fn = cfg.lambda.functionName ?? `${cfg.project.name}-invoke`
    const endpoint = cfg.endpoint.name ?? `${cfg.project.name}-endpoint`
    const endpointArn = ctx.endpointArn ?? `arn:${p}:sagemaker:${ctx.region}:${account}:endpoint/${endpoint.toLowerCase()}`
    if (!ctx.endpointArn) notes.push(`Endpoint ARN built from the name (${endpoint}); it was not read from DescribeEndpoint.`)
    const logGroup = `arn:${p}:logs:${ctx.region}:${account}:log-group:/aws/lambda/${fn}`
    return {
      role: role.name,
      basis: 'mlops-purpose',
      purpose,
      policy: {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'InvokeModelEndpoint', Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: endpointArn },
          { Sid: 'CreateOwnLogGroup', Effect: 'Allow', Action: 'logs:CreateLogGroup', Resource: logGroup },
          { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup}:*` },
        ],
      },
      keepAttached: [],
      detach: attachedManaged,
      notes: [`The Lambda ${fn} only invokes ${endpoint} and writes its own logs.`, ...notes],
    }
  }
  const prefixes = projectPrefixes(cfg)
  const bucketArn = `arn:${p}:s3:::${cfg.data.bucket}`
  const objects = (prefix: string) => `${bucketArn}/${prefix}/*`
  return {
    role: role.name,
    basis: 'mlops-purpose',
    purpose,
    policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ListProjectPrefixes',
          Effect: 'Allow',
          Action: 's3:ListBucket',
          Resource: bucketArn,
          Condition: { StringLike: { 's3:prefix': Object.values(prefixes).flatMap((x) => [x, `${x}/*`]) } },
        },
        { Sid: 'ReadDataAndCode', Effect: 'Allow', Action: 's3:GetObject', Resource: [objects(prefixes.data), objects(prefixes.code), objects(prefixes.checkpoints)] },
        { Sid: 'WriteOutput', Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: [objects(prefixes.output), objects(prefixes.checkpoints), objects(prefixes.models)] },
      ],
    },
    keepAttached: [SSM_CORE.replace('arn:aws:', `arn:${p}:`)],
    detach: attachedManaged.filter((a) => !a.endsWith('/AmazonSSMManagedInstanceCore')),
    notes: ['The training box needs the SSM agent (AmazonSSMManagedInstanceCore) and the project prefixes; nothing else.'],
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
