import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam'
import type { Clock } from '../../shared/clock.js'
import { callAws, callAwsOrUndefined } from '../error-translation.js'

/**
 * Create-or-update of the roles mlops owns (training execution role, Lambda role, EC2 instance
 * role). The spec is the whole truth: a re-run converges the role to it, removing inline policies
 * and attachments that are not in the spec, so a role never silently accumulates privileges.
 */

/** An IAM policy document as JSON data (IAM parses it; the builders live in shared/roles/policy.ts). */
export type IamPolicyDocument = object

/** A role as plain values: name, trust policy, inline policies by name, managed policy ARNs, tags. */
export interface IamRoleSpec {
  readonly name: string
  readonly description: string
  readonly trustPolicy: IamPolicyDocument
  /** Inline policies by name. */
  readonly inlinePolicies: Readonly<Record<string, IamPolicyDocument>>
  /** Managed policy ARNs to attach (for example AmazonSSMManagedInstanceCore). @default [] */
  readonly managedPolicyArns?: readonly string[]
  readonly tags: readonly { Key: string; Value: string }[]
}

export interface EnsureRoleResult {
  readonly arn: string
  readonly created: boolean
  /** What changed on an existing role: 'trust', 'inline:<name>', 'removed-inline:<name>', 'attached:<arn>', 'detached:<arn>'. */
  readonly changes: readonly string[]
}

/** IAM returns documents URL-encoded; compare structurally. */
export function sameDocument(a: string | IamPolicyDocument | undefined, b: IamPolicyDocument): boolean {
  if (a === undefined) return false
  const parsed = typeof a === 'string' ? (JSON.parse(decodeURIComponent(a)) as unknown) : a
  return canonical(parsed) === canonical(b)
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(v)
}

/** Creates the role or converges an existing one to `spec`. */
export async function ensureRole(iam: IAMClient, spec: IamRoleSpec): Promise<EnsureRoleResult> {
  const ctx = (operation: string) => ({ service: 'iam', operation, resource: `role/${spec.name}` })
  const existing = await callAwsOrUndefined(ctx('GetRole'), async () => (await iam.send(new GetRoleCommand({ RoleName: spec.name }))).Role)
  const changes: string[] = []
  let arn: string
  if (!existing) {
    const created = await callAws(ctx('CreateRole'), () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: spec.name,
          Description: spec.description,
          AssumeRolePolicyDocument: JSON.stringify(spec.trustPolicy),
          Tags: [...spec.tags],
        }),
      ),
    )
    arn = created.Role!.Arn!
  } else {
    arn = existing.Arn!
    if (!sameDocument(existing.AssumeRolePolicyDocument, spec.trustPolicy)) {
      await callAws(ctx('UpdateAssumeRolePolicy'), () =>
        iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: spec.name, PolicyDocument: JSON.stringify(spec.trustPolicy) })),
      )
      changes.push('trust')
    }
    const tagged = new Map((existing.Tags ?? []).map((t) => [t.Key, t.Value]))
    if (spec.tags.some((t) => tagged.get(t.Key) !== t.Value)) {
      await callAws(ctx('TagRole'), () => iam.send(new TagRoleCommand({ RoleName: spec.name, Tags: [...spec.tags] })))
    }
  }

  const currentInline = existing
    ? ((await callAws(ctx('ListRolePolicies'), () => iam.send(new ListRolePoliciesCommand({ RoleName: spec.name })))).PolicyNames ?? [])
    : []
  for (const [name, doc] of Object.entries(spec.inlinePolicies)) {
    let same = false
    if (currentInline.includes(name)) {
      const got = await callAws(ctx('GetRolePolicy'), () => iam.send(new GetRolePolicyCommand({ RoleName: spec.name, PolicyName: name })))
      same = sameDocument(got.PolicyDocument, doc)
    }
    if (!same) {
      await callAws(ctx('PutRolePolicy'), () =>
        iam.send(new PutRolePolicyCommand({ RoleName: spec.name, PolicyName: name, PolicyDocument: JSON.stringify(doc) })),
      )
      if (existing) changes.push(`inline:${name}`)
    }
  }
  for (const name of currentInline.filter((n) => !(n in spec.inlinePolicies))) {
    await callAws(ctx('DeleteRolePolicy'), () => iam.send(new DeleteRolePolicyCommand({ RoleName: spec.name, PolicyName: name })))
    changes.push(`removed-inline:${name}`)
  }

  const wanted = new Set(spec.managedPolicyArns ?? [])
  const attached = existing
    ? (
        (await callAws(ctx('ListAttachedRolePolicies'), () => iam.send(new ListAttachedRolePoliciesCommand({ RoleName: spec.name })))).AttachedPolicies ?? []
      ).map((p) => p.PolicyArn!)
    : []
  for (const policyArn of wanted) {
    if (!attached.includes(policyArn)) {
      await callAws(ctx('AttachRolePolicy'), () => iam.send(new AttachRolePolicyCommand({ RoleName: spec.name, PolicyArn: policyArn })))
      if (existing) changes.push(`attached:${policyArn}`)
    }
  }
  for (const policyArn of attached.filter((a) => !wanted.has(a))) {
    await callAws(ctx('DetachRolePolicy'), () => iam.send(new DetachRolePolicyCommand({ RoleName: spec.name, PolicyArn: policyArn })))
    changes.push(`detached:${policyArn}`)
  }
  return { arn, created: !existing, changes }
}

