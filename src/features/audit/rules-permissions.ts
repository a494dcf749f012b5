import { loadedActionCount, loadedActions } from './actions.js'
import { AWS_BASELINE_POLICIES, COMPUTE_SERVICES, CREDENTIAL_ACTIONS, DATA_EXFILTRATION_ACTIONS, ESCALATION_PATHS, SSM_PIVOT_ACTIONS } from './catalog.js'
import { infoFor, Permissions, policyRef, type Grant } from './grants.js'
import { conditionKeys } from './parse-policy.js'
import { conditioned, displayAction, listSome, makeFinding, type Subject } from './subject.js'
import { lowerSeverity, type AttachedPolicy, type Finding, type PolicyRef, type Severity } from './types.js'

/**
 * Rules on what a role (or a policy file) allows. Per-policy rules are attributed to the policy
 * that grants the access, so the fix names the document to edit; admin-access and
 * privilege-escalation look at the union of all the role's policies.
 */

export interface PermissionContext {
  readonly subject: Subject
  /** The subject's effective permissions (denies and boundary applied). */
  readonly permissions: Permissions
  readonly policies: readonly AttachedPolicy[]
  /** True when the whole action list is loaded (needed to recognise administrator access). */
  readonly allActionsLoaded: boolean
}

export function evaluatePermissionRules(ctx: PermissionContext): Finding[] {
  const out: Finding[] = []
  out.push(...adminAccess(ctx))
  out.push(...privilegeEscalation(ctx))
  const byPolicy = grantsByPolicy(ctx.permissions.grants)
  // An attached AWS managed policy is judged by its name even when its document is not available.
  for (const policy of ctx.policies) {
    if (policy.document) continue
    out.push(...awsManagedFullAccess(ctx, policyRef(policy), [], new Permissions([], new Set())))
  }
  for (const [ref, grants] of byPolicy) {
    const policy = ctx.policies.find((p) => sameRef(p, ref))
    const perms = new Permissions(grants, new Set())
    const found = [
      ...awsManagedFullAccess(ctx, ref, grants, perms),
      ...serviceWildcard(ctx, ref, grants),
      ...resourceStarWrite(ctx, ref, perms),
      ...passroleUnscoped(ctx, ref, perms),
      ...actionListRule(ctx, ref, perms, 'credentials-exposure', CREDENTIAL_ACTIONS, 'high', 'return credentials'),
      ...actionListRule(ctx, ref, perms, 'data-exfiltration', DATA_EXFILTRATION_ACTIONS, 'medium', 'read data or secrets'),
      ...unsafeSsm(ctx, ref, perms),
    ]
    out.push(...(policy ? found.map((f) => capBaseline(ctx.subject, policy, f)) : found))
  }
  return out
}

function sameRef(a: PolicyRef, b: PolicyRef): boolean {
  return a.kind === b.kind && a.name === b.name && a.arn === b.arn && a.file === b.file
}

function grantsByPolicy(grants: readonly Grant[]): Map<PolicyRef, Grant[]> {
  const out = new Map<PolicyRef, Grant[]>()
  for (const g of grants) {
    if (g.actions.size === 0) continue
    const list = out.get(g.policy)
    if (list) list.push(g)
    else out.set(g.policy, [g])
  }
  return out
}

function isCompute(subject: Subject): string | undefined {
  return subject.trustedServices.find((s) => COMPUTE_SERVICES.includes(s))
}

/** AWS prescribes these policies for its service's role: their findings drop to low there (with a note). */
function capBaseline(subject: Subject, policy: AttachedPolicy, f: Finding): Finding {
  if (policy.kind !== 'aws-managed') return f
  const service = AWS_BASELINE_POLICIES[policy.name]
  if (!service || !subject.trustedServices.includes(service) || f.severity === 'low') return f
  return {
    ...f,
    severity: 'low',
    adjustments: [...(f.adjustments ?? []), `AWS managed baseline for ${service} roles: reported at low (add a Deny for what this role must not reach)`],
  }
}

