import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { AwsClients } from '../../aws/clients.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { MlopsError, UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { iamDataVersion } from './actions.js'
import { analyze, type AnalysisResult } from './analyze.js'
import { AuthDetailsError, parseAuthDetails } from './auth-details.js'
import { completeRoles, readLastAccessed, readLiveRoles, readProjectResourceRoles } from './live.js'
import { EMPTY_EXCLUSIONS, ExclusionsError, parseExclusions, type Exclusions } from './exclusions.js'
import { decodePolicyValue, parsePolicyDocument, PolicyParseError } from './parse-policy.js'
import { buildReport, type AuditReport } from './report.js'
import { buildSarif } from './sarif.js'
import { roleNameOf, selectRoles, type ProjectRoles, type Scope } from './scope.js'
import { suggestFor, type Suggestion } from './suggest.js'
import { RULE_IDS, type PolicyFileInput, type RoleInput, type Severity } from './types.js'
import { iamAccountOf } from '../../aws/arn.js'
import type { Progress } from '../../aws/iam/audit-reads.js'

/** The whole `mlops audit-iam` run: gather inputs (live, --input, --policy-file), analyse, report. */

export type AuditFormat = 'table' | 'json' | 'sarif'

export interface AuditIamOptions {
  /** --role (names or ARNs). */
  readonly roles: readonly string[]
  readonly allRoles: boolean
  readonly policyFiles: readonly string[]
  readonly input?: string
  readonly format: AuditFormat
  /** Flag value; falls back to audit.failOn, then 'high'. */
  readonly failOn?: Severity | 'none'
  /** Flag value; falls back to audit.unusedDays, then 90. */
  readonly unusedDays?: number
  readonly suggest: boolean
  readonly exclusions?: string
}

export interface AuditIamResult {
  readonly report: AuditReport
  /** The SARIF log, with --format sarif. */
  readonly sarif?: Record<string, unknown>
  /** 3 when a finding is at or above the fail-on severity. */
  readonly exitCode: 0 | 3
}

/** Reads the config when there is one; --input and --policy-file work without it. */
async function optionalConfig(ctx: CommandContext): Promise<MlopsConfig | undefined> {
  try {
    return await ctx.config()
  } catch (e) {
    if (e instanceof MlopsError && e.code === 'ConfigNotFound') return undefined
    throw e
  }
}

async function readText(file: string, what: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new UserError(
      code === 'ENOENT' ? 'FileNotFound' : 'FileUnreadable',
      `${flag}: cannot read ${what} ${file}${code === 'ENOENT' ? ': no such file' : `: ${(e as Error).message}`}.`,
      {
        hint: `Check the path given to ${flag} (relative paths start from the current folder).`,
      },
    )
  }
}

/** A policy file: a document, a URL-encoded document, or a wrapper such as GetPolicyVersion's output. */
export function parsePolicyFile(file: string, text: string): PolicyFileInput {
  let document
  try {
    let value = decodePolicyValue(text)
    for (let depth = 0; depth < 3 && typeof value === 'object' && value !== null && !('Statement' in value); depth++) {
      const o = value as Record<string, unknown>
      const inner = o.PolicyDocument ?? o.Document ?? o.PolicyVersion ?? o.AssumeRolePolicyDocument
      if (inner === undefined) break
      value = decodePolicyValue(inner)
    }
    document = parsePolicyDocument(value)
  } catch (e) {
    if (e instanceof PolicyParseError) {
      throw new UserError('InvalidPolicyFile', `--policy-file ${file}: ${e.message}.`, {
        hint: 'Pass an IAM policy document: {"Version": "2012-10-17", "Statement": [...]}.',
      })
    }
    throw e
  }
  const isTrustPolicy = document.statements.some((s) => s.principal !== undefined || s.notPrincipal !== undefined)
  return { path: file, text, document, isTrustPolicy }
}

async function loadExclusions(ctx: CommandContext, opts: AuditIamOptions, config: MlopsConfig | undefined): Promise<{ exclusions: Exclusions; file?: string }> {
  const file = opts.exclusions ? path.resolve(ctx.deps.cwd, opts.exclusions) : config?.audit.exclusions ? ctx.resolvePath(config.audit.exclusions) : undefined
  const known = config?.audit.knownAccounts ?? []
  if (!file) return { exclusions: { ...EMPTY_EXCLUSIONS, knownAccounts: [...known] } }
  const text = await readText(file, 'exclusions file', opts.exclusions ? '--exclusions' : 'audit.exclusions')
  try {
    const ex = parseExclusions(text)
    return { exclusions: { ...ex, knownAccounts: [...new Set([...ex.knownAccounts, ...known])] }, file }
  } catch (e) {
    if (e instanceof ExclusionsError) {
      throw new UserError('InvalidExclusions', `Exclusions file ${file}: ${e.message}`, {
        hint: e.issues.length ? e.issues.join('\n') : 'See `mlops audit-iam --help` for the format.',
        details: { issues: e.issues },
      })
    }
    throw e
  }
}

