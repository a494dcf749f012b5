import type { ChalkInstance } from 'chalk'
import type { AnalysisResult, AnalyzedRole, ExcludedItem } from './analyze.js'
import { describePolicy } from './rules-permissions.js'
import type { Suggestion } from './suggest.js'
import { atOrAbove, SEVERITIES, type Finding, type PolicyRef, type RuleId, type Severity } from './types.js'

/** The audit's result: what `--format json` prints, and what the table and SARIF are made from. */
export interface AuditReport {
  readonly tool: { readonly name: 'mlops audit-iam'; readonly version: string }
  readonly iamData: { readonly package: string; readonly version: string; readonly updatedAt: string }
  readonly generatedAt: string
  readonly source: {
    readonly kind: 'live' | 'input' | 'policy-files'
    readonly accountId?: string
    /** --input file. */
    readonly input?: string
    readonly policyFiles: readonly string[]
    /** How roles were chosen, in words. */
    readonly scope: string
  }
  readonly options: { readonly failOn: Severity | 'none'; readonly unusedDays: number }
  readonly summary: {
    readonly roles: number
    readonly policyFiles: number
    readonly findings: number
    readonly bySeverity: Readonly<Record<Severity, number>>
    /** Findings at or above --fail-on: the command exits 3 when this is above 0. */
    readonly atOrAboveFailOn: number
    readonly suppressed: number
    readonly excludedRoles: number
    readonly excludedServiceLinkedRoles: number
    readonly excludedPolicies: number
  }
  readonly roles: readonly (AnalyzedRole & { readonly scopeReason?: string; readonly findings: number })[]
  readonly findings: readonly Finding[]
  readonly suppressed: readonly {
    readonly id: string
    readonly ruleId: RuleId
    readonly severity: Severity
    readonly role?: string
    readonly policy?: string
    readonly reason: string
  }[]
  readonly excluded: readonly ExcludedItem[]
  readonly warnings: readonly string[]
  readonly suggestions?: readonly Suggestion[]
}

export interface ReportMeta {
  readonly version: string
  readonly iamData: AuditReport['iamData']
  readonly generatedAt: string
  readonly source: AuditReport['source']
  readonly options: AuditReport['options']
  readonly scopeReasons?: ReadonlyMap<string, string>
  readonly policyFileCount: number
  readonly suggestions?: readonly Suggestion[]
  readonly extraWarnings?: readonly string[]
}

export function buildReport(result: AnalysisResult, meta: ReportMeta): AuditReport {
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, result.findings.filter((f) => f.severity === s).length])) as Record<Severity, number>
  const roleFindings = (name: string) => result.findings.filter((f) => f.role?.name === name).length
  return {
    tool: { name: 'mlops audit-iam', version: meta.version },
    iamData: meta.iamData,
    generatedAt: meta.generatedAt,
    source: meta.source,
    options: meta.options,
    summary: {
      roles: result.roles.length,
      policyFiles: meta.policyFileCount,
      findings: result.findings.length,
      bySeverity,
      atOrAboveFailOn: result.findings.filter((f) => atOrAbove(f.severity, meta.options.failOn)).length,
      suppressed: result.suppressed.length,
      excludedRoles: result.excluded.filter((e) => e.kind === 'role').length,
      excludedServiceLinkedRoles: result.excluded.filter((e) => e.kind === 'role' && e.reason.startsWith('service-linked')).length,
      excludedPolicies: result.excluded.filter((e) => e.kind === 'policy').length,
    },
    roles: result.roles.map((r) => ({
      ...r,
      ...(meta.scopeReasons?.get(r.name) ? { scopeReason: meta.scopeReasons.get(r.name) } : {}),
      findings: roleFindings(r.name),
    })),
    findings: result.findings,
    suppressed: result.suppressed.map(({ finding: f, reason }) => ({
      id: f.id,
      ruleId: f.ruleId,
      severity: f.severity,
      ...(f.role ? { role: f.role.name } : {}),
      ...(f.policy ? { policy: f.policy.name } : {}),
      reason,
    })),
    excluded: result.excluded,
    warnings: [...result.warnings, ...(meta.extraWarnings ?? [])],
    ...(meta.suggestions ? { suggestions: meta.suggestions } : {}),
  }
}

const LABEL: Record<Severity, string> = { critical: 'CRITICAL', high: 'HIGH', medium: 'MEDIUM', low: 'LOW' }

function paint(c: ChalkInstance, s: Severity, text: string): string {
  if (s === 'critical') return c.bold.red(text)
  if (s === 'high') return c.red(text)
  if (s === 'medium') return c.yellow(text)
  return c.gray(text)
}