function adminAccess(ctx: PermissionContext): Finding[] {
  if (!ctx.allActionsLoaded) return []
  const total = loadedActionCount()
  let star = 0
  let starOrCond = 0
  let iamStar = true
  let iamAny = true
  for (const a of ctx.permissions.actions()) {
    const level = ctx.permissions.grantOf(a)?.level
    if (level === 'star') star++
    if (level === 'star' || level === 'star-conditional') starOrCond++
  }
  // Every IAM action must be allowed: without IAM write, the principal cannot escalate to anything.
  for (const a of iamActionKeys()) {
    const level = ctx.permissions.grantOf(a)?.level
    if (level !== 'star') iamStar = false
    if (level !== 'star' && level !== 'star-conditional') iamAny = false
  }
  const threshold = total * 0.9
  const unconditioned = iamStar && star >= threshold
  if (!unconditioned && !(iamAny && starOrCond >= threshold)) return []
  const broad = ctx.permissions.grants.filter((g) => g.starActions.size >= threshold && (unconditioned ? !g.conditional : true))
  const policies = [...new Set(broad.map((g) => g.policy))]
  const adjustments: string[] = []
  const severity = conditioned('critical', !unconditioned, adjustments)
  return [
    makeFinding(ctx.subject, {
      ruleId: 'admin-access',
      severity,
      message: `Allows every action on every resource (${unconditioned ? star : starOrCond} of ${total} actions on "*")${policies.length ? ` via ${policies.map(describePolicy).join(', ')}` : ''}.`,
      ...(policies.length === 1 ? { policy: policies[0] } : {}),
      grants: broad,
      conditional: !unconditioned,
      adjustments,
    }),
  ]
}

/** Every action of the iam service (all services are loaded when admin-access is evaluated). */
function iamActionKeys(): string[] {
  return loadedActions()
    .filter((a) => a.service === 'iam')
    .map((a) => a.key.toLowerCase())
}

export function describePolicy(p: PolicyRef): string {
  const kind = {
    inline: 'inline',
    'aws-managed': 'AWS managed',
    'customer-managed': 'customer managed',
    file: 'file',
    trust: 'trust policy',
    boundary: 'boundary',
  }[p.kind]
  return p.kind === 'file' || p.kind === 'trust' ? p.name : `${kind} ${p.name}`
}

function privilegeEscalation(ctx: PermissionContext): Finding[] {
  const compute = isCompute(ctx.subject)
  const base: Severity = compute ? 'critical' : 'high'
  interface Match {
    id: string
    severity: Severity
    conditional: boolean
    scoped: boolean
    targetDependent: boolean
    grants: Grant[]
    actions: string[]
  }
  const matches: Match[] = []
  for (const path of ESCALATION_PATHS) {
    const grants = path.actions.map((a) => ctx.permissions.grantOf(a))
    if (grants.some((g) => !g)) continue
    const levels = grants.map((g) => g!.level)
    const scoped = levels.includes('scoped')
    const conditional = levels.includes('star-conditional')
    const targetDependent = path.category === 'existing-passrole'
    let severity = lowerSeverity(base, (targetDependent ? 1 : 0) + (conditional ? 1 : 0))
    if (scoped) severity = 'low'
    matches.push({
      id: path.id,
      severity,
      conditional,
      scoped,
      targetDependent,
      grants: grants.flatMap((g) => [...g!.via]),
      actions: path.actions.map(displayAction),
    })
  }
  const groups = new Map<string, Match[]>()
  for (const m of matches) {
    const key = `${m.severity}|${m.conditional}|${m.scoped}`
    groups.set(key, [...(groups.get(key) ?? []), m])
  }
  return [...groups.values()].map((group) => {
    const { severity, conditional, scoped } = group[0]
    const adjustments: string[] = []
    if (compute) adjustments.push(`assumed by ${compute}: critical (code running as the role can be compromised)`)
    if (group.some((m) => m.targetDependent))
      adjustments.push('existing-passrole paths: one level lower (they need an existing resource that runs with a privileged role)')
    if (conditional) adjustments.push('Condition present: one level lower (check that it really limits access)')
    if (scoped) adjustments.push('an action is allowed only on specific resources: low (verify those resources do not run with privileged roles)')
    const ids = group.map((m) => m.id)
    const detail = scoped ? 'scoped' : conditional ? 'conditional' : group.every((m) => m.targetDependent) ? 'target-dependent' : 'confirmed'
    return makeFinding(ctx.subject, {
      ruleId: 'privilege-escalation',
      severity,
      message: `${scoped ? 'Potential privilege' : 'Privilege'} escalation via ${ids.length} known path${ids.length === 1 ? '' : 's'}: ${listSome(
        group.map((m) => `${m.id} (${m.actions.join(' + ')})`),
        3,
      )}.`,
      grants: group.flatMap((m) => m.grants),
      actions: [...new Set(group.flatMap((m) => m.actions))],
      paths: ids,
      conditional,
      adjustments,
      detail,
    })
  })
}