function projectRoles(config: MlopsConfig): ProjectRoles {
  const names = resourceNames(config)
  return {
    project: config.project.name,
    lambdaRole: names.lambdaRole,
    trainingRole: names.trainingRole,
    ec2Role: names.ec2Role,
    instanceProfile: names.ec2InstanceProfile,
    executionRoles: config.training.roleArn ? [roleNameOf(config.training.roleArn)] : [],
    extraRoles: config.audit.roles,
  }
}

/** The read-only requests a live audit makes (for --dry-run). */
function livePlan(config: MlopsConfig | undefined, opts: AuditIamOptions): PlannedOperation[] {
  const ops: PlannedOperation[] = [
    {
      service: 'iam',
      operation: 'GetAccountAuthorizationDetails',
      input: { Filter: opts.allRoles ? ['Role', 'LocalManagedPolicy', 'AWSManagedPolicy'] : ['Role', 'LocalManagedPolicy'], MaxItems: 1000 },
      note: 'repeated with Marker while IsTruncated',
    },
  ]
  if (config && !opts.allRoles && opts.roles.length === 0) {
    const names = resourceNames(config)
    ops.push({
      service: 'lambda',
      operation: 'GetFunctionConfiguration',
      input: { FunctionName: names.lambdaFunction },
      note: "the function's role is in scope",
    })
    ops.push({
      service: 'sagemaker',
      operation: 'DescribeEndpoint',
      input: { EndpointName: names.endpoint },
      note: 'its execution role is in scope',
    })
    ops.push({
      service: 'sagemaker',
      operation: 'DescribeEndpointConfig',
      input: { EndpointConfigName: '<config the endpoint serves>' },
      note: 'when the endpoint exists',
    })
    ops.push({ service: 'sagemaker', operation: 'DescribeModel', input: { ModelName: '<each model of that config>' }, note: 'its ExecutionRoleArn' })
  }
  ops.push({ service: 'iam', operation: 'GetRole', input: { RoleName: '<each role in scope without RoleLastUsed>' } })
  if (!opts.allRoles) {
    ops.push({ service: 'iam', operation: 'GetPolicy', input: { PolicyArn: '<each AWS managed policy attached to a role in scope>' } })
    ops.push({ service: 'iam', operation: 'GetPolicyVersion', input: { PolicyArn: '<same>', VersionId: '<its DefaultVersionId>' } })
  }
  if (opts.suggest)
    ops.push({
      service: 'iam',
      operation: 'GenerateServiceLastAccessedDetails',
      input: { Arn: '<role-arn>', Granularity: 'ACTION_LEVEL' },
      note: 'for roles with findings whose purpose mlops does not know',
    })
  return ops
}

/**
 * Rules whose findings make --suggest read last-accessed data for a role of unknown purpose: every
 * rule about what a role may do, that is all of them but the trust-policy rules and unused-role.
 */
const PERMISSION_RULES: ReadonlySet<string> = new Set(RULE_IDS.filter((id) => !id.startsWith('trust-') && id !== 'unused-role'))

const AUTH_DETAILS_HINT = 'Save it with `aws iam get-account-authorization-details --output json > auth-details.json`.'

/** What the run gathered before choosing the scope: every role seen, and where they came from. */
interface Gathered {
  readonly allRoles: RoleInput[]
  readonly warnings: string[]
  readonly project: ProjectRoles | undefined
  /** The live IAM client (undefined offline). */
  readonly iam: AwsClients['iam'] | undefined
}

/** Roles from a saved `get-account-authorization-details` file (--input). */
async function gatherFromInput(ctx: CommandContext, input: string, texts: Map<string, string>): Promise<{ roles: RoleInput[]; warnings: string[] }> {
  const text = await readText(path.resolve(ctx.deps.cwd, input), 'auth-details file', '--input')
  texts.set(input, text)
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new UserError('InvalidInput', `--input ${input} is not valid JSON (${(e as Error).message}).`, { hint: AUTH_DETAILS_HINT })
  }
  try {
    return parseAuthDetails(json)
  } catch (e) {
    if (e instanceof AuthDetailsError) throw new UserError('InvalidInput', `--input ${input}: ${e.message}.`, { hint: AUTH_DETAILS_HINT })
    throw e
  }
}

