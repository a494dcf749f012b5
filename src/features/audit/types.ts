import { SEVERITIES } from '../../config/sections/audit.js'

/**
 * Shared shapes of the IAM audit. Everything in src/audit is pure: it takes documents that were
 * already fetched (live, from a saved auth-details file, or from policy files) and returns findings.
 */

/** The one list of severities, highest first (the config schema's). `none` is only a fail-on value. */
export { SEVERITIES }
export type Severity = (typeof SEVERITIES)[number]

/** Lower is more severe (index in SEVERITIES). */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s)
}

/** One step less severe (a Condition, a target-dependent path); never below `low`. */
export function lowerSeverity(s: Severity, steps = 1): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, severityRank(s) + steps)]
}

/** True when `s` is at or above `threshold`. */
export function atOrAbove(s: Severity, threshold: Severity | 'none'): boolean {
  return threshold !== 'none' && severityRank(s) <= severityRank(threshold)
}

export const RULE_IDS = [
  'admin-access',
  'privilege-escalation',
  'aws-managed-full-access',
  'service-wildcard',
  'resource-star-write',
  'passrole-unscoped',
  'credentials-exposure',
  'data-exfiltration',
  'trust-any-principal',
  'trust-cross-account',
  'trust-service-no-source',
  'unused-role',
  'unsafe-ssm-instance-role',
] as const
export type RuleId = (typeof RULE_IDS)[number]

/** A policy statement after normalisation: every list is an array, keys are lower-camel. */
export interface Statement {
  /** Position in the document's Statement array (0-based). */
  readonly index: number
  readonly sid?: string
  readonly effect: 'Allow' | 'Deny'
  readonly action?: readonly string[]
  readonly notAction?: readonly string[]
  readonly resource?: readonly string[]
  readonly notResource?: readonly string[]
  /** Trust policies only. `'*'` or a map of principal type to values. */
  readonly principal?: '*' | Readonly<Record<string, readonly string[]>>
  readonly notPrincipal?: '*' | Readonly<Record<string, readonly string[]>>
  /** operator -> condition key -> values */
  readonly condition?: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>
}

export interface PolicyDocument {
  readonly version?: string
  readonly statements: readonly Statement[]
}

export type PolicyKind = 'inline' | 'aws-managed' | 'customer-managed' | 'file' | 'trust' | 'boundary'

/** Names a policy in findings and reports. */
export interface PolicyRef {
  readonly kind: PolicyKind
  readonly name: string
  readonly arn?: string
  /** Path of a policy file as given on the command line (kind 'file'). */
  readonly file?: string
}

export interface AttachedPolicy extends PolicyRef {
  /** Undefined when the document was not available (e.g. an AWS managed policy missing from an input file). */
  readonly document?: PolicyDocument
  /** Raw file text, kept for physical locations (line numbers) in SARIF. */
  readonly text?: string
}

/** What `GetServiceLastAccessedDetails` says about one service (for --suggest). */
export interface ServiceLastAccessed {
  readonly serviceNamespace: string
  /** ISO time; absent when never accessed in the tracking period. */
  readonly lastAuthenticated?: string
  /** Action-level data, for the services IAM tracks per action. */
  readonly actions?: readonly { readonly name: string; readonly lastAccessed?: string }[]
}

/** Why mlops knows what a role is for (it can then print a scoped replacement policy). */
export type RolePurpose = 'lambda' | 'training' | 'instance'

export interface RoleInput {
  readonly name: string
  readonly arn: string
  /** @default '/' */
  readonly path: string
  readonly createDate?: string
  /**
   * RoleLastUsed. `undefined`: unknown (not fetched); `{}`: no use recorded in IAM's tracking window
   * (400 days); `{ date }`: last use.
   */
  readonly lastUsed?: { readonly date?: string; readonly region?: string }
  readonly trust?: PolicyDocument
  readonly policies: readonly AttachedPolicy[]
  readonly boundary?: AttachedPolicy
  readonly instanceProfiles: readonly string[]
  readonly tags: Readonly<Record<string, string>>
  readonly lastAccessed?: readonly ServiceLastAccessed[]
  readonly purpose?: RolePurpose
}

/** One place in a policy that contributes to a finding. */
export interface StatementRef {
  readonly policy: PolicyRef
  readonly index: number
  readonly sid?: string
}

export interface Finding {
  /** Stable id: rule, principal, policy and detail. Use it to suppress exactly this finding. */
  readonly id: string
  readonly ruleId: RuleId
  readonly severity: Severity
  /** The rule's severity before adjustments (Condition, target-dependent path, AWS baseline policy). */
  readonly defaultSeverity: Severity
  /** One line: what is wrong. */
  readonly message: string
  /** One line: how to fix it. */
  readonly fix: string
  /** The role, when the finding is about a role (absent for standalone policy files). */
  readonly role?: { readonly name: string; readonly arn: string }
  /** The policy the finding is attributed to (absent for role-level findings such as unused-role). */
  readonly policy?: PolicyRef
  readonly statements: readonly StatementRef[]
  /** IAM actions involved, sorted (after wildcard expansion). */
  readonly actions?: readonly string[]
  /** privilege-escalation: the catalog ids matched. */
  readonly paths?: readonly string[]
  /** True when the finding depends on statements with a Condition (severity was lowered, not suppressed). */
  readonly conditional: boolean
  /** Why `severity` differs from `defaultSeverity`. */
  readonly adjustments?: readonly string[]
}

export interface PolicyFileInput {
  /** Path as given (relative paths stay relative, for SARIF). */
  readonly path: string
  readonly text: string
  readonly document: PolicyDocument
  /** True when the file is a trust (assume-role) policy: its statements have a Principal. */
  readonly isTrustPolicy: boolean
}
