import { AttachRolePolicyCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import { executionRoleSpec } from '../../src/shared/roles/execution-role.js'
import { ensureInstanceProfile, ensureRole } from '../../src/aws/iam/roles.js'
import { serviceTrustPolicy } from '../../src/shared/roles/policy.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'
import { configuredImageUris } from '../../src/aws/sagemaker/images.js'
import { parseConfigText } from '../../src/config/load.js'
import { projectTags } from '../../src/shared/naming.js'
import { githubUploadProblems, sarifErrors } from '../fixtures/audit/sarif-validate.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/** `mlops audit-iam` against a live (moto) account. */

const ACCOUNT = '123456789012'
const REGION = 'us-east-1'
let moto: MotoServer
let iam: IAMClient

beforeAll(async () => {
  moto = await startMoto()
  iam = new IAMClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => {
  await moto?.stop()
})
beforeEach(async () => {
  await moto.reset()
})

const trustJson = (service: string) => JSON.stringify(serviceTrustPolicy(service, ACCOUNT))
const config = parseConfigText(minimalConfig(), 'mlops.config.yaml')

/** The three roles as mlops creates them (the SageMaker one is the real spec; the others per the design). */
async function createMlopsRoles(): Promise<void> {
  await ensureRole(iam, executionRoleSpec(config, roleTarget(ACCOUNT, REGION, configuredImageUris(REGION, config))))
  await ensureRole(iam, {
    name: 'dogs-lambda',
    description: 'Lambda role',
    trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', ACCOUNT),
    inlinePolicies: {
      'mlops-invoke': {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'InvokeModelEndpoint',
            Effect: 'Allow',
            Action: 'sagemaker:InvokeEndpoint',
            Resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/dogs-endpoint`,
          },
          {
            Sid: 'CreateOwnLogGroup',
            Effect: 'Allow',
            Action: 'logs:CreateLogGroup',
            Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/dogs-invoke`,
          },
          {
            Sid: 'WriteOwnLogs',
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/dogs-invoke:*`,
          },
        ],
      },
    },
    tags: projectTags('dogs'),
  })
  await ensureRole(iam, {
    name: 'dogs-ec2',
    description: 'EC2 training box',
    trustPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
    inlinePolicies: {
      'mlops-ec2-data': {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'ListProjectPrefixes',
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: 'arn:aws:s3:::dogs-data',
            Condition: { StringLike: { 's3:prefix': ['data/*', 'dogs/code/*', 'output/*'] } },
          },
          {
            Sid: 'ReadDataAndCode',
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: ['arn:aws:s3:::dogs-data/data/*', 'arn:aws:s3:::dogs-data/dogs/code/*'],
          },
          { Sid: 'WriteOutput', Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::dogs-data/output/*' },
        ],
      },
    },
    managedPolicyArns: ['arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'],
    tags: projectTags('dogs'),
  })
  await ensureInstanceProfile(iam, 'dogs-ec2', 'dogs-ec2', projectTags('dogs'))
}

async function validateSarif(doc: unknown): Promise<void> {
  expect(sarifErrors(doc)).toEqual([])
  expect(githubUploadProblems(doc)).toEqual([])
}

describe('audit-iam on a live account (moto)', () => {
  it('a Lambda role with AmazonSageMakerFullAccess yields aws-managed-full-access at high, and exit 3', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'dogs-lambda', AssumeRolePolicyDocument: trustJson('lambda.amazonaws.com'), Tags: projectTags('dogs') }))
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'dogs-lambda', PolicyArn: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess' }))
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(3)
    const report = run.json<AuditReport>()
    expect(report.source).toMatchObject({ kind: 'live', accountId: ACCOUNT })
    expect(report.roles.map((r) => r.name)).toEqual(['dogs-lambda'])
    const f = report.findings.find((x) => x.ruleId === 'aws-managed-full-access')
    expect(f).toMatchObject({
      severity: 'high',
      role: { name: 'dogs-lambda' },
      policy: { kind: 'aws-managed', name: 'AmazonSageMakerFullAccess', arn: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess' },
    })
    // The managed policy's live document (v29, 44 statements) was analysed, not just its name.
    expect(f?.message).toMatch(/it allows \d{3} actions \(sagemaker:\*/)
    expect(run.stderr).toContain('Reading IAM roles and policies (GetAccountAuthorizationDetails)')
    expect(run.stderr).toMatch(/✖ \d+ findings? at or above high/)
  })

  it('the roles mlops creates yield nothing above low; roles outside the project are not in the default scope', async () => {
    await createMlopsRoles()
    await iam.send(new CreateRoleCommand({ RoleName: 'someone-elses-admin', AssumeRolePolicyDocument: trustJson('ec2.amazonaws.com') }))
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'someone-elses-admin', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }))
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json', '--fail-on', 'medium'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.roles.map((r) => [r.name, r.purpose]).sort()).toEqual([
      ['dogs-ec2', 'instance'],
      ['dogs-lambda', 'lambda'],
      ['dogs-sagemaker', 'training'],
    ])
    expect(report.findings.filter((f) => f.severity !== 'low')).toEqual([])
    expect(report.findings.filter((f) => f.role?.name === 'dogs-lambda')).toEqual([])
    // moto's RoleLastUsed is always {}: the roles are new, so unused-role stays silent.
    expect(report.findings.some((f) => f.ruleId === 'unused-role')).toBe(false)

    const all = await runMlops(['audit-iam', '--all-roles', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(all.code).toBe(3)
    expect(all.json<AuditReport>().findings.find((f) => f.role?.name === 'someone-elses-admin' && f.ruleId === 'admin-access')?.severity).toBe('critical')
  })

  it("scope follows the project's resources: the Lambda function's role and the endpoint model's execution role", async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'fn-role', AssumeRolePolicyDocument: trustJson('lambda.amazonaws.com') }))
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'fn-role',
        PolicyName: 'p',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: '*' }] }),
      }),
    )
    await iam.send(new CreateRoleCommand({ RoleName: 'model-role', AssumeRolePolicyDocument: trustJson('sagemaker.amazonaws.com') }))
    const lambda = new LambdaClient(motoClientConfig(moto.endpoint))
    // An empty zip archive (end-of-central-directory record only).
    const zip = Buffer.concat([Buffer.from('PK\x05\x06'), Buffer.alloc(18)])
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'dogs-invoke',
        Role: `arn:aws:iam::${ACCOUNT}:role/fn-role`,
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Code: { ZipFile: zip },
      }),
    )
    const sm = new SageMakerClient(motoClientConfig(moto.endpoint))
    await sm.send(
      new CreateModelCommand({
        ModelName: 'dogs-model-1',
        ExecutionRoleArn: `arn:aws:iam::${ACCOUNT}:role/model-role`,
        PrimaryContainer: { Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312' },
      }),
    )
    await sm.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: 'dogs-config-1',
        ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'dogs-model-1', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
      }),
    )
    await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-1' }))
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json', '--suggest', '--fail-on', 'none'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.roles.map((r) => [r.name, r.purpose, r.scopeReason])).toEqual([
      ['fn-role', 'lambda', "role of the project's Lambda function"],
      ['model-role', 'training', "runs the project's SageMaker jobs or endpoint"],
    ])
    const suggestion = report.suggestions?.find((s) => s.role === 'fn-role')
    // The endpoint ARN comes from DescribeEndpoint.
    expect(JSON.stringify(suggestion?.policy)).toContain(`"Resource":"arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/dogs-endpoint"`)
    expect(suggestion?.notes.join(' ')).not.toContain('built from the name')
  })

  it('SARIF from a live audit validates against the SARIF 2.1.0 schema and GitHub upload rules (iam/roles/<name> as the artifact)', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'dogs-lambda', AssumeRolePolicyDocument: trustJson('lambda.amazonaws.com'), Tags: projectTags('dogs') }))
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'dogs-lambda', PolicyArn: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess' }))
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--format', 'sarif'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(3)
    const sarif = run.json()
    await validateSarif(sarif)
    const result = sarif.runs[0].results.find((r: { ruleId: string }) => r.ruleId === 'aws-managed-full-access')
    expect(result.locations[0]).toMatchObject({
      logicalLocations: [{ name: 'dogs-lambda', fullyQualifiedName: `arn:aws:iam::${ACCOUNT}:role/dogs-lambda` }, { name: 'AmazonSageMakerFullAccess' }],
    })
    // GitHub code scanning rejects results without a physical location (issue 15 item 6).
    expect(result.locations[0].physicalLocation).toEqual({ artifactLocation: { uri: 'iam/roles/dogs-lambda' }, region: { startLine: 1 } })
    expect(sarif.runs[0].automationDetails).toEqual({ id: 'mlops-audit-iam/dogs/' })
  })

  it('--dry-run prints the read-only requests and sends none (no credentials needed)', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--dry-run', '--json'], {
      cwd: dir,
      env: OFFLINE_ENV,
    })
    expect(run.code).toBe(0)
    expect(run.json().operations).toHaveLength(8)
    expect(run.json()).toMatchObject({
      dryRun: true,
      operations: [
        { service: 'iam', operation: 'GetAccountAuthorizationDetails', input: { Filter: ['Role', 'LocalManagedPolicy'], MaxItems: 1000 } },
        { service: 'lambda', operation: 'GetFunctionConfiguration', input: { FunctionName: 'dogs-invoke' } },
        { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: 'dogs-endpoint' } },
        { service: 'sagemaker', operation: 'DescribeEndpointConfig', input: { EndpointConfigName: '<config the endpoint serves>' } },
        { service: 'sagemaker', operation: 'DescribeModel', input: { ModelName: '<each model of that config>' } },
        { service: 'iam', operation: 'GetRole' },
        { service: 'iam', operation: 'GetPolicy' },
        { service: 'iam', operation: 'GetPolicyVersion' },
      ],
    })
  })
})
