import { describe, expect, it } from 'vitest'
import { EMPTY_EXCLUSIONS } from '../../src/features/audit/exclusions.js'
import type { RuleId, Severity } from '../../src/features/audit/types.js'
import { ACCOUNT, allow, auditPolicy, auditRoles, deny, doc, inline, managed, ofRule, role, serviceTrust, type Doc } from '../fixtures/audit/helpers.js'

/**
 * Table-driven tests, one table per rule: a policy (or role) and the severity the rule must give it,
 * or `null` when the rule must stay silent.
 */

type Case = [name: string, policy: Doc, expected: Severity | null, conditional?: boolean]

async function expectRule(rule: RuleId, d: Doc, expected: Severity | null, conditional?: boolean) {
  const found = ofRule(await auditPolicy(d), rule)
  if (expected === null) {
    expect(found, JSON.stringify(found, null, 1)).toEqual([])
    return
  }
  expect(found.map((f) => f.severity)).toContain(expected)
  if (conditional !== undefined) expect(found.find((f) => f.severity === expected)?.conditional).toBe(conditional)
}

const ifPrincipalOrg = { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } }

describe('admin-access', () => {
  it.each<Case>([
    ['Action * on *', doc(allow('*')), 'critical', false],
    ['Allow + NotAction with a tiny list', doc({ Effect: 'Allow', NotAction: ['s3:DeleteBucket'], Resource: '*' }), 'critical'],
    ['NotResource counts as every resource', doc({ Effect: 'Allow', Action: '*', NotResource: 'arn:aws:s3:::secret/*' }), 'critical'],
    ['a Condition lowers it one level', doc(allow('*', '*', ifPrincipalOrg)), 'high', true],
    ['an unconditioned Deny of IAM removes it', doc(allow('*'), deny('iam:*')), null],
    [
      'NotAction of IAM and Organizations (PowerUser) is not admin',
      doc({ Effect: 'Allow', NotAction: ['iam:*', 'organizations:*', 'account:*'], Resource: '*' }),
      null,
    ],
    ['iam:* alone is not admin', doc(allow('iam:*')), null],
    ['Action * on one bucket is not admin', doc(allow('*', 'arn:aws:s3:::bucket/*')), null],
  ])('%s', async (_n, d, sev, cond) => expectRule('admin-access', d, sev, cond))
})

