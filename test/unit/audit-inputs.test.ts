import { readFileSync } from 'node:fs'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { actionInfo, ensureServices, expandAction, resourceAppliesTo } from '../../src/features/audit/actions.js'
import { parseAuthDetails } from '../../src/features/audit/auth-details.js'
import { applyFindingExclusions, ExclusionsError, globMatch, parseExclusions } from '../../src/features/audit/exclusions.js'
import { isEffectivelyStar } from '../../src/features/audit/grants.js'
import { parsePolicyDocument, PolicyParseError, statementLine } from '../../src/features/audit/parse-policy.js'
import { parsePolicyFile } from '../../src/features/audit/audit-iam.js'
import { selectRoles, type ProjectRoles } from '../../src/features/audit/scope.js'
import { suggestFor } from '../../src/features/audit/suggest.js'
import { allow, auditPolicy, auditRoles, doc, FIXTURES, inline, managed, role, serviceTrust } from '../fixtures/audit/helpers.js'

const authDetails = () => parseAuthDetails(JSON.parse(readFileSync(path.join(FIXTURES, 'auth-details.json'), 'utf8')))

describe('policy documents', () => {
  const d = { Version: '2012-10-17', Statement: [{ Sid: 'A', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }] }

  it('accepts an object, a JSON string, and a URL-encoded string (as the IAM API returns it)', () => {
    const expected = { version: '2012-10-17', statements: [{ index: 0, sid: 'A', effect: 'Allow', action: ['s3:GetObject'], resource: ['arn:aws:s3:::b/*'] }] }
    expect(parsePolicyDocument(d)).toEqual(expected)
    expect(parsePolicyDocument(JSON.stringify(d))).toEqual(expected)
    expect(parsePolicyDocument(encodeURIComponent(JSON.stringify(d)))).toEqual(expected)
  })

  it('normalises a single statement object and single strings to lists', () => {
    const p = parsePolicyDocument({
      Statement: { Effect: 'Deny', NotAction: 'iam:*', NotResource: 'arn:x', Condition: { Bool: { 'aws:SecureTransport': false } } },
    })
    expect(p.statements[0]).toEqual({
      index: 0,
      effect: 'Deny',
      notAction: ['iam:*'],
      notResource: ['arn:x'],
      condition: { Bool: { 'aws:SecureTransport': ['false'] } },
    })
  })

  it.each([
    [{ Statement: [{ Effect: 'allow', Action: 's3:*', Resource: '*' }] }, 'Statement[0]: Effect must be "Allow" or "Deny"'],
    [{ Statement: [{ Effect: 'Allow', Action: 's3:*', NotAction: 'iam:*', Resource: '*' }] }, 'Statement[0]: has both Action and NotAction'],
    [{ Statement: [{ Effect: 'Allow', Actions: 's3:*', Resource: '*' }] }, 'Statement[0]: unknown key "Actions"'],
    [{ Version: '2012-10-17' }, 'missing "Statement"'],
    ['%7Bnot json', 'not valid JSON'],
  ])('rejects %j with a message naming the place', (raw, message) => {
    expect(() => parsePolicyDocument(raw)).toThrow(PolicyParseError)
    expect(() => parsePolicyDocument(raw)).toThrow(message)
  })

  it('finds the line of each statement in a policy file', () => {
    const text = readFileSync(path.join(FIXTURES, 'policies', 'ci-too-broad.json'), 'utf8')
    expect(statementLine(text, 0)).toBe(4)
    expect(statementLine(text, 1)).toBe(10)
    expect(statementLine('{"Statement":{"Effect":"Allow"}}', 0)).toBe(1)
    expect(statementLine('not json', 0)).toBeUndefined()
  })

  it('policy files: URL-encoded, GetPolicyVersion output and trust policies are recognised', () => {
    const read = (f: string) => readFileSync(path.join(FIXTURES, 'policies', f), 'utf8')
    expect(parsePolicyFile('u.txt', read('url-encoded.txt')).document.statements[0].action).toEqual(['s3:*'])
    expect(parsePolicyFile('w.json', read('get-policy-version.json')).document.statements[0].action).toEqual(['s3:*'])
    expect(parsePolicyFile('t.json', read('github-trust.json')).isTrustPolicy).toBe(true)
    expect(parsePolicyFile('d.json', read('deploy-scoped.json')).isTrustPolicy).toBe(false)
  })
})