/**
 * Service wildcards a statement names (`s3:*`, `*`, or `NotAction [...]` for an Allow with
 * NotAction), each with whether it applies on every resource. A wildcard that a Deny fully
 * cancelled is not returned.
 */
function wildcardPatterns(g: Grant): { pattern: string; star: boolean }[] {
  const patterns = (g.statement.action ?? []).filter((p) => p === '*' || /^[^:*?]+:\*$/.test(p))
  if (g.statement.notAction) patterns.push(`NotAction [${g.statement.notAction.join(', ')}]`)
  const out: { pattern: string; star: boolean }[] = []
  for (const pattern of patterns) {
    if (pattern === '*' || pattern.startsWith('NotAction')) {
      if (g.actions.size > 0) out.push({ pattern, star: g.starActions.size > 0 })
      continue
    }
    const prefix = `${pattern.slice(0, -2).toLowerCase()}:`
    const has = (set: ReadonlySet<string>) => [...set].some((a) => a.startsWith(prefix))
    if (has(g.actions)) out.push({ pattern, star: has(g.starActions) })
  }
  return out
}

function awsManagedFullAccess(ctx: PermissionContext, ref: PolicyRef, grants: Grant[], perms: Permissions): Finding[] {
  if (ref.kind !== 'aws-managed' || !ctx.subject.role) return []
  const wildcards = [
    ...new Set(
      grants
        .filter((g) => !g.conditional)
        .flatMap((g) =>
          wildcardPatterns(g)
            .filter((w) => w.star)
            .map((w) => w.pattern),
        ),
    ),
  ].filter((p) => p !== '*')
  if (!/FullAccess/i.test(ref.name) && wildcards.length === 0) return []
  const compute = isCompute(ctx.subject)
  const severity: Severity = compute ? 'high' : 'medium'
  const count = [...perms.actions()].length
  const allows = grants.length
    ? `: it allows ${count} actions${wildcards.length ? ` (${listSome(wildcards, 3)})` : ''}`
    : ' (its document was not available: judged by its name)'
  return [
    makeFinding(ctx.subject, {
      ruleId: 'aws-managed-full-access',
      severity,
      message: `AWS managed ${ref.name} is attached${compute ? ` to a role assumed by ${compute}` : ''}${allows}.`,
      policy: ref,
      grants,
      actions: wildcards,
      adjustments: compute ? [] : ['not assumed by a compute service: medium'],
    }),
  ]
}

function serviceWildcard(ctx: PermissionContext, ref: PolicyRef, grants: Grant[]): Finding[] {
  const groups = new Map<string, { severity: Severity; conditional: boolean; grants: Grant[]; patterns: Set<string>; adjustments: string[] }>()
  for (const g of grants) {
    for (const w of wildcardPatterns(g)) {
      const adjustments: string[] = []
      let severity: Severity = w.star ? 'medium' : 'low'
      if (!w.star) adjustments.push('resources are scoped: low')
      severity = conditioned(severity, g.conditional, adjustments)
      const key = `${severity}|${g.conditional}`
      const group = groups.get(key) ?? { severity, conditional: g.conditional, grants: [], patterns: new Set<string>(), adjustments }
      if (!group.grants.includes(g)) group.grants.push(g)
      group.patterns.add(w.pattern)
      groups.set(key, group)
    }
  }
  return [...groups.values()].map((group) =>
    makeFinding(ctx.subject, {
      ruleId: 'service-wildcard',
      severity: group.severity,
      message: `Allows every action of a service: ${listSome([...group.patterns], 5)}${group.grants.some((g) => g.statement.notResource) ? ' (NotResource counts as every resource)' : ''}.`,
      policy: ref,
      grants: group.grants,
      actions: [...group.patterns],
      conditional: group.conditional,
      adjustments: [...new Set(group.adjustments)],
      detail: `${group.severity}${group.conditional ? '-conditional' : ''}`,
    }),
  )
}