function where(f: Finding): string | undefined {
  if (f.statements.length === 0) return f.policy ? describePolicy(f.policy) : undefined
  const byPolicy = new Map<string, { ref: PolicyRef; parts: string[] }>()
  for (const s of f.statements) {
    const key = `${s.policy.kind}|${s.policy.arn ?? s.policy.name}`
    const entry = byPolicy.get(key) ?? { ref: s.policy, parts: [] }
    entry.parts.push(s.sid ? `${s.index} (${s.sid})` : String(s.index))
    byPolicy.set(key, entry)
  }
  return [...byPolicy.values()]
    .map(({ ref, parts }) => `${describePolicy(ref)} statement ${parts.slice(0, 4).join(', ')}${parts.length > 4 ? ` and ${parts.length - 4} more` : ''}`)
    .join('; ')
}

function renderFinding(f: Finding, c: ChalkInstance): string[] {
  const pad = ' '.repeat(13)
  const lines = [`  ${paint(c, f.severity, LABEL[f.severity].padEnd(9))}  ${c.bold(f.ruleId)}  ${f.message}`]
  const w = where(f)
  if (w) lines.push(`${pad}${c.gray('where:')} ${w}`)
  if (f.adjustments?.length && (f.severity !== f.defaultSeverity || f.conditional)) {
    const change = f.severity === f.defaultSeverity ? f.severity : `${f.defaultSeverity} -> ${f.severity}`
    lines.push(`${pad}${c.gray('severity:')} ${change} (${f.adjustments.join('; ')})`)
  }
  lines.push(`${pad}${c.gray('fix:')} ${f.fix}`)
  return lines
}

/** The human report: findings grouped by role (then by policy file), exclusions, summary. */
export function renderTable(r: AuditReport, c: ChalkInstance): string {
  const out: string[] = []
  const what = [
    r.summary.roles ? `${r.summary.roles} role${r.summary.roles === 1 ? '' : 's'}` : '',
    r.summary.policyFiles ? `${r.summary.policyFiles} policy file${r.summary.policyFiles === 1 ? '' : 's'}` : '',
  ]
    .filter(Boolean)
    .join(' and ')
  out.push(c.bold(`IAM audit of ${what || 'no roles'}${r.source.accountId ? ` in account ${r.source.accountId}` : ''} (${r.source.scope})`))
  out.push(c.gray(`IAM action data: ${r.iamData.package} ${r.iamData.version} (${r.iamData.updatedAt.slice(0, 10)})`))
  for (const role of r.roles) {
    out.push('')
    const trusted = role.trustedBy.length ? `  assumed by ${role.trustedBy.join(', ')}` : ''
    const findings = r.findings.filter((f) => f.role?.name === role.name)
    out.push(`${c.bold(role.name)}${c.gray(trusted)}${findings.length ? '' : c.green('  no findings')}`)
    for (const f of findings) out.push(...renderFinding(f, c))
  }
  for (const file of r.source.policyFiles) {
    out.push('')
    const findings = r.findings.filter((f) => !f.role && f.policy?.file === file)
    out.push(`${c.bold(file)}${findings.length ? '' : c.green('  no findings')}`)
    for (const f of findings) out.push(...renderFinding(f, c))
  }
  if (r.excluded.length) {
    out.push('', c.bold('Excluded (not audited):'))
    for (const e of r.excluded) out.push(`  ${e.kind} ${e.name}${e.role ? ` on ${e.role}` : ''}: ${e.reason}`)
  }
  if (r.suppressed.length) {
    out.push('', c.bold('Suppressed findings:'))
    for (const s of r.suppressed) out.push(`  ${LABEL[s.severity]} ${s.ruleId}${s.role ? ` on ${s.role}` : ''}${s.policy ? ` (${s.policy})` : ''}: ${s.reason}`)
  }
  if (r.warnings.length) {
    out.push('', c.bold('Warnings:'))
    for (const w of r.warnings) out.push(`  ${c.yellow('!')} ${w}`)
  }
  for (const s of r.suggestions ?? []) {
    out.push(
      '',
      c.bold(`Suggested policy for ${s.role}`) +
        c.gray(` (${s.basis === 'mlops-purpose' ? `mlops knows its purpose: ${s.purpose}` : 'from last-accessed data'})`),
    )
    for (const n of s.notes) out.push(c.gray(`  ${n}`))
    if (s.detach.length) out.push(`  detach: ${s.detach.join(', ')}`)
    if (s.keepAttached.length) out.push(`  keep attached: ${s.keepAttached.join(', ')}`)
    out.push(
      ...JSON.stringify(s.policy, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    )
  }
  out.push('')
  const counts = SEVERITIES.map((s) => paint(c, s, `${r.summary.bySeverity[s]} ${s}`)).join(' · ')
  const suppressed = r.summary.suppressed ? ` (${r.summary.suppressed} suppressed)` : ''
  const gate =
    r.options.failOn === 'none'
      ? '--fail-on none: exit 0'
      : r.summary.atOrAboveFailOn
        ? c.red(`${r.summary.atOrAboveFailOn} at or above ${r.options.failOn}: exit 3`)
        : c.green(`none at or above ${r.options.failOn}: exit 0`)
  out.push(`${c.bold('Summary:')} ${counts}${suppressed}. ${gate}`)
  return out.join('\n')
}