describe('IAM action data', () => {
  beforeAll(() => ensureServices(['s3', 'iam', 'codebuild', 'logs', 'sagemaker', 'ecr']))

  it('expands wildcards case-insensitively and keeps unknown literal actions', () => {
    expect(expandAction('s3:getobject*').map((a) => a.key)).toEqual(expect.arrayContaining(['s3:GetObject', 's3:GetObjectAcl', 's3:GetObjectTagging']))
    expect(expandAction('s3:GetObj?ct').map((a) => a.key)).toEqual(['s3:GetObject'])
    expect(expandAction('newsvc:DoThing')).toEqual([expect.objectContaining({ key: 'newsvc:DoThing', unknown: true })])
  })

  it('normalises access levels and knows actions without resource-level permissions', () => {
    expect(actionInfo('s3:PutBucketPolicy')?.access).toBe('Permissions management')
    expect(actionInfo('s3:PutObjectTagging')?.access).toBe('Tagging')
    expect(actionInfo('ecr:GetAuthorizationToken')).toMatchObject({ access: 'Read', wildcardOnly: true })
    expect(actionInfo('iam:PassRole')).toMatchObject({ access: 'Write', wildcardOnly: false, resourceTypes: ['role'] })
  })

  it.each([
    ['*', true],
    ['arn:aws:s3:::*', true],
    ['arn:aws:s3:::*/*', true],
    ['arn:aws:s3:::bucket/*', false],
    ['arn:aws:iam::*:role/*', true],
    ['arn:aws:iam::123456789012:role/*', true],
    ['arn:aws:iam::*:role/*AmazonSageMaker*', false],
    ['arn:aws:lambda:*:*:function:*', true],
    ['arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*', false],
  ])('%s is effectively "*": %s', (resource, expected) => {
    expect(isEffectivelyStar(resource)).toBe(expected)
  })

  it('a Resource of another resource type does not apply to an action', () => {
    const startBuild = actionInfo('codebuild:StartBuild')!
    expect(resourceAppliesTo('arn:aws:codebuild:*:*:build/*', startBuild)).toBe(false)
    expect(resourceAppliesTo('arn:aws:codebuild:*:*:project/sagemaker*', startBuild)).toBe(true)
    expect(resourceAppliesTo('arn:aws:logs:*:*:log-group:*', actionInfo('logs:PutLogEvents')!)).toBe(true)
    expect(resourceAppliesTo('arn:aws:s3:::bucket', actionInfo('s3:GetObject')!)).toBe(true)
  })
})

describe('auth-details input', () => {
  it('reads roles, inline and attached policies, URL-encoded documents, tags, instance profiles and RoleLastUsed', () => {
    const { roles, policies, warnings } = authDetails()
    expect(roles.map((r) => r.name)).toEqual([
      'dogs-lambda',
      'dogs-sagemaker',
      'dogs-ec2',
      'legacy-lambda-sm',
      'ec2-s3-full',
      'notaction-admin',
      'open-trust',
      'never-used',
      'AWSServiceRoleForSupport',
    ])
    expect(policies.size).toBe(4)
    expect(warnings).toEqual([])
    const legacy = roles.find((r) => r.name === 'legacy-lambda-sm')!
    expect(legacy.trust?.statements[0].principal).toEqual({ Service: ['lambda.amazonaws.com'] })
    expect(legacy.policies.map((p) => [p.kind, p.name, Boolean(p.document)])).toEqual([
      ['inline', 'invoke', true],
      ['aws-managed', 'AmazonSageMakerFullAccess', true],
      ['aws-managed', 'AWSLambdaBasicExecutionRole', true],
    ])
    expect(legacy.lastUsed).toEqual({ date: '2026-05-06T12:00:00Z', region: 'us-east-1' })
    expect(roles.find((r) => r.name === 'never-used')?.lastUsed).toEqual({})
    expect(roles.find((r) => r.name === 'dogs-ec2')).toMatchObject({ instanceProfiles: ['dogs-ec2'], tags: { 'mlops:project': 'dogs' } })
  })

  it('an attached managed policy missing from Policies is kept by name, with a warning in the analysis', async () => {
    const raw = {
      RoleDetailList: [
        {
          RoleName: 'r',
          Arn: 'arn:aws:iam::123456789012:role/r',
          Path: '/',
          AttachedManagedPolicies: [{ PolicyName: 'AmazonEC2FullAccess', PolicyArn: 'arn:aws:iam::aws:policy/AmazonEC2FullAccess' }],
          AssumeRolePolicyDocument: serviceTrust('ec2.amazonaws.com'),
        },
      ],
    }
    const { roles } = parseAuthDetails(raw)
    const result = await auditRoles(roles)
    expect(result.findings.map((f) => `${f.ruleId}:${f.severity}`)).toEqual(['aws-managed-full-access:high'])
    expect(result.warnings).toEqual(['r: the document of aws-managed policy AmazonEC2FullAccess is not available; only its name was checked.'])
  })

  it('rejects something that is not auth details', () => {
    expect(() => parseAuthDetails([1, 2])).toThrow('get-account-authorization-details')
    expect(() => parseAuthDetails({ Roles: [] })).toThrow('no RoleDetailList or Policies')
  })
})

