import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { statementLine } from './parse-policy.js'
import type { AuditReport } from './report.js'
import { RULES, sarifLevel, securitySeverity } from './rules.js'
import { RULE_IDS, type Finding, type PolicyRef } from './types.js'

/**
 * SARIF 2.1.0 for code scanning: one rule per rule id (with level and security-severity), one
 * result per finding that is not suppressed. Findings have logical locations (the role and the
 * policy, by ARN); findings from policy files (and from an --input file) also have a physical
 * location with the line of the statement (or of the role). GitHub code scanning rejects a result
 * without a physical location, so a live-account finding points at a stable `iam/roles/<name>` URI
 * (or, without a role, at the config file), and `automationDetails.id` names the category, so
 * audits of different projects or sources do not close each other's alerts (issue 15 item 6).
 */

export interface SarifOptions {
  /** Folder that relative artifact URIs are relative to (%SRCROOT%). */
  readonly cwd: string
  /** Text of the policy files and of the --input file, by the path given on the command line. */
  readonly texts: ReadonlyMap<string, string>
  readonly informationUri?: string
  /** The config file, for findings that belong to no role and no file. */
  readonly configFile?: string
  /** The code scanning category: the project name, or the source kind without a config. */
  readonly category: string
}

/** The automation id GitHub keys a run's alerts by: `<tool>/<category>/` (the trailing slash makes it a category). */
export function automationId(category: string): string {
  return `mlops-audit-iam/${category.replace(/[^A-Za-z0-9._-]+/g, '-')}/`
}

type Json = Record<string, unknown>

export function buildSarif(report: AuditReport, opts: SarifOptions): Json {
  const rules = RULE_IDS.map((id) => {
    const r = RULES[id]
    return {
      id,
      name: r.name,
      shortDescription: { text: r.title },
      fullDescription: { text: r.help },
      help: { text: `Fix: ${r.fix}`, markdown: `**Fix:** ${r.fix}` },
      defaultConfiguration: { level: sarifLevel(r.defaultSeverity) },
      properties: { 'security-severity': securitySeverity(r.defaultSeverity), tags: ['security', 'iam', 'least-privilege'], precision: 'high' },
    }
  })
  const results = report.findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: RULE_IDS.indexOf(f.ruleId),
    level: sarifLevel(f.severity),
    message: { text: `${f.message} Fix: ${f.fix}` },
    locations: [location(f, report, opts)],
    partialFingerprints: { 'mlopsFindingId/v1': f.id },
    properties: {
      severity: f.severity,
      'security-severity': securitySeverity(f.severity),
      conditional: f.conditional,
      ...(f.actions ? { actions: f.actions.slice(0, 200), actionCount: f.actions.length } : {}),
      ...(f.paths ? { paths: f.paths } : {}),
      ...(f.adjustments ? { adjustments: f.adjustments } : {}),
    },
  }))
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'mlops audit-iam',
            version: report.tool.version,
            semanticVersion: /^\d+\.\d+\.\d+/.test(report.tool.version) ? report.tool.version : undefined,
            ...(opts.informationUri ? { informationUri: opts.informationUri } : {}),
            rules,
          },
        },
        automationDetails: { id: automationId(opts.category) },
        originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(opts.cwd.endsWith(path.sep) ? opts.cwd : opts.cwd + path.sep).href } },
        invocations: [{ executionSuccessful: true }],
        results,
        properties: {
          iamData: report.iamData,
          source: report.source,
          summary: report.summary,
          excluded: report.excluded,
          suppressed: report.suppressed,
        },
      },
    ],
  }
}

function logicalName(p: PolicyRef, roleArn?: string): string {
  if (p.arn) return p.arn
  if (p.kind === 'trust' && roleArn) return `${roleArn}/trust-policy`
  if (roleArn) return `${roleArn}/inline-policy/${p.name}`
  return p.name
}

function artifact(file: string, cwd: string): Json {
  const abs = path.resolve(cwd, file)
  const rel = path.relative(cwd, abs)
  if (rel.startsWith('..') || path.isAbsolute(rel)) return { uri: pathToFileURL(abs).href }
  return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' }
}

function lineOf(text: string, needle: string): number | undefined {
  const i = text.indexOf(needle)
  return i < 0 ? undefined : text.slice(0, i).split('\n').length
}

function location(f: Finding, report: AuditReport, opts: SarifOptions): Json {
  const logical: Json[] = []
  if (f.role) logical.push({ name: f.role.name, fullyQualifiedName: f.role.arn, kind: 'resource' })
  if (f.policy) logical.push({ name: f.policy.name, fullyQualifiedName: logicalName(f.policy, f.role?.arn), kind: 'resource' })
  const out: Json = {}
  const file = f.policy?.file
  if (file) {
    const text = opts.texts.get(file)
    const line = text !== undefined && f.statements[0] ? statementLine(text, f.statements[0].index) : undefined
    out.physicalLocation = { artifactLocation: artifact(file, opts.cwd), ...(line ? { region: { startLine: line } } : {}) }
  } else if (report.source.input && f.role) {
    const text = opts.texts.get(report.source.input)
    const line = text === undefined ? undefined : (lineOf(text, `"RoleName": "${f.role.name}"`) ?? lineOf(text, `"RoleName":"${f.role.name}"`))
    out.physicalLocation = { artifactLocation: artifact(report.source.input, opts.cwd), ...(line ? { region: { startLine: line } } : {}) }
  }
  if (!out.physicalLocation) {
    // A live-account finding: a stable URI per role, so code scanning can place and track it.
    const artifactLocation = f.role
      ? { uri: `iam/roles/${encodeURIComponent(f.role.name)}` }
      : opts.configFile
        ? artifact(opts.configFile, opts.cwd)
        : { uri: 'iam/account' }
    out.physicalLocation = { artifactLocation, region: { startLine: 1 } }
  }
  if (logical.length) out.logicalLocations = logical
  if (f.statements[0]) out.message = { text: `statement ${f.statements[0].index}${f.statements[0].sid ? ` (${f.statements[0].sid})` : ''}` }
  return out
}
