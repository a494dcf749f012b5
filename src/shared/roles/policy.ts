import type { PlannedOperation } from '../plan.js'

/**
 * The vocabulary of the roles mlops owns, as plain data: policy documents, a role spec that
 * `aws/iam/roles.ts` `ensureRole` converges a role to, and the pure statement builders every role
 * uses. Nothing here calls AWS, so the role files in this folder are pure spec builders.
 */

export interface PolicyStatement {
  Sid?: string
  Effect: 'Allow' | 'Deny'
  Action?: string | string[]
  NotAction?: string | string[]
  Resource?: string | string[]
  NotResource?: string | string[]
  Principal?: unknown
  Condition?: Record<string, Record<string, string | string[]>>
}
export interface PolicyDocument {
  Version: '2012-10-17'
  Statement: PolicyStatement[]
}

/** A role as mlops wants it; `ensureRole(iam, spec)` creates or converges it. */
export interface RoleSpec {
  readonly name: string
  readonly description: string
  readonly trustPolicy: PolicyDocument
  /** Inline policies by name. */
  readonly inlinePolicies: Readonly<Record<string, PolicyDocument>>
  /** Managed policy ARNs to attach (for example AmazonSSMManagedInstanceCore). @default [] */
  readonly managedPolicyArns?: readonly string[]
  readonly tags: readonly { Key: string; Value: string }[]
}

/** Where a role's policies point: the account, its region and that region's partition (aws, aws-cn, aws-us-gov). */
export interface RoleTarget {
  readonly accountId: string
  readonly region: string
  readonly partition: string
}

/**
 * A trust policy for one AWS service. With `accountId` it is limited to our own account through
 * `aws:SourceAccount` (confused-deputy protection); without it, the plain service trust, for
 * services that do not send source keys when they assume a role (EC2 instance profiles).
 */
export function serviceTrustPolicy(service: string, accountId?: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: service },
        Action: 'sts:AssumeRole',
        ...(accountId ? { Condition: { StringEquals: { 'aws:SourceAccount': accountId } } } : {}),
      },
    ],
  }
}

/** `alias/name` or `arn:<partition>:kms:<region>:<account>:alias/name` -> `alias/name`; undefined for a key. */
export function kmsAliasName(kmsKeyId: string): string | undefined {
  if (kmsKeyId.startsWith('alias/')) return kmsKeyId
  const m = /^arn:[\w-]+:kms:[^:]*:[^:]*:(alias\/.+)$/.exec(kmsKeyId)
  return m?.[1]
}

/**
 * SSE-KMS data needs Decrypt to read and GenerateDataKey to write, on that key only. KMS evaluates
 * a policy against the key's ARN, never the alias's, so an alias (name or alias ARN) is granted on
 * `key/*` in the alias's account and region with the `kms:ResourceAliases` condition.
 */
export function kmsStatement(kmsKeyId: string | undefined, partition: string, region: string, accountId: string): PolicyStatement | undefined {
  if (!kmsKeyId) return undefined
  const actions = ['kms:Decrypt', 'kms:GenerateDataKey']
  const alias = kmsAliasName(kmsKeyId)
  if (alias) {
    // An alias ARN names its own account and region; a bare alias is in ours.
    const arn = /^arn:([\w-]+):kms:([^:]*):([^:]*):/.exec(kmsKeyId)
    const [p, r, a] = arn ? [arn[1], arn[2] || region, arn[3] || accountId] : [partition, region, accountId]
    return {
      Sid: 'DataKey',
      Effect: 'Allow',
      Action: actions,
      Resource: `arn:${p}:kms:${r}:${a}:key/*`,
      Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': alias } },
    }
  }
  if (kmsKeyId.startsWith('arn:')) return { Sid: 'DataKey', Effect: 'Allow', Action: actions, Resource: kmsKeyId }
  return { Sid: 'DataKey', Effect: 'Allow', Action: actions, Resource: `arn:${partition}:kms:${region}:${accountId}:key/${kmsKeyId}` }
}

/**
 * The requests `ensureRole` may send, in its order, with the inputs it sends: CreateRole and the
 * policies for a missing role; for an existing one the reads that compare it with this spec and
 * only the writes that converge what differs.
 */
export function planRole(spec: RoleSpec): PlannedOperation[] {
  const RoleName = spec.name
  const inline = Object.entries(spec.inlinePolicies)
  return [
    { service: 'iam', operation: 'GetRole', input: { RoleName }, note: 'create only if missing; otherwise converge to this spec' },
    {
      service: 'iam',
      operation: 'CreateRole',
      input: { RoleName, Description: spec.description, AssumeRolePolicyDocument: JSON.stringify(spec.trustPolicy), Tags: spec.tags },
    },
    {
      service: 'iam',
      operation: 'UpdateAssumeRolePolicy',
      input: { RoleName, PolicyDocument: JSON.stringify(spec.trustPolicy) },
      note: 'existing role whose trust policy differs',
    },
    { service: 'iam', operation: 'TagRole', input: { RoleName, Tags: spec.tags }, note: 'existing role whose tags differ' },
    { service: 'iam', operation: 'ListRolePolicies', input: { RoleName }, note: 'existing role' },
    ...inline.flatMap(([PolicyName, doc]) => [
      { service: 'iam', operation: 'GetRolePolicy', input: { RoleName, PolicyName }, note: 'existing role with this policy' },
      {
        service: 'iam',
        operation: 'PutRolePolicy',
        input: { RoleName, PolicyName, PolicyDocument: JSON.stringify(doc) },
        note: 'only if missing or different',
      },
    ]),
    { service: 'iam', operation: 'DeleteRolePolicy', input: { RoleName, PolicyName: '<each inline policy not in this spec>' } },
    { service: 'iam', operation: 'ListAttachedRolePolicies', input: { RoleName }, note: 'existing role' },
    ...(spec.managedPolicyArns ?? []).map((PolicyArn) => ({ service: 'iam', operation: 'AttachRolePolicy', input: { RoleName, PolicyArn } })),
    { service: 'iam', operation: 'DetachRolePolicy', input: { RoleName, PolicyArn: '<each managed policy not in this spec>' } },
  ]
}