describe('scope', () => {
  const project: ProjectRoles = {
    project: 'dogs',
    lambdaRole: 'dogs-lambda',
    trainingRole: 'dogs-sagemaker',
    ec2Role: 'dogs-ec2',
    instanceProfile: 'dogs-ec2',
    extraRoles: [],
  }

  it('project scope: tagged roles and the roles its resources use, each with a reason and a purpose', () => {
    const { roles } = authDetails()
    const picked = selectRoles(roles, { mode: 'project', project: { ...project, functionRole: 'legacy-lambda-sm' } }, project)
    expect(picked.roles.map((r) => [r.name, r.purpose])).toEqual([
      ['dogs-lambda', 'lambda'],
      ['dogs-sagemaker', 'training'],
      ['dogs-ec2', 'instance'],
      ['legacy-lambda-sm', undefined],
    ])
    expect(picked.reasons.get('legacy-lambda-sm')).toBe("role of the project's Lambda function")
    expect(picked.reasons.get('dogs-lambda')).toBe('tagged mlops:project=dogs')
  })

  it('--role picks exactly the named roles (names or ARNs) and reports missing ones', () => {
    const { roles } = authDetails()
    const picked = selectRoles(roles, { mode: 'named', names: ['open-trust', 'arn:aws:iam::123456789012:role/never-used', 'ghost'] })
    expect(picked.roles.map((r) => r.name)).toEqual(['open-trust', 'never-used'])
    expect(picked.missing).toEqual(['ghost'])
  })
})

describe('exclusions', () => {
  it('parses YAML with every key and rejects unknown keys and rule ids with one line each', () => {
    const ex = parseExclusions(readFileSync(path.join(FIXTURES, 'exclusions.yaml'), 'utf8'))
    expect(ex).toMatchObject({ roles: ['open-*'], rules: ['trust-service-no-source'], knownAccounts: ['999988887777'] })
    expect(ex.findings).toHaveLength(2)
    try {
      parseExclusions('rules: [no-such-rule]\nrole: [x]\nknownAccounts: [123]\n')
      expect.unreachable()
    } catch (e) {
      expect(e).toBeInstanceOf(ExclusionsError)
      expect((e as ExclusionsError).issues).toEqual([
        expect.stringMatching(/^rules\.0: expected a rule id: admin-access, /),
        'knownAccounts.0: expected a 12-digit account id in quotes, e.g. "111122223333"',
        '(root): unknown key "role"; supported: roles, policies, rules, actions, knownAccounts, findings',
      ])
    }
  })

  it('globs are case-insensitive and whole-string', () => {
    expect(globMatch('dogs-*', 'DOGS-lambda')).toBe(true)
    expect(globMatch('dogs', 'dogs-lambda')).toBe(false)
  })

  it('suppresses by rule, by single finding and by action, and keeps the reason', async () => {
    const findings = await auditPolicy(doc(allow(['iam:PassRole', 'ecr:GetAuthorizationToken', 'iam:CreateAccessKey'])))
    const ex = parseExclusions(
      `rules: [passrole-unscoped]\nactions: ["ecr:*"]\nfindings:\n  - rule: privilege-escalation\n    role: policy.json\n    reason: accepted\n`,
    )
    const { kept, suppressed } = applyFindingExclusions(findings, ex)
    expect(kept.some((f) => f.ruleId === 'passrole-unscoped' || f.ruleId === 'privilege-escalation')).toBe(false)
    expect(kept.flatMap((f) => f.actions ?? [])).not.toContain('ecr:GetAuthorizationToken')
    expect(kept.find((f) => f.ruleId === 'credentials-exposure')?.actions).toEqual(['iam:CreateAccessKey'])
    expect(suppressed.map((s) => s.reason)).toEqual(expect.arrayContaining(['rule passrole-unscoped excluded', 'suppressed: accepted']))
  })

  it('excluded roles and policies are listed, not silently dropped', async () => {
    const ex = parseExclusions('roles: ["legacy-*"]\npolicies: [AmazonS3FullAccess]\n')
    const result = await auditRoles(
      [role('legacy-x', { policies: [inline('p', doc(allow('*')))] }), role('r', { policies: [managed('AmazonS3FullAccess')] })],
      { exclusions: ex },
    )
    expect(result.findings).toEqual([])
    expect(result.excluded).toEqual([
      { kind: 'role', name: 'legacy-x', reason: 'exclusions file: roles "legacy-*"' },
      { kind: 'policy', name: 'AmazonS3FullAccess', role: 'r', reason: 'exclusions file: policies "AmazonS3FullAccess"' },
    ])
  })
})