describe('privilege-escalation', () => {
  it.each<Case>([
    ['PassRole + CreateTrainingJob on * (sagemaker-002)', doc(allow(['iam:PassRole', 'sagemaker:CreateTrainingJob'])), 'high', false],
    [
      'PassRole with iam:PassedToService: one level lower',
      doc(
        allow('iam:PassRole', '*', { Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } }),
        allow('sagemaker:CreateTrainingJob'),
      ),
      'medium',
      true,
    ],
    [
      'PassRole scoped to one role: low (potential)',
      doc(allow('iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker`), allow('sagemaker:CreateTrainingJob')),
      'low',
    ],
    ['existing-passrole path (lambda:UpdateFunctionCode): one level lower', doc(allow('lambda:UpdateFunctionCode')), 'medium'],
    ['iam:CreatePolicyVersion (iam-001)', doc(allow('iam:CreatePolicyVersion')), 'high'],
    ['wildcards are expanded (iam:Put*)', doc(allow('iam:Put*')), 'high'],
    ['an unconditioned Deny on * removes the path', doc(allow(['iam:PassRole', 'sagemaker:CreateTrainingJob']), deny('sagemaker:CreateTrainingJob')), null],
    [
      'a conditioned Deny does not (it may not apply)',
      doc(allow(['iam:PassRole', 'sagemaker:CreateTrainingJob']), deny('sagemaker:CreateTrainingJob', '*', ifPrincipalOrg)),
      'high',
    ],
    ['only one action of a pair is not a path', doc(allow('sagemaker:CreateTrainingJob')), null],
    ['read-only policy', doc(allow(['s3:GetObject', 'sagemaker:Describe*'])), null],
  ])('%s', async (_n, d, sev, cond) => expectRule('privilege-escalation', d, sev, cond))

  it('names the matched catalog paths, and is critical on a role a compute service assumes', async () => {
    const d = doc(allow(['iam:PassRole', 'sagemaker:CreateTrainingJob']))
    const [asFile] = ofRule(await auditPolicy(d), 'privilege-escalation')
    expect(asFile.paths).toEqual(['sagemaker-002'])
    const result = await auditRoles([role('fn', { trust: serviceTrust('lambda.amazonaws.com'), policies: [inline('p', d)] })])
    const [onLambda] = ofRule(result.findings, 'privilege-escalation')
    expect(onLambda.severity).toBe('critical')
    expect(onLambda.adjustments?.join(' ')).toContain('lambda.amazonaws.com')
  })

  it('combines actions from several policies of one role (the union is what the role can do)', async () => {
    const result = await auditRoles([
      role('split', {
        trust: serviceTrust('sagemaker.amazonaws.com'),
        policies: [inline('a', doc(allow('iam:PassRole'))), inline('b', doc(allow('sagemaker:CreateTrainingJob')))],
      }),
    ])
    const [f] = ofRule(result.findings, 'privilege-escalation')
    expect(f.paths).toContain('sagemaker-002')
    expect(new Set(f.statements.map((s) => s.policy.name))).toEqual(new Set(['a', 'b']))
  })

  it('iam:* with a Deny of ec2:RunInstances matches the IAM paths but not ec2-001', async () => {
    const paths = ofRule(await auditPolicy(doc(allow(['iam:*', 'ec2:RunInstances']), deny('ec2:RunInstances'))), 'privilege-escalation').flatMap(
      (f) => f.paths ?? [],
    )
    expect(paths).toContain('iam-001')
    expect(paths).toContain('iam-005')
    expect(paths).not.toContain('ec2-001')
  })
})

describe('aws-managed-full-access', () => {
  it.each([
    ['AmazonSageMakerFullAccess on a Lambda role', 'lambda.amazonaws.com', managed('AmazonSageMakerFullAccess'), 'high'],
    ['AmazonS3FullAccess on an EC2 role', 'ec2.amazonaws.com', managed('AmazonS3FullAccess'), 'high'],
    ['AmazonS3FullAccess on a SageMaker role', 'sagemaker.amazonaws.com', managed('AmazonS3FullAccess'), 'high'],
    ['AmazonS3FullAccess on a role people assume', undefined, managed('AmazonS3FullAccess'), 'medium'],
    ['AWSLambdaBasicExecutionRole (not FullAccess, no wildcard)', 'lambda.amazonaws.com', managed('AWSLambdaBasicExecutionRole', '/service-role/'), null],
    [
      'a customer policy called FullAccess',
      'lambda.amazonaws.com',
      {
        ...inline('MyFullAccess', doc(allow('s3:GetObject', 'arn:aws:s3:::b/*'))),
        kind: 'customer-managed' as const,
        arn: `arn:aws:iam::${ACCOUNT}:policy/MyFullAccess`,
      },
      null,
    ],
  ] as const)('%s', async (_n, service, policy, expected) => {
    const trust = service ? serviceTrust(service) : doc({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' })
    const result = await auditRoles([role('r', { trust, policies: [policy] })])
    const found = ofRule(result.findings, 'aws-managed-full-access')
    if (expected === null) expect(found).toEqual([])
    else {
      expect(found.map((f) => f.severity)).toEqual([expected])
      expect(found[0].policy?.name).toBe(policy.name)
    }
  })
})

describe('service-wildcard', () => {
  it.each<Case>([
    ['s3:* on *', doc(allow('s3:*')), 'medium', false],
    ['* on *', doc(allow('*')), 'medium'],
    ['Allow + NotAction', doc({ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }), 'medium'],
    ['NotResource counts as *', doc({ Effect: 'Allow', Action: 'sagemaker:*', NotResource: 'arn:aws:sagemaker:*:*:domain/*' }), 'medium'],
    ['s3:* on one bucket: low', doc(allow('s3:*', ['arn:aws:s3:::b', 'arn:aws:s3:::b/*'])), 'low'],
    ['s3:* with a Condition: low, conditional', doc(allow('s3:*', '*', ifPrincipalOrg)), 'low', true],
    ['s3:Get* is not a service wildcard', doc(allow('s3:Get*')), null],
    ['a wildcard fully denied is gone', doc(allow('s3:*'), deny('s3:*')), null],
  ])('%s', async (_n, d, sev, cond) => expectRule('service-wildcard', d, sev, cond))
})

describe('resource-star-write', () => {
  it.each<Case>([
    ['write on *: low', doc(allow('logs:CreateLogGroup')), 'low', false],
    ['permissions management on *: high', doc(allow('s3:PutBucketPolicy')), 'high'],
    ['permissions management with a Condition: medium', doc(allow('s3:PutBucketPolicy', '*', ifPrincipalOrg)), 'medium', true],
    ['arn:aws:s3:::* is every bucket', doc(allow('s3:PutObject', 'arn:aws:s3:::*')), 'low'],
    ['a scoped write is fine', doc(allow('s3:PutObject', 'arn:aws:s3:::bucket/output/*')), null],
    ['a wildcard-only write (no resource-level permissions) is skipped', doc(allow('ssmmessages:CreateControlChannel')), null],
    ['read actions are not writes', doc(allow('ecr:GetAuthorizationToken')), null],
    ['iam:PassRole is left to passrole-unscoped', doc(allow('iam:PassRole')), null],
    [
      'a resource pattern of another type does not make an action star',
      doc(allow('codebuild:StartBuild', ['arn:aws:codebuild:*:*:project/sagemaker*', 'arn:aws:codebuild:*:*:build/*'])),
      null,
    ],
  ])('%s', async (_n, d, sev, cond) => expectRule('resource-star-write', d, sev, cond))
})

describe('passrole-unscoped', () => {
  it.each<Case>([
    ['PassRole on *', doc(allow('iam:PassRole')), 'high', false],
    ['PassRole on every role ARN', doc(allow('iam:PassRole', 'arn:aws:iam::*:role/*')), 'high'],
    ['PassRole via NotResource', doc({ Effect: 'Allow', Action: 'iam:PassRole', NotResource: `arn:aws:iam::${ACCOUNT}:role/admin` }), 'high'],
    [
      'iam:PassedToService lowers it',
      doc(allow('iam:PassRole', '*', { Condition: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } } })),
      'medium',
      true,
    ],
    ['PassRole on one role', doc(allow('iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker`)), null],
    ['PassRole on a name pattern', doc(allow('iam:PassRole', 'arn:aws:iam::*:role/*AmazonSageMaker*')), null],
  ])('%s', async (_n, d, sev, cond) => expectRule('passrole-unscoped', d, sev, cond))
})

describe('credentials-exposure', () => {
  it.each<Case>([
    ['iam:CreateAccessKey on *', doc(allow('iam:CreateAccessKey')), 'high', false],
    ['sts:AssumeRole on *', doc(allow('sts:AssumeRole')), 'high'],
    ['ecr:GetAuthorizationToken has no resource-level permissions: low', doc(allow('ecr:GetAuthorizationToken')), 'low'],
    ['with a Condition: medium', doc(allow('iam:CreateAccessKey', '*', ifPrincipalOrg)), 'medium', true],
    ['sts:AssumeRole on one role', doc(allow('sts:AssumeRole', `arn:aws:iam::${ACCOUNT}:role/deploy`)), null],
  ])('%s', async (_n, d, sev, cond) => expectRule('credentials-exposure', d, sev, cond))
})

describe('data-exfiltration', () => {
  it.each<Case>([
    ['s3:GetObject on *', doc(allow('s3:GetObject')), 'medium', false],
    ['secrets on every secret ARN', doc(allow('secretsmanager:GetSecretValue', 'arn:aws:secretsmanager:*:*:secret:*')), 'medium'],
    ['ssm:GetParameter with a Condition: low', doc(allow('ssm:GetParameter', '*', ifPrincipalOrg)), 'low', true],
    ['s3:GetObject on a prefix', doc(allow('s3:GetObject', 'arn:aws:s3:::bucket/data/*')), null],
    ['s3:Get* on * expands to s3:GetObject', doc(allow('s3:Get*')), 'medium'],
  ])('%s', async (_n, d, sev, cond) => expectRule('data-exfiltration', d, sev, cond))
})

describe('trust-any-principal, trust-cross-account, trust-service-no-source', () => {
  const assume = (Principal: unknown, extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole', ...extra })
  it.each<[string, Doc, RuleId, Severity | null, boolean?]>([
    ['Principal "*"', doc(assume('*')), 'trust-any-principal', 'critical', false],
    ['Principal AWS "*" with aws:PrincipalOrgID: one level lower', doc(assume({ AWS: '*' }, ifPrincipalOrg)), 'trust-any-principal', 'high', true],
    ['any account root', doc(assume({ AWS: 'arn:aws:iam::*:root' })), 'trust-any-principal', 'critical'],
    [
      'Allow with NotPrincipal',
      doc({ Effect: 'Allow', NotPrincipal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }),
      'trust-any-principal',
      'critical',
    ],
    [
      'federated provider without conditions',
      doc({
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
        Action: 'sts:AssumeRoleWithWebIdentity',
      }),
      'trust-any-principal',
      'critical',
    ],
    [
      'GitHub OIDC without a :sub condition',
      doc({
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' } },
      }),
      'trust-any-principal',
      'high',
    ],
    [
      'GitHub OIDC with :sub',
      doc({
        Effect: 'Allow',
        Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/token.actions.githubusercontent.com` },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:org/repo:*' } },
      }),
      'trust-any-principal',
      null,
    ],
    ['another account', doc(assume({ AWS: 'arn:aws:iam::999988887777:root' })), 'trust-cross-account', 'medium', false],
    [
      'another account with sts:ExternalId',
      doc(assume({ AWS: '999988887777' }, { Condition: { StringEquals: { 'sts:ExternalId': 'x' } } })),
      'trust-cross-account',
      'low',
      true,
    ],
    ['our own account', doc(assume({ AWS: `arn:aws:iam::${ACCOUNT}:root` })), 'trust-cross-account', null],
    ['lambda without aws:SourceAccount', serviceTrust('lambda.amazonaws.com', false), 'trust-service-no-source', 'medium', false],
    ['lambda with aws:SourceAccount', serviceTrust('lambda.amazonaws.com'), 'trust-service-no-source', null],
    [
      'lambda with aws:SourceArn',
      doc(assume({ Service: 'lambda.amazonaws.com' }, { Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:lambda:us-east-1:${ACCOUNT}:function:*` } } })),
      'trust-service-no-source',
      null,
    ],
    [
      'lambda with an unrelated condition: low',
      doc(assume({ Service: 'lambda.amazonaws.com' }, { Condition: { StringEquals: { 'aws:RequestedRegion': 'us-east-1' } } })),
      'trust-service-no-source',
      'low',
      true,
    ],
    // EC2 sends no source keys for instance profiles: the standard trust is correct there (issue 14 item 8, as Prowler).
    ['ec2 without source keys: the standard instance-profile trust, no finding', serviceTrust('ec2.amazonaws.com', false), 'trust-service-no-source', null],
  ])('%s', async (_n, trust, rule, expected, conditional) => {
    const result = await auditRoles([role('r', { trust })])
    const found = ofRule(result.findings, rule)
    if (expected === null) return expect(found).toEqual([])
    expect(found.map((f) => f.severity)).toEqual([expected])
    if (conditional !== undefined) expect(found[0].conditional).toBe(conditional)
    expect(found[0].policy?.kind).toBe('trust')
  })

  it('knownAccounts (exclusions file) silences trust-cross-account', async () => {
    const trust = doc(assume({ AWS: 'arn:aws:iam::999988887777:root' }))
    const result = await auditRoles([role('r', { trust })], { exclusions: { ...EMPTY_EXCLUSIONS, knownAccounts: ['999988887777'] } })
    expect(ofRule(result.findings, 'trust-cross-account')).toEqual([])
  })
})

describe('unused-role', () => {
  it.each<[string, Parameters<typeof role>[1], number, Severity | null]>([
    ['last used 200 days ago', { lastUsed: { date: '2026-05-06T00:00:00Z', region: 'eu-west-1' } }, 90, 'medium'],
    ['last used 30 days ago', { lastUsed: { date: '2026-10-23T00:00:00Z' } }, 90, null],
    ['last used 30 days ago with --unused-days 10', { lastUsed: { date: '2026-10-23T00:00:00Z' } }, 10, 'medium'],
    ['never used, created two years ago', { lastUsed: {}, createDate: '2024-11-01T00:00:00Z' }, 90, 'low'],
    ['never used, created last week', { lastUsed: {}, createDate: '2026-11-15T00:00:00Z' }, 90, null],
    ['RoleLastUsed unknown', { lastUsed: undefined }, 90, null],
  ])('%s', async (_n, over, days, expected) => {
    const r = role('r', over)
    if (over && 'lastUsed' in over && over.lastUsed === undefined) delete (r as { lastUsed?: unknown }).lastUsed
    const found = ofRule((await auditRoles([r], { unusedDays: days })).findings, 'unused-role')
    if (expected === null) expect(found).toEqual([])
    else expect(found.map((f) => f.severity)).toEqual([expected])
  })

  it('says how long ago and where', async () => {
    const [f] = ofRule((await auditRoles([role('r', { lastUsed: { date: '2026-05-06T00:00:00Z', region: 'eu-west-1' } })])).findings, 'unused-role')
    expect(f.message).toBe('Last used 200 days ago (2026-05-06 in eu-west-1), more than 90 days.')
  })
})

describe('unsafe-ssm-instance-role', () => {
  it.each<[string, Parameters<typeof role>[1], Severity | null]>([
    [
      'instance role with ssm:SendCommand on *',
      { instanceProfiles: ['box'], trust: serviceTrust('ec2.amazonaws.com', false), policies: [inline('ops', doc(allow('ssm:SendCommand')))] },
      'medium',
    ],
    ['trusted by EC2, ssm:* on *', { trust: serviceTrust('ec2.amazonaws.com', false), policies: [inline('ops', doc(allow('ssm:*')))] }, 'medium'],
    [
      'SendCommand on tagged instances only: low',
      {
        instanceProfiles: ['box'],
        policies: [
          inline(
            'ops',
            doc(allow('ssm:SendCommand', ['arn:aws:ec2:us-east-1:123456789012:instance/i-0abc', 'arn:aws:ssm:us-east-1::document/AWS-RunShellScript'])),
          ),
        ],
      },
      'low',
    ],
    [
      'AmazonSSMManagedInstanceCore is what the agent needs',
      { instanceProfiles: ['box'], trust: serviceTrust('ec2.amazonaws.com', false), policies: [managed('AmazonSSMManagedInstanceCore')] },
      null,
    ],
    ['not an instance role', { trust: serviceTrust('lambda.amazonaws.com'), policies: [inline('ops', doc(allow('ssm:SendCommand')))] }, null],
  ])('%s', async (_n, over, expected) => {
    const found = ofRule((await auditRoles([role('r', over)])).findings, 'unsafe-ssm-instance-role')
    if (expected === null) expect(found).toEqual([])
    else expect(found.map((f) => f.severity)).toEqual([expected])
  })
})

describe('exclusions and scope of the analysis', () => {
  it('service-linked roles are excluded and counted, never analysed', async () => {
    const slr = role('AWSServiceRoleForSupport', { path: '/aws-service-role/support.amazonaws.com/', policies: [inline('x', doc(allow('*')))] })
    const result = await auditRoles([slr])
    expect(result.findings).toEqual([])
    expect(result.excluded).toEqual([{ kind: 'role', name: 'AWSServiceRoleForSupport', reason: expect.stringContaining('service-linked') }])
  })

  it('a permissions boundary limits what counts', async () => {
    const boundary = { ...inline('boundary', doc(allow(['s3:*', 'logs:*']))), kind: 'boundary' as const }
    const result = await auditRoles([role('bounded', { policies: [inline('admin', doc(allow('*')))], boundary })])
    expect(ofRule(result.findings, 'admin-access')).toEqual([])
    expect(ofRule(result.findings, 'privilege-escalation')).toEqual([])
    expect(ofRule(result.findings, 'data-exfiltration').flatMap((f) => f.actions)).toEqual(['s3:GetObject'])
  })

  it('every finding has a stable id, a fix and a location', async () => {
    const findings = await auditPolicy(doc(allow(['iam:PassRole', 's3:*']), allow('secretsmanager:GetSecretValue')))
    expect(findings.length).toBeGreaterThan(3)
    for (const f of findings) {
      expect(f.id).toMatch(new RegExp(`^${f.ruleId}:policy\\.json:`))
      expect(f.fix.length).toBeGreaterThan(20)
      expect(f.statements.length).toBeGreaterThan(0)
    }
    expect(new Set(findings.map((f) => f.id)).size).toBe(findings.length)
  })
})
