import { actionMatches } from './actions.js'
import { NO_SOURCE_CONTEXT_SERVICES, SOURCE_CONDITION_KEYS } from './catalog.js'
import { conditionHasKey, conditionKeys } from './parse-policy.js'
import { conditioned, makeFinding, type Subject } from './subject.js'
import type { Finding, PolicyDocument, PolicyRef, RoleInput, Severity, Statement } from './types.js'

/** Rules on who can assume a role (its trust policy) and whether it is still used. */

const ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:AssumeRoleWithWebIdentity', 'sts:AssumeRoleWithSAML']
const DAY_MS = 86_400_000

function allowsAssume(s: Statement): boolean {
  if (s.effect !== 'Allow') return false
  if (s.notAction) return true
  return (s.action ?? []).some((p) => ASSUME_ACTIONS.some((a) => actionMatches(p, a)))
}

/** The account id in an AWS principal: `123456789012`, `arn:aws:iam::123456789012:root|role/x|user/y`. */
export function principalAccount(value: string): string | undefined {
  if (/^\d{12}$/.test(value)) return value
  return /^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):/.exec(value)?.[1]
}

function isAnyAws(value: string): boolean {
  return value === '*' || /^arn:aws[\w-]*:iam::\*:root$/.test(value)
}

export interface TrustOptions {
  /** Accounts that may assume roles without a finding (the exclusions file's knownAccounts). */
  readonly knownAccounts: readonly string[]
}

/** Evaluates a trust policy. `ref` names the document (the role's trust policy, or a policy file). */
export function evaluateTrustRules(subject: Subject, trust: PolicyDocument, ref: PolicyRef, opts: TrustOptions): Finding[] {
  const out: Finding[] = []
  const statementRef = (s: Statement) => [{ policy: ref, index: s.index, ...(s.sid ? { sid: s.sid } : {}) }]
  for (const s of trust.statements) {
    if (!allowsAssume(s)) continue
    const conditional = Boolean(s.condition)
    const keys = conditionKeys(s)
    const condText = keys.length ? ` (conditions: ${keys.join(', ')})` : ''
    const any = (message: string, detail: string, severityOverride?: Severity, extra?: string) => {
      const adjustments: string[] = extra ? [extra] : []
      const severity = severityOverride ?? conditioned('critical', conditional, adjustments)
      out.push(
        makeFinding(subject, {
          ruleId: 'trust-any-principal',
          severity,
          message: message + condText + '.',
          policy: ref,
          statements: statementRef(s),
          conditional: severityOverride ? false : conditional,
          adjustments,
          detail: `${s.index}:${detail}`,
        }),
      )
    }
    if (s.notPrincipal) any('Allow with NotPrincipal: every principal except those listed can assume the role', 'not-principal')
    const p = s.principal
    if (p === '*') {
      any('Principal "*": any AWS principal can assume the role', 'star')
      continue
    }
    if (!p) continue
    for (const value of p.AWS ?? []) {
      if (isAnyAws(value)) {
        any(`Principal AWS "${value}": any AWS account can assume the role`, 'any-aws')
        continue
      }
      const account = principalAccount(value)
      if (!account || account === subject.accountId || opts.knownAccounts.includes(account)) continue
      // Without the owning account (a standalone trust policy file), only an allowlist can judge.
      if (!subject.accountId && opts.knownAccounts.length === 0) continue
      const adjustments: string[] = []
      const severity = conditioned('medium', conditional, adjustments)
      out.push(
        makeFinding(subject, {
          ruleId: 'trust-cross-account',
          severity,
          message: `Account ${account} (${value}) can assume the role${condText}.`,
          policy: ref,
          statements: statementRef(s),
          conditional,
          adjustments,
          detail: `${s.index}:${account}`,
        }),
      )
    }
    for (const provider of p.Federated ?? []) {
      if (!s.condition) {
        any(`Federated principal ${provider} without conditions: any identity of that provider can assume the role`, `federated:${provider}`)
      } else if (provider.includes('token.actions.githubusercontent.com') && !conditionHasKey(s, ['token.actions.githubusercontent.com:sub'])) {
        any(
          `GitHub OIDC principal without a condition on token.actions.githubusercontent.com:sub: any repository's workflow can assume the role`,
          `federated:${provider}`,
          'high',
          'no :sub condition: high',
        )
      }
    }
    for (const service of p.Service ?? []) {
      if (conditionHasKey(s, SOURCE_CONDITION_KEYS)) continue
      // EC2 sends no source keys when it assumes an instance-profile role, so the plain service
      // trust is the correct one there (Prowler agrees, prowler-cloud/prowler#2810; issue 14 item 8):
      // only principals with iam:PassRole in this account can attach the role.
      if (NO_SOURCE_CONTEXT_SERVICES.includes(service.toLowerCase())) continue
      const adjustments: string[] = []
      const severity = conditioned('medium', conditional, adjustments)
      out.push(
        makeFinding(subject, {
          ruleId: 'trust-service-no-source',
          severity,
          message: `${service} can assume the role without aws:SourceAccount or aws:SourceArn${condText}.`,
          policy: ref,
          statements: statementRef(s),
          conditional,
          adjustments,
          detail: `${s.index}:${service}`,
        }),
      )
    }
  }
  return out
}

/** Lower-case service principals allowed to assume the role. */
export function trustedServices(trust: PolicyDocument | undefined): string[] {
  const out = new Set<string>()
  for (const s of trust?.statements ?? []) {
    if (!allowsAssume(s) || !s.principal || s.principal === '*') continue
    for (const v of s.principal.Service ?? []) out.add(v.toLowerCase())
  }
  return [...out]
}

/** unused-role: RoleLastUsed older than `unusedDays`, or never used and created longer ago than that. */
export function evaluateUnusedRole(subject: Subject, role: RoleInput, now: number, unusedDays: number): Finding[] {
  if (!role.lastUsed) return []
  const limit = unusedDays * DAY_MS
  const day = (iso: string) => iso.slice(0, 10)
  if (role.lastUsed.date) {
    const age = now - Date.parse(role.lastUsed.date)
    if (!(age > limit)) return []
    const days = Math.floor(age / DAY_MS)
    return [
      makeFinding(subject, {
        ruleId: 'unused-role',
        severity: 'medium',
        message: `Last used ${days} days ago (${day(role.lastUsed.date)}${role.lastUsed.region ? ` in ${role.lastUsed.region}` : ''}), more than ${unusedDays} days.`,
        statements: [],
        detail: 'stale',
      }),
    ]
  }
  if (!role.createDate) return []
  const age = now - Date.parse(role.createDate)
  if (!(age > limit)) return []
  return [
    makeFinding(subject, {
      ruleId: 'unused-role',
      severity: 'low',
      message: `No use recorded (IAM tracks the last 400 days) since it was created on ${day(role.createDate)}, ${Math.floor(age / DAY_MS)} days ago.`,
      statements: [],
      adjustments: ['never used: low (IAM keeps RoleLastUsed for 400 days only)'],
      detail: 'never-used',
    }),
  ]
}