describe('--suggest', () => {
  const config = {
    project: { name: 'dogs' },
    data: { bucket: 'dogs-data', prefix: 'data' },
    // The instance types every parsed config has: the execution role's image grant derives from them.
    training: { outputPrefix: 'output', instanceType: 'ml.g4dn.xlarge' },
    endpoint: { instanceType: 'ml.m5.large' },
    lambda: {},
  } as never

  it('the Lambda that invokes one endpoint gets InvokeEndpoint on that endpoint and its own logs, and is told to detach the rest', async () => {
    const r = { ...role('dogs-lambda', { policies: [managed('AmazonSageMakerFullAccess')] }), purpose: 'lambda' as const }
    const s = await suggestFor(r, { config, region: 'us-east-1' })
    // Exactly the two statements lambda-setup writes, from the same function, so they cannot drift.
    const { lambdaRolePolicy } = await import('../../src/shared/roles/lambda-role.js')
    expect(s?.policy).toEqual(lambdaRolePolicy(config, { accountId: '123456789012', region: 'us-east-1', partition: 'aws' }))
    expect(s?.policy.Statement).toHaveLength(2)
    expect(s?.policy.Statement[0]).toMatchObject({
      Effect: 'Allow',
      Action: 'sagemaker:InvokeEndpoint',
      Resource: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs-endpoint',
    })
    expect(s?.policy.Statement[1]).toMatchObject({ Effect: 'Allow', Resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/dogs-invoke:*' })
    expect(s?.detach).toEqual(['arn:aws:iam::aws:policy/AmazonSageMakerFullAccess'])
    // The suggested policy passes the audit cleanly.
    const findings = await auditPolicy(s!.policy as never)
    expect(findings).toEqual([])
  })

  it('the training role gets the execution policy mlops creates; the instance role keeps AmazonSSMManagedInstanceCore', async () => {
    const training = await suggestFor({ ...role('dogs-sagemaker'), purpose: 'training' }, { config, region: 'us-east-1' })
    expect(JSON.stringify(training?.policy)).toContain('arn:aws:s3:::dogs-data/data/*')
    // The pull grant is the configured images' repositories (issue 25), not a fixed list.
    expect(JSON.stringify(training?.policy)).toContain(
      '"arn:aws:ecr:us-east-1:763104351884:repository/pytorch","arn:aws:ecr:us-east-1:763104351884:repository/ray"',
    )
    const instance = await suggestFor(
      { ...role('dogs-ec2', { policies: [managed('AmazonSSMManagedInstanceCore'), managed('AmazonS3FullAccess')] }), purpose: 'instance' },
      { config, region: 'us-east-1' },
    )
    expect(instance?.keepAttached).toEqual(['arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'])
    expect(instance?.detach).toEqual(['arn:aws:iam::aws:policy/AmazonS3FullAccess'])
  })

  it('a role with last-accessed data keeps only what was used', async () => {
    const r = role('other', {
      policies: [managed('AmazonS3FullAccess')],
      lastAccessed: [
        {
          serviceNamespace: 's3',
          lastAuthenticated: '2026-11-01T00:00:00Z',
          actions: [{ name: 'GetObject', lastAccessed: '2026-11-01T00:00:00Z' }, { name: 'DeleteBucket' }],
        },
        { serviceNamespace: 's3-object-lambda' },
      ],
    })
    const result = await auditRoles([r])
    const s = await suggestFor(r, { region: 'us-east-1', permissions: result.permissions })
    expect(s?.basis).toBe('last-accessed')
    expect(s?.policy.Statement).toEqual([{ Sid: 'UsedActions', Effect: 'Allow', Action: ['s3:GetObject'], Resource: '*' }])
    expect(s?.notes.join(' ')).toContain('s3-object-lambda')
  })
})
