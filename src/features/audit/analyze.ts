import { ensureServices, expandAction } from './actions.js'
import { applyFindingExclusions, EMPTY_EXCLUSIONS, matchesAny, policyExcludedBy, type Exclusions, type Suppressed } from './exclusions.js'
import { boundaryActions, deniedActions, grantsOf, Permissions, policyRef, servicesForDocuments } from './grants.js'
import { evaluatePermissionRules } from './rules-permissions.js'
import { evaluateTrustRules, evaluateUnusedRole, trustedServices } from './rules-trust.js'
import type { Subject } from './subject.js'
import { severityRank, type AttachedPolicy, type Finding, type PolicyDocument, type PolicyFileInput, type PolicyRef, type RoleInput } from './types.js'
import { iamAccountOf } from '../../aws/arn.js'

/** Pure analysis: roles and policy files in, findings out. No AWS calls, no files read. */

export interface AnalyzeOptions {
  /** Now, in ms (injected so tests are stable). */
  readonly now: number
  /** @default 90 */
  readonly unusedDays: number
  readonly exclusions?: Exclusions
  /** Account that owns the roles (from their ARNs when absent). */
  readonly accountId?: string
}

export interface ExcludedItem {
  readonly kind: 'role' | 'policy'
  readonly name: string
  /** The role the policy was attached to. */
  readonly role?: string
  readonly reason: string
}

export interface AnalyzedRole {
  readonly name: string
  readonly arn: string
  readonly trustedBy: readonly string[]
  readonly purpose?: RoleInput['purpose']
  readonly lastUsed?: RoleInput['lastUsed']
  readonly policies: readonly PolicyRef[]
}

export interface AnalysisResult {
  readonly findings: readonly Finding[]
  readonly suppressed: readonly Suppressed[]
  readonly excluded: readonly ExcludedItem[]
  readonly roles: readonly AnalyzedRole[]
  readonly warnings: readonly string[]
  /** Effective permissions by role name (for --suggest; not part of the report). */
  readonly permissions: ReadonlyMap<string, Permissions>
}

export const SERVICE_LINKED_PATH = '/aws-service-role/'

