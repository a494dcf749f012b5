import { RULES } from './rules.js'
import type { Grant } from './grants.js'
import { infoFor } from './grants.js'
import { lowerSeverity, type Finding, type PolicyRef, type RuleId, type Severity, type StatementRef } from './types.js'

/**
 * The principal a rule looks at: a role (live or from an input file) or a standalone policy file
 * (no role: no trust policy, no attachment, no compute service).
 */
export interface Subject {
  /** Role name, or the policy file path. */
  readonly name: string
  readonly role?: { readonly name: string; readonly arn: string }
  /** Lower-case service principals that can assume the role. */
  readonly trustedServices: readonly string[]
  /** In an instance profile, or trusted by ec2.amazonaws.com. */
  readonly isInstanceRole: boolean
  /** Account that owns the role, when known. */
  readonly accountId?: string
  /** A policy file's own ref: every finding on a file is attributed to it. */
  readonly file?: PolicyRef
}

export interface FindingDraft {
  readonly ruleId: RuleId
  readonly severity: Severity
  readonly message: string
  readonly policy?: PolicyRef
  readonly grants?: readonly Grant[]
  readonly statements?: readonly StatementRef[]
  readonly actions?: readonly string[]
  readonly paths?: readonly string[]
  readonly conditional?: boolean
  readonly adjustments?: readonly string[]
  /** Distinguishes several findings of one rule on one policy (e.g. `pm`, `write`). */
  readonly detail?: string
  /** Overrides the rule's one-line fix. */
  readonly fix?: string
}

/** Builds a finding with its stable id, the rule's fix, and statement locations from the grants. */
export function makeFinding(subject: Subject, d: FindingDraft): Finding {
  const statements = d.statements ?? uniqueStatements(d.grants ?? [])
  const policy = d.policy ?? subject.file
  const id = [d.ruleId, subject.name, subject.file ? '-' : (policy?.name ?? '-'), ...(d.detail ? [d.detail] : [])].join(':')
  return {
    id,
    ruleId: d.ruleId,
    severity: d.severity,
    defaultSeverity: RULES[d.ruleId].defaultSeverity,
    message: d.message,
    fix: d.fix ?? RULES[d.ruleId].fix,
    ...(subject.role ? { role: subject.role } : {}),
    ...(policy ? { policy } : {}),
    statements,
    ...(d.actions ? { actions: [...d.actions].sort() } : {}),
    ...(d.paths ? { paths: d.paths } : {}),
    conditional: Boolean(d.conditional),
    ...(d.adjustments?.length ? { adjustments: d.adjustments } : {}),
  }
}

export function uniqueStatements(grants: readonly Grant[]): StatementRef[] {
  const seen = new Set<string>()
  const out: StatementRef[] = []
  for (const g of grants) {
    const key = `${g.policy.kind}|${g.policy.arn ?? g.policy.name}|${g.statement.index}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push({ policy: g.policy, index: g.statement.index, ...(g.statement.sid ? { sid: g.statement.sid } : {}) })
  }
  return out.sort((a, b) => a.index - b.index)
}

export const CONDITION_ADJUSTMENT = 'Condition present: one level lower (check that it really limits access)'

/** Applies the "a Condition lowers confidence one level" policy. */
export function conditioned(severity: Severity, conditional: boolean, adjustments: string[]): Severity {
  if (!conditional) return severity
  adjustments.push(CONDITION_ADJUSTMENT)
  return lowerSeverity(severity)
}

/** Canonical spelling of a lower-case action key (`sagemaker:InvokeEndpoint`). */
export function displayAction(key: string): string {
  return infoFor(key).key
}

/** "a, b, c and 12 more" */
export function listSome(items: readonly string[], max = 4): string {
  if (items.length <= max) return items.join(', ')
  return `${items.slice(0, max).join(', ')} and ${items.length - max} more`
}