/** Roles from the live account, plus the roles the project's resources use when the scope is the project. */
async function gatherLive(ctx: CommandContext, opts: AuditIamOptions, config: MlopsConfig | undefined, progress: Progress): Promise<Gathered> {
  let project = config ? projectRoles(config) : undefined
  const wantProject = Boolean(config && !opts.allRoles && opts.roles.length === 0)
  const clients = await ctx.clients(wantProject ? ['iam', 'lambda', 'sagemaker'] : ['iam'], config)
  ctx.ui.step('Reading IAM roles and policies (GetAccountAuthorizationDetails)…')
  const details = await readLiveRoles(clients.iam, progress, { signal: ctx.signal, includeAwsManaged: opts.allRoles })
  if (wantProject && config && project) {
    const names = resourceNames(config)
    const found = await readProjectResourceRoles(
      clients as Pick<AwsClients, 'lambda' | 'sagemaker'>,
      { functionName: names.lambdaFunction, endpointName: names.endpoint },
      progress,
    )
    project = {
      ...project,
      ...(found.functionRole ? { functionRole: found.functionRole } : {}),
      executionRoles: [...(project.executionRoles ?? []), ...found.executionRoles],
    }
  }
  return { allRoles: details.roles, warnings: details.warnings, project, iam: clients.iam }
}

/** Which roles are audited, and the sentence that says so in the report. */
function chooseScope(opts: AuditIamOptions, project: ProjectRoles | undefined, hasRoleSource: boolean): { scope?: Scope; scopeText: string } {
  if (!hasRoleSource && (opts.roles.length || opts.allRoles)) {
    throw new UserError('InvalidFlag', '--role and --all-roles choose roles from the account or an --input file; with only --policy-file there are no roles.', {
      hint: 'Add --input <auth-details.json>, or drop --policy-file to audit the live account.',
    })
  }
  if (opts.allRoles) return { scope: { mode: 'all' }, scopeText: 'all roles' }
  if (opts.roles.length) return { scope: { mode: 'named', names: opts.roles }, scopeText: `roles named with --role` }
  if (project && hasRoleSource) {
    return {
      scope: { mode: 'project', project },
      scopeText: `project ${project.project}: roles tagged mlops:project=${project.project} and the roles its resources use`,
    }
  }
  if (hasRoleSource) return { scope: { mode: 'all' }, scopeText: 'all roles in the input file (no mlops.config.yaml, so no project scope)' }
  return { scopeText: 'policy files only' }
}

/** The roles in scope (completed from IAM when live); a named role that is not there is a usage error. */
async function selectScoped(
  g: Gathered,
  scope: Scope,
  where: string,
  progress: Progress,
): Promise<{ selected: RoleInput[]; reasons: ReadonlyMap<string, string>; warnings: string[] }> {
  const picked = selectRoles(g.allRoles, scope, g.project)
  if (picked.missing.length) {
    const available = g.allRoles.map((r) => r.name)
    throw new UserError('RoleNotFound', `No role named ${picked.missing.join(', ')} in ${where}.`, {
      hint: available.length
        ? `Roles there: ${available.slice(0, 10).join(', ')}${available.length > 10 ? ` and ${available.length - 10} more` : ''}.`
        : 'There are no roles there.',
    })
  }
  const warnings: string[] = []
  if (scope.mode === 'project' && picked.roles.length === 0) {
    const p = scope.project
    warnings.push(
      `No role of project ${p.project} found (tagged mlops:project=${p.project}, or named ${p.lambdaRole}, ${p.trainingRole}, ${p.ec2Role}). ` +
        'Nothing deployed yet? Audit other roles with --role <name> or --all-roles.',
    )
  }
  const selected = g.iam && picked.roles.length ? await completeRoles(g.iam, picked.roles, progress) : picked.roles
  return { selected, reasons: picked.reasons, warnings }
}

/** --suggest: a scoped policy per role that has findings or a known purpose. */
async function collectSuggestions(
  ctx: CommandContext,
  selected: readonly RoleInput[],
  result: AnalysisResult,
  config: MlopsConfig | undefined,
  iam: AwsClients['iam'] | undefined,
  progress: Progress,
): Promise<{ suggestions: Suggestion[]; warnings: string[] }> {
  const suggestions: Suggestion[] = []
  const warnings: string[] = []
  for (let role of selected) {
    if (!result.roles.some((r) => r.name === role.name)) continue
    const hasFindings = result.findings.some((f) => f.role?.name === role.name && PERMISSION_RULES.has(f.ruleId))
    if (!role.purpose && !hasFindings) continue
    if (!role.purpose && !role.lastAccessed && iam) {
      ctx.ui.step(`Reading last-accessed data for ${role.name}…`)
      const lastAccessed = await readLastAccessed(iam, role.arn, { clock: ctx.clock, signal: ctx.signal, timeoutMs: 60_000, progress })
      if (lastAccessed) role = { ...role, lastAccessed }
    }
    const s = await suggestFor(role, { ...(config ? { config } : {}), region: ctx.awsSettings(config).region, permissions: result.permissions })
    if (s) suggestions.push(s)
    else warnings.push(`--suggest: no scoped policy for ${role.name}: mlops does not know its purpose and there is no last-accessed data for it.`)
  }
  return { suggestions, warnings }
}