export async function analyze(roles: readonly RoleInput[], policyFiles: readonly PolicyFileInput[], opts: AnalyzeOptions): Promise<AnalysisResult> {
  const ex = opts.exclusions ?? EMPTY_EXCLUSIONS
  const excluded: ExcludedItem[] = []
  const warnings: string[] = []

  const audited: RoleInput[] = []
  for (const role of roles) {
    if (role.path.startsWith(SERVICE_LINKED_PATH)) {
      excluded.push({ kind: 'role', name: role.name, reason: 'service-linked role (owned by an AWS service; its policies cannot be changed)' })
      continue
    }
    const pattern = matchesAny(ex.roles, role.name, role.arn)
    if (pattern) {
      excluded.push({ kind: 'role', name: role.name, reason: `exclusions file: roles "${pattern}"` })
      continue
    }
    const policies: AttachedPolicy[] = []
    for (const p of role.policies) {
      const by = policyExcludedBy(ex, p)
      if (by) excluded.push({ kind: 'policy', name: p.name, role: role.name, reason: `exclusions file: policies "${by}"` })
      else policies.push(p)
      if (!p.document && !by) warnings.push(`${role.name}: the document of ${p.kind} policy ${p.name} is not available; only its name was checked.`)
    }
    audited.push({ ...role, policies })
  }
  const files = policyFiles.filter((f) => {
    const by = matchesAny(ex.policies, f.path)
    if (by) excluded.push({ kind: 'policy', name: f.path, reason: `exclusions file: policies "${by}"` })
    return !by
  })

  const docs = [
    ...audited.flatMap((r) => [...r.policies.map((p) => p.document), r.boundary?.document]),
    ...files.filter((f) => !f.isTrustPolicy).map((f) => f.document),
  ]
  const services = servicesForDocuments(docs)
  await ensureServices(services)
  const allActionsLoaded = services === 'all'
  warnings.push(...unknownActionWarnings(docs))

  const findings: Finding[] = []
  const permissionsByRole = new Map<string, Permissions>()
  for (const role of audited) {
    const accountId = opts.accountId ?? iamAccountOf(role.arn)
    const services = trustedServices(role.trust)
    const subject: Subject = {
      name: role.name,
      role: { name: role.name, arn: role.arn },
      trustedServices: services,
      isInstanceRole: role.instanceProfiles.length > 0 || services.includes('ec2.amazonaws.com'),
      ...(accountId ? { accountId } : {}),
    }
    const boundary = role.boundary?.document ? boundaryActions(role.boundary) : undefined
    if (role.boundary && !role.boundary.document)
      warnings.push(`${role.name}: permissions boundary ${role.boundary.name} is not available; findings ignore it.`)
    const permissions = new Permissions(role.policies.flatMap(grantsOf), deniedActions(role.policies), boundary)
    permissionsByRole.set(role.name, permissions)
    findings.push(...evaluatePermissionRules({ subject, permissions, policies: role.policies, allActionsLoaded }))
    if (role.trust) findings.push(...evaluateTrustRules(subject, role.trust, { kind: 'trust', name: 'trust policy' }, { knownAccounts: ex.knownAccounts }))
    findings.push(...evaluateUnusedRole(subject, role, opts.now, opts.unusedDays))
  }
  for (const file of files) {
    const ref: AttachedPolicy = { kind: 'file', name: file.path, file: file.path, document: file.document, text: file.text }
    const subject: Subject = {
      name: file.path,
      file: policyRef(ref),
      trustedServices: [],
      isInstanceRole: false,
      ...(opts.accountId ? { accountId: opts.accountId } : {}),
    }
    if (file.isTrustPolicy) {
      findings.push(...evaluateTrustRules(subject, file.document, ref, { knownAccounts: ex.knownAccounts }))
      continue
    }
    const permissions = new Permissions(grantsOf(ref), deniedActions([ref]))
    findings.push(...evaluatePermissionRules({ subject, permissions, policies: [ref], allActionsLoaded }))
  }

  const { kept, suppressed } = applyFindingExclusions(findings, ex)
  return {
    findings: sortFindings(kept),
    suppressed,
    excluded,
    roles: audited.map((r) => ({
      name: r.name,
      arn: r.arn,
      trustedBy: trustedPrincipals(r),
      ...(r.purpose ? { purpose: r.purpose } : {}),
      ...(r.lastUsed ? { lastUsed: r.lastUsed } : {}),
      policies: r.policies.map((p) => ({ kind: p.kind, name: p.name, ...(p.arn ? { arn: p.arn } : {}) })),
    })),
    warnings: [...new Set(warnings)],
    permissions: permissionsByRole,
  }
}

/** Most severe first, then by role/file, rule and id. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const subject = (f: Finding) => f.role?.name ?? f.policy?.file ?? ''
  return [...findings].sort(
    (a, b) =>
      severityRank(a.severity) - severityRank(b.severity) ||
      subject(a).localeCompare(subject(b)) ||
      a.ruleId.localeCompare(b.ruleId) ||
      a.id.localeCompare(b.id),
  )
}

function trustedPrincipals(role: RoleInput): string[] {
  const out = new Set<string>()
  for (const s of role.trust?.statements ?? []) {
    if (s.effect !== 'Allow') continue
    if (s.principal === '*') out.add('*')
    else if (s.principal) for (const values of Object.values(s.principal)) for (const v of values) out.add(v)
  }
  return [...out]
}

/** Literal actions the dataset does not know: newer than the data, or misspelled. */
function unknownActionWarnings(docs: readonly (PolicyDocument | undefined)[]): string[] {
  const unknown = new Set<string>()
  for (const d of docs) {
    for (const s of d?.statements ?? []) {
      for (const p of [...(s.action ?? []), ...(s.notAction ?? [])]) {
        if (/[*?]/.test(p)) continue
        const [info] = expandAction(p)
        if (info?.unknown) unknown.add(p)
      }
    }
  }
  if (unknown.size === 0) return []
  return [`Actions not in the IAM action data (newer than the data, or misspelled): ${[...unknown].sort().join(', ')}.`]
}