/** Creates the instance profile if missing and puts the role in it. Returns the profile ARN. */
export async function ensureInstanceProfile(
  iam: IAMClient,
  name: string,
  roleName: string,
  tags: readonly { Key: string; Value: string }[],
): Promise<{ arn: string; created: boolean }> {
  const ctx = (operation: string) => ({ service: 'iam', operation, resource: `instance-profile/${name}` })
  const existing = await callAwsOrUndefined(
    ctx('GetInstanceProfile'),
    async () => (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile,
  )
  const profile =
    existing ??
    (await callAws(ctx('CreateInstanceProfile'), () => iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: name, Tags: [...tags] }))))
      .InstanceProfile!
  if (!(profile.Roles ?? []).some((r) => r.RoleName === roleName)) {
    await callAws(ctx('AddRoleToInstanceProfile'), () => iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: name, RoleName: roleName })))
  }
  return { arn: profile.Arn!, created: !existing }
}

/**
 * Runs `fn`, retrying (bounded) while a freshly created role or instance profile has not yet
 * propagated through IAM: services then reject it with messages like "cannot be assumed" or
 * "Invalid IAM Instance Profile" for seconds to minutes.
 */
export async function retryWhileIamPropagates<T>(
  fn: () => Promise<T>,
  opts: { clock: Clock; signal?: AbortSignal; attempts?: number; delayMs?: number; onRetry?: (attempt: number, err: unknown) => void },
): Promise<T> {
  const attempts = opts.attempts ?? 8
  const delay = opts.delayMs ?? 5000
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (e) {
      if (attempt >= attempts || !isIamPropagationError(e)) throw e
      opts.onRetry?.(attempt, e)
      await opts.clock.sleep(Math.min(delay * attempt, 20_000), opts.signal)
    }
  }
}

/** The error shapes AWS services return while a new role or profile is not yet visible to them. */
export function isIamPropagationError(e: unknown): boolean {
  const msg = (e as { message?: string })?.message ?? ''
  const name = (e as { name?: string })?.name ?? ''
  if (
    /cannot be assumed|could not assume|not authorized to assume|Invalid IAM Instance Profile|instance profile .* (does not exist|is invalid)|role .* does not exist|The role defined for the function cannot be assumed/i.test(
      msg,
    )
  )
    return true
  return (
    (name === 'InvalidParameterValueException' && /role/i.test(msg)) || (name === 'InvalidParameterValue' && /iamInstanceProfile|instance profile/i.test(msg))
  )
}