export async function runAuditIam(ctx: CommandContext, opts: AuditIamOptions): Promise<Outcome<AuditIamResult>> {
  const config = await optionalConfig(ctx)
  const failOn = opts.failOn ?? config?.audit.failOn ?? 'high'
  const unusedDays = opts.unusedDays ?? config?.audit.unusedDays ?? 90
  const live = !opts.input && opts.policyFiles.length === 0
  if (live && !config && !opts.allRoles && opts.roles.length === 0) {
    throw new UserError('ConfigNotFound', `No config file at ${ctx.configPath}: the default scope is the project's roles.`, {
      hint: 'Run it in the project folder (or pass --config), or choose roles with --role <name> / --all-roles. Offline: --input <auth-details.json> or --policy-file <file>.',
    })
  }
  const { exclusions } = await loadExclusions(ctx, opts, config)
  const texts = new Map<string, string>()
  const policyFiles: PolicyFileInput[] = []
  for (const file of opts.policyFiles) {
    const text = await readText(path.resolve(ctx.deps.cwd, file), 'policy file', '--policy-file')
    texts.set(file, text)
    policyFiles.push(parsePolicyFile(file, text))
  }
  if (live && ctx.dryRun) {
    return planned({
      title: 'mlops audit-iam (read-only)',
      operations: livePlan(config, opts),
      notes: ['audit-iam only reads; --input and --policy-file need no AWS access at all.'],
    })
  }

  const progress: Progress = { step: (m) => ctx.ui.step(m), warn: (m) => ctx.ui.warn(m) }
  const project = config ? projectRoles(config) : undefined
  let gathered: Gathered = { allRoles: [], warnings: [], project, iam: undefined }
  if (opts.input) {
    const details = await gatherFromInput(ctx, opts.input, texts)
    gathered = { ...gathered, allRoles: details.roles, warnings: details.warnings }
  } else if (live) gathered = await gatherLive(ctx, opts, config, progress)
  const extraWarnings = [...gathered.warnings]

  const hasRoleSource = Boolean(opts.input) || live
  const { scope, scopeText } = chooseScope(opts, gathered.project, hasRoleSource)
  let selected: RoleInput[] = []
  let reasons: ReadonlyMap<string, string> | undefined
  if (scope) {
    const s = await selectScoped(gathered, scope, opts.input ? opts.input : 'the account', progress)
    ;({ selected, reasons } = s)
    extraWarnings.push(...s.warnings)
  }

  const result = await analyze(selected, policyFiles, { now: ctx.clock.now(), unusedDays, exclusions })
  const suggested = opts.suggest ? await collectSuggestions(ctx, selected, result, config, gathered.iam, progress) : undefined
  if (suggested) extraWarnings.push(...suggested.warnings)

  const accountId = selected.map((r) => iamAccountOf(r.arn)).find(Boolean) ?? gathered.allRoles.map((r) => iamAccountOf(r.arn)).find(Boolean)
  const report = buildReport(result, {
    version: ctx.deps.version,
    iamData: await iamDataVersion(),
    generatedAt: new Date(ctx.clock.now()).toISOString(),
    source: {
      kind: opts.input ? 'input' : live ? 'live' : 'policy-files',
      ...(accountId ? { accountId } : {}),
      ...(opts.input ? { input: opts.input } : {}),
      policyFiles: opts.policyFiles,
      scope: scopeText,
    },
    options: { failOn, unusedDays },
    ...(reasons ? { scopeReasons: reasons } : {}),
    policyFileCount: policyFiles.length,
    ...(suggested ? { suggestions: suggested.suggestions } : {}),
    extraWarnings,
  })
  const sarif =
    opts.format === 'sarif'
      ? buildSarif(report, {
          cwd: ctx.deps.cwd,
          texts,
          category: config?.project.name ?? report.source.kind,
          ...(config ? { configFile: ctx.configPath } : {}),
        })
      : undefined
  return done({ report, ...(sarif ? { sarif } : {}), exitCode: report.summary.atOrAboveFailOn > 0 ? 3 : 0 })
}