/** Groups the actions of a per-policy rule by (severity, conditional) and makes one finding per group. */
function groupedFindings(
  ctx: PermissionContext,
  ref: PolicyRef,
  ruleId: Finding['ruleId'],
  hits: { action: string; severity: Severity; conditional: boolean; via: readonly Grant[]; note?: string }[],
  message: (actions: string[], conditional: boolean) => string,
  detailPrefix = '',
): Finding[] {
  const groups = new Map<string, typeof hits>()
  for (const h of hits) groups.set(`${h.severity}|${h.conditional}`, [...(groups.get(`${h.severity}|${h.conditional}`) ?? []), h])
  return [...groups.values()].map((group) => {
    const { severity, conditional } = group[0]
    const actions = group.map((h) => displayAction(h.action)).sort()
    const adjustments = [...new Set(group.flatMap((h) => (h.note ? [h.note] : [])))]
    if (conditional) adjustments.push('Condition present: one level lower (check that it really limits access)')
    const keys = [...new Set(group.flatMap((h) => h.via.flatMap((g) => conditionKeys(g.statement))))]
    return makeFinding(ctx.subject, {
      ruleId,
      severity,
      message: message(actions, conditional) + (conditional && keys.length ? ` Conditions: ${keys.join(', ')}.` : ''),
      policy: ref,
      grants: group.flatMap((h) => [...h.via]),
      actions,
      conditional,
      adjustments,
      detail: `${detailPrefix}${severity}${conditional ? '-conditional' : ''}`,
    })
  })
}

function starLevel(perms: Permissions, action: string): { conditional: boolean; via: readonly Grant[] } | undefined {
  const g = perms.grantOf(action)
  if (!g || g.level === 'scoped') return undefined
  return { conditional: g.level === 'star-conditional', via: g.via }
}

function resourceStarWrite(ctx: PermissionContext, ref: PolicyRef, perms: Permissions): Finding[] {
  const hits = []
  for (const action of perms.actions()) {
    const info = infoFor(action)
    // iam:PassRole has its own rule (passrole-unscoped).
    if (info.unknown || info.wildcardOnly || action === 'iam:passrole') continue
    if (info.access !== 'Write' && info.access !== 'Tagging' && info.access !== 'Permissions management') continue
    const star = starLevel(perms, action)
    if (!star) continue
    const pm = info.access === 'Permissions management'
    const severity = star.conditional ? lowerSeverity(pm ? 'high' : 'low') : pm ? 'high' : 'low'
    hits.push({ action, severity, conditional: star.conditional, via: star.via, note: pm ? 'permissions-management actions: high' : undefined })
  }
  return groupedFindings(
    ctx,
    ref,
    'resource-star-write',
    hits,
    (actions) => `${actions.length} write/permissions-management action${actions.length === 1 ? '' : 's'} on every resource: ${listSome(actions)}.`,
  )
}

function passroleUnscoped(ctx: PermissionContext, ref: PolicyRef, perms: Permissions): Finding[] {
  const star = starLevel(perms, 'iam:passrole')
  if (!star) return []
  return groupedFindings(
    ctx,
    ref,
    'passrole-unscoped',
    [{ action: 'iam:passrole', severity: star.conditional ? 'medium' : 'high', conditional: star.conditional, via: star.via }],
    () => 'iam:PassRole on every role: any role in the account can be handed to a service.',
  )
}

function actionListRule(
  ctx: PermissionContext,
  ref: PolicyRef,
  perms: Permissions,
  ruleId: 'credentials-exposure' | 'data-exfiltration',
  list: readonly string[],
  base: Severity,
  what: string,
): Finding[] {
  const hits = []
  for (const action of list) {
    const star = starLevel(perms, action)
    if (!star) continue
    const info = infoFor(action)
    const wildcardOnly = info.wildcardOnly && !info.unknown
    let severity: Severity = wildcardOnly ? 'low' : base
    if (star.conditional) severity = lowerSeverity(severity)
    hits.push({
      action,
      severity,
      conditional: star.conditional,
      via: star.via,
      note: wildcardOnly ? `${displayAction(action)} supports no resource-level permissions: low` : undefined,
    })
  }
  return groupedFindings(ctx, ref, ruleId, hits, (actions) => `Actions that ${what} on every resource: ${listSome(actions)}.`)
}

function unsafeSsm(ctx: PermissionContext, ref: PolicyRef, perms: Permissions): Finding[] {
  if (!ctx.subject.isInstanceRole) return []
  const hits = []
  for (const action of SSM_PIVOT_ACTIONS) {
    const g = perms.grantOf(action)
    if (!g) continue
    const conditional = g.level === 'star-conditional'
    const severity: Severity = g.level === 'star' ? 'medium' : 'low'
    hits.push({ action, severity, conditional, via: g.via, note: g.level === 'scoped' ? 'limited to specific instances or documents: low' : undefined })
  }
  return groupedFindings(ctx, ref, 'unsafe-ssm-instance-role', hits, (actions) => `Instance role can run commands on other instances: ${actions.join(', ')}.`)
}
