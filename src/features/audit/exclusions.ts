import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { RULE_IDS, type Finding, type PolicyRef } from './types.js'

/**
 * The exclusions file (YAML or JSON). Everything it removes is listed in the report, so an
 * exclusion never hides a finding silently.
 *
 * ```yaml
 * roles: ["legacy-*"]                 # role names or ARNs (globs): not audited
 * policies: ["AWSSupportAccess"]      # policy names or ARNs (globs): not analysed
 * rules: [unused-role]                # rule ids: not reported
 * actions: ["ecr:GetAuthorizationToken"]  # actions (globs): dropped from findings
 * knownAccounts: ["111122223333"]     # accounts that may assume roles (trust-cross-account)
 * findings:                           # single suppressed findings
 *   - rule: resource-star-write
 *     role: dogs-sagemaker
 *     policy: mlops-execution
 *     reason: PutMetricData is limited by a namespace condition
 *   - id: "passrole-unscoped:deployer:deploy:high"
 * ```
 */

const glob = z.string().min(1, 'empty pattern')

const FindingSuppression = z
  .strictObject({
    /** Exact finding id (shown in --format json). */
    id: z.string().min(1).optional(),
    rule: z.enum(RULE_IDS, { error: `expected a rule id: ${RULE_IDS.join(', ')}` }).optional(),
    /** Role name or ARN glob (for policy files: the file path). */
    role: glob.optional(),
    /** Policy name or ARN glob. */
    policy: glob.optional(),
    /** privilege-escalation: a path id such as sagemaker-002 (the finding is suppressed when all its paths are). */
    path: glob.optional(),
    reason: z.string().optional(),
  })
  .refine((f) => f.id !== undefined || f.rule !== undefined, { message: 'give "id" or "rule" (with optional role, policy, path)' })

export const ExclusionsSchema = z.strictObject({
  roles: z.array(glob).default([]),
  policies: z.array(glob).default([]),
  rules: z.array(z.enum(RULE_IDS, { error: `expected a rule id: ${RULE_IDS.join(', ')}` })).default([]),
  actions: z.array(glob).default([]),
  knownAccounts: z
    .array(
      z
        .string({ error: 'expected a 12-digit account id in quotes, e.g. "111122223333"' })
        .regex(/^\d{12}$/, 'expected a 12-digit account id, e.g. "111122223333"'),
    )
    .default([]),
  findings: z.array(FindingSuppression).default([]),
})
export type Exclusions = z.output<typeof ExclusionsSchema>

export const EMPTY_EXCLUSIONS: Exclusions = { roles: [], policies: [], rules: [], actions: [], knownAccounts: [], findings: [] }

export class ExclusionsError extends Error {
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(message)
    this.name = 'ExclusionsError'
  }
}

/** Parses exclusions text (YAML is a superset of JSON). Throws ExclusionsError with one line per issue. */
export function parseExclusions(text: string): Exclusions {
  let data: unknown
  try {
    data = parseYaml(text, { logLevel: 'error' }) ?? {}
  } catch (e) {
    throw new ExclusionsError(`not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`)
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new ExclusionsError('expected a mapping with roles, policies, rules, actions, knownAccounts, findings')
  const result = ExclusionsSchema.safeParse(data)
  if (result.success) return result.data
  const issues = result.error.issues.map((i) => {
    const where = i.path.length ? i.path.join('.') : '(root)'
    if (i.code === 'unrecognized_keys')
      return `${where}: unknown key ${i.keys.map((k) => `"${k}"`).join(', ')}; supported: roles, policies, rules, actions, knownAccounts, findings`
    return `${where}: ${i.message}`
  })
  throw new ExclusionsError(`${issues.length === 1 ? '1 problem' : `${issues.length} problems`}`, issues)
}

/** Case-insensitive glob (`*`, `?`) match. */
export function globMatch(pattern: string, value: string): boolean {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i').test(value)
}

export function matchesAny(patterns: readonly string[], ...values: (string | undefined)[]): string | undefined {
  return patterns.find((p) => values.some((v) => v !== undefined && globMatch(p, v)))
}

/** The pattern excluding this policy, if any. */
export function policyExcludedBy(ex: Exclusions, p: PolicyRef): string | undefined {
  return matchesAny(ex.policies, p.name, p.arn, p.file)
}

export interface Suppressed {
  readonly finding: Finding
  readonly reason: string
}

/**
 * Applies rule, action and finding exclusions. Returns what stays and what was suppressed (with the
 * reason). Dropping excluded actions from a finding keeps the rest of it.
 */
export function applyFindingExclusions(findings: readonly Finding[], ex: Exclusions): { kept: Finding[]; suppressed: Suppressed[] } {
  const kept: Finding[] = []
  const suppressed: Suppressed[] = []
  for (const original of findings) {
    let f = original
    if (ex.rules.includes(f.ruleId)) {
      suppressed.push({ finding: f, reason: `rule ${f.ruleId} excluded` })
      continue
    }
    if (ex.actions.length && f.actions?.length && f.ruleId !== 'service-wildcard' && f.ruleId !== 'aws-managed-full-access') {
      const remaining = f.actions.filter((a) => !matchesAny(ex.actions, a))
      if (remaining.length === 0) {
        suppressed.push({ finding: f, reason: `all its actions are excluded (${f.actions.join(', ')})` })
        continue
      }
      if (remaining.length !== f.actions.length)
        f = {
          ...f,
          actions: remaining,
          adjustments: [...(f.adjustments ?? []), `excluded actions removed: ${f.actions.filter((a) => !remaining.includes(a)).join(', ')}`],
        }
    }
    const match = ex.findings.find((s) => suppressionMatches(s, f))
    if (match) {
      suppressed.push({ finding: f, reason: match.reason ? `suppressed: ${match.reason}` : 'suppressed in the exclusions file' })
      continue
    }
    kept.push(f)
  }
  return { kept, suppressed }
}

function suppressionMatches(s: Exclusions['findings'][number], f: Finding): boolean {
  if (s.id !== undefined && s.id !== f.id) return false
  if (s.rule !== undefined && s.rule !== f.ruleId) return false
  if (s.role !== undefined && !globMatch(s.role, f.role?.name ?? f.policy?.file ?? '') && !(f.role && globMatch(s.role, f.role.arn))) return false
  if (s.policy !== undefined && !(f.policy && matchesAny([s.policy], f.policy.name, f.policy.arn, f.policy.file))) return false
  if (s.path !== undefined && !(f.paths?.length && f.paths.every((p) => globMatch(s.path!, p)))) return false
  return true
}
