import { ApplicationAutoScalingClient, PutScalingPolicyCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { CreateRoleCommand, GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand, type SimulatePrincipalPolicyCommandInput } from '@aws-sdk/client-iam'
import { GetBucketLocationCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, CreateTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListAWSDefaultServiceQuotasCommand,
  ListServiceQuotasCommand,
  ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 26 item 1: before its first write a command checks the Service Quotas its request needs and
 * simulates the caller's permissions for every operation of its plan. Fakes for Service Quotas and
 * IAM SimulatePrincipalPolicy (moto 5.2.1 has neither: its Service Quotas knows only `vpc`, and its
 * IAM has no SimulatePrincipalPolicy).
 */

const sq = mockClient(ServiceQuotasClient)
const sts = mockClient(STSClient)
const iam = mockClient(IAMClient)
const sm = mockClient(SageMakerClient)
const s3 = mockClient(S3Client)
const logs = mockClient(CloudWatchLogsClient)
const as = mockClient(ApplicationAutoScalingClient)
const rt = mockClient(SageMakerRuntimeClient)
const factory = fakeAwsFactory()
const ON = { MLOPS_PREFLIGHT: 'on' }

const ACCOUNT = '123456789012'
const accessDenied = (op: string) =>
  Object.assign(new Error(`User is not authorized to perform: ${op}`), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } })

/** SimulatePrincipalPolicy answering allowed for everything except `denied` ("action" or "action resource"). */
function simulate(denied: string[] = []) {
  iam.on(SimulatePrincipalPolicyCommand).callsFake((input: SimulatePrincipalPolicyCommandInput) => ({
    EvaluationResults: (input.ActionNames ?? []).map((a) => {
      const resource = input.ResourceArns?.[0] ?? '*'
      const no = denied.includes(a) || denied.includes(`${a} ${resource}`)
      return { EvalActionName: a, EvalResourceName: resource, EvalDecision: no ? 'implicitDeny' : 'allowed' }
    }),
  }))
}

/** Service Quotas with these applied values (by name), and nothing else. */
function quotas(applied: { QuotaName: string; QuotaCode: string; Value: number }[]) {
  sq.on(ListServiceQuotasCommand).resolves({ Quotas: applied.map((q) => ({ ...q, ServiceCode: 'sagemaker' })) })
  sq.on(ListAWSDefaultServiceQuotasCommand).resolves({ Quotas: [] })
}

beforeEach(() => {
  for (const m of [sq, sts, iam, sm, s3, logs, as, rt] as unknown as { reset(): void; onAnyCommand(): { resolves(v: object): unknown } }[]) {
    m.reset()
    m.onAnyCommand().resolves({})
  }
  sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/build-42`, UserId: 'AROA:build-42' })
  // The execution role does not exist yet (so a train that got past the preflight would create it).
  iam.on(GetRoleCommand).rejects(Object.assign(new Error('The role cannot be found.'), { name: 'NoSuchEntityException', $metadata: { httpStatusCode: 404 } }))
  iam.on(CreateRoleCommand).resolves({ Role: { Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker` } as never })
  iam.on(GetRoleCommand, { RoleName: 'ci-deployer' }).resolves({
    Role: {
      RoleName: 'ci-deployer',
      Arn: `arn:aws:iam::${ACCOUNT}:role/ci/ci-deployer`,
      Path: '/ci/',
      RoleId: 'AROA',
      CreateDate: new Date(),
      AssumeRolePolicyDocument: '{}',
    },
  })
  simulate()
  s3.on(ListObjectsV2Command).resolves({ KeyCount: 1 })
  s3.on(HeadObjectCommand).resolves({})
  sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: `arn:aws:sagemaker:us-east-1:${ACCOUNT}:training-job/x` })
})

const trainProject = () => tempProject(minimalConfig('training:\n  instanceType: ml.g4dn.xlarge\n'))
const train = (dir: string, args: string[] = [], env: Record<string, string | undefined> = ON) =>
  runMlops(['train', '--yes', '--no-wait', ...args], { cwd: dir, awsFactory: factory, clock: fastClock(), env })

describe('train: the Service Quotas for the training instances', () => {
  it('a quota of 0 for the instance type: exit 2 before any CreateRole, PutObject or CreateTrainingJob, with the quota and the request command', async () => {
    quotas([{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 0 }])
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('"ml.g4dn.xlarge for training job usage" (L-3F53BF0F) is 0 in us-east-1; 1 × ml.g4dn.xlarge training instance needs 1.')
    expect(run.stderr).toContain(
      'aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-3F53BF0F --desired-value 1 --region us-east-1',
    )
    expect(run.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand)
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand)
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
    expect(sq).toHaveReceivedCommandWith(ListServiceQuotasCommand, { ServiceCode: 'sagemaker' })
  })

  it('spot asks the spot quota, for every instance of the job; --json carries the numbers', async () => {
    quotas([
      { QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 8 },
      { QuotaName: 'ml.g4dn.xlarge for spot training job usage', QuotaCode: 'L-9A5F3A7B', Value: 2 },
    ])
    const run = await train(await trainProject(), ['--spot', '--instances', '4', '--json'])
    expect(run.code, run.stderr).toBe(2)
    expect(run.json().error).toMatchObject({
      code: 'PreflightRefused',
      details: { quotas: [{ name: 'ml.g4dn.xlarge for spot training job usage', code: 'L-9A5F3A7B', needed: 4, applied: 2 }] },
    })
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
  })

  it('a quota that is high enough lets the job start; the applied value wins over the default', async () => {
    sq.on(ListServiceQuotasCommand).resolves({ Quotas: [{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 1 }] })
    sq.on(ListAWSDefaultServiceQuotasCommand).resolves({ Quotas: [{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 0 }] })
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).not.toContain('Preflight')
    expect(sm).toHaveReceivedCommand(CreateTrainingJobCommand)
    expect(sq).not.toHaveReceivedCommand(ListAWSDefaultServiceQuotasCommand)
  })

  it('simulates the resolved role (with its path) for the plan, resources scoped from the plan', async () => {
    quotas([{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 1 }])
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(0)
    expect(iam).toHaveReceivedCommandWith(SimulatePrincipalPolicyCommand, {
      PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/ci/ci-deployer`,
      ActionNames: ['sagemaker:CreateTrainingJob'],
      ResourceArns: [expect.stringMatching(new RegExp(`^arn:aws:sagemaker:us-east-1:${ACCOUNT}:training-job/dogs-train-`))],
    })
    expect(iam).toHaveReceivedCommandWith(SimulatePrincipalPolicyCommand, { ActionNames: expect.arrayContaining(['iam:CreateRole', 'iam:GetRole']) })
    // CreateTrainingJob hands SageMaker the execution role: iam:PassRole on it, with the real account.
    expect(iam).toHaveReceivedCommandWith(SimulatePrincipalPolicyCommand, {
      ActionNames: expect.arrayContaining(['iam:PassRole']),
      ResourceArns: [`arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker`],
    })
  })
})

describe('deploy: the caller may not sagemaker:CreateEndpoint', () => {
  it('exits 2 before any write and names the action, the resource and the statement to add', async () => {
    simulate(['sagemaker:CreateEndpoint'])
    sq.on(ListServiceQuotasCommand).resolves({ Quotas: [{ QuotaName: 'ml.m5.large for endpoint usage', QuotaCode: 'L-ENDPOINT', Value: 4 }] })
    const dir = await tempProject(minimalConfig('training:\n  roleArn: arn:aws:iam::123456789012:role/my-sagemaker\n'))
    const run = await runMlops(['deploy', '--yes', '--model', 's3://dogs-data/output/dogs-train-1/output/model.tar.gz'], {
      cwd: dir,
      awsFactory: factory,
      clock: fastClock(),
      env: ON,
    })
    expect(run.code, run.stderr).toBe(2)
    const endpoint = `arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint/dogs-endpoint`
    expect(run.stderr).toContain(`arn:aws:iam::${ACCOUNT}:role/ci/ci-deployer may not sagemaker:CreateEndpoint on ${endpoint} (implicitDeny)`)
    expect(run.stderr).toContain(`{"Effect":"Allow","Action":["sagemaker:CreateEndpoint"],"Resource":"${endpoint}"}`)
    expect(sm).not.toHaveReceivedCommand(CreateModelCommand)
    expect(sm).not.toHaveReceivedCommand(CreateEndpointConfigCommand)
    expect(sm).not.toHaveReceivedCommand(CreateEndpointCommand)
    expect(s3).not.toHaveReceivedCommand(PutObjectCommand)
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand)
  })
})

describe('checks that cannot run, and --no-preflight', () => {
  it('an implicitDeny on "*" (no resource in the plan) proves nothing: one warning, and the command goes on', async () => {
    quotas([{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 1 }])
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input: SimulatePrincipalPolicyCommandInput) => ({
      EvaluationResults: (input.ActionNames ?? []).map((a) => ({ EvalActionName: a, EvalDecision: input.ResourceArns ? 'allowed' : 'implicitDeny' })),
    }))
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr.split('\n').filter((l) => l.includes('Preflight'))).toEqual([
      expect.stringMatching(/not allowed on "\*", and the plan names no resource/),
    ])
    expect(sm).toHaveReceivedCommand(CreateTrainingJobCommand)
  })

  it('AccessDenied on the quota and simulate reads: one warning, and the command goes on', async () => {
    sq.on(ListServiceQuotasCommand).rejects(accessDenied('servicequotas:ListServiceQuotas'))
    iam.on(SimulatePrincipalPolicyCommand).rejects(accessDenied('iam:SimulatePrincipalPolicy'))
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(0)
    const warnings = run.stderr.split('\n').filter((l) => l.includes('Preflight'))
    expect(warnings).toEqual([
      expect.stringContaining(
        'Preflight could not check everything (Service Quotas: AccessDenied; permissions (iam:SimulatePrincipalPolicy): AccessDenied); going on without it.',
      ),
    ])
    expect(sm).toHaveReceivedCommand(CreateTrainingJobCommand)
  })

  it('an endpoint without Service Quotas (an emulator answering HTML) is named plainly in the one warning', async () => {
    sq.on(ListServiceQuotasCommand).rejects(
      new SyntaxError(
        `Unexpected token '<', "<!doctype "... is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.`,
      ),
    )
    const run = await train(await trainProject())
    expect(run.code, run.stderr).toBe(0)
    const warnings = run.stderr.split('\n').filter((l) => l.includes('Preflight'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('Service Quotas: not answered by this endpoint')
    expect(warnings[0]).not.toMatch(/AwsError|Deserialization|Unexpected token/)
  })

  it('--no-preflight (and MLOPS_PREFLIGHT=off) send none of its reads', async () => {
    quotas([{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 0 }])
    for (const [args, env] of [
      [['--no-preflight'], ON],
      [[], { MLOPS_PREFLIGHT: 'off' }],
    ] as const) {
      sq.resetHistory()
      iam.resetHistory()
      const run = await train(await trainProject(), [...args], env)
      expect(run.code, run.stderr).toBe(0)
      expect(sq).not.toHaveReceivedCommand(ListServiceQuotasCommand)
      expect(sq).not.toHaveReceivedCommand(ListAWSDefaultServiceQuotasCommand)
      expect(sq).not.toHaveReceivedCommand(GetServiceQuotaCommand)
      expect(sq).not.toHaveReceivedCommand(GetAWSDefaultServiceQuotaCommand)
      expect(iam).not.toHaveReceivedCommand(SimulatePrincipalPolicyCommand)
      expect(sm).toHaveReceivedCommand(CreateTrainingJobCommand)
    }
  })

  it('the dry run lists the preflight reads, marked as reads; with --no-preflight it does not', async () => {
    const dir = await trainProject()
    const on = await runMlops(['train', '--dry-run', '--json'], { cwd: dir, env: { ...OFFLINE_ENV, ...ON }, awsFactory: noAwsFactory() })
    const ops = on.json().operations.map((o: { service: string; operation: string; read?: boolean }) => `${o.service}:${o.operation}${o.read ? ' (read)' : ''}`)
    expect(ops.slice(0, 5)).toEqual([
      'sts:GetCallerIdentity (read)',
      'iam:GetRole (read)',
      'iam:SimulatePrincipalPolicy (read)',
      'servicequotas:ListServiceQuotas (read)',
      'servicequotas:ListAWSDefaultServiceQuotas (read)',
    ])
    const off = await runMlops(['train', '--dry-run', '--json', '--no-preflight'], { cwd: dir, env: { ...OFFLINE_ENV, ...ON }, awsFactory: noAwsFactory() })
    expect(off.json().operations.map((o: { service: string }) => o.service)).not.toContain('servicequotas')
  })
})

describe('mlops doctor', () => {
  it('--json: every check on fakes, a failed quota with its request command, exit 3', async () => {
    quotas([
      { QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 0 },
      { QuotaName: 'ml.m5.large for endpoint usage', QuotaCode: 'L-ENDPOINT', Value: 2 },
    ])
    sq.on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-DB2E81BA' }).resolves({
      Quota: { QuotaName: 'Running On-Demand G and VT instances', QuotaCode: 'L-DB2E81BA', Value: 8 },
    })
    s3.on(GetBucketLocationCommand).resolves({ LocationConstraint: 'eu-west-1' })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['doctor', '--json'], { cwd: dir, awsFactory: factory, env: { PATH: '/nonexistent' } })
    expect(run.code, run.stderr).toBe(3)
    const doc = run.json()
    expect(doc).toMatchObject({ region: 'us-east-1', caller: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/build-42`, ok: false })
    const byName = Object.fromEntries(doc.checks.map((c: { name: string }) => [c.name, c]))
    expect(byName.region).toMatchObject({ status: 'ok' })
    expect(byName.credentials).toMatchObject({ status: 'ok' })
    expect(byName['quota: ml.g4dn.xlarge for training job usage']).toEqual({
      name: 'quota: ml.g4dn.xlarge for training job usage',
      status: 'fail',
      detail: '0 in us-east-1 (L-3F53BF0F); 1 × ml.g4dn.xlarge training instance needs 1',
      fix: 'aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-3F53BF0F --desired-value 1 --region us-east-1',
    })
    expect(byName['quota: ml.m5.large for endpoint usage']).toMatchObject({ status: 'ok' })
    expect(byName['quota: Running On-Demand G and VT instances']).toMatchObject({ status: 'ok', detail: expect.stringContaining('4 vCPUs') })
    expect(byName.permissions).toMatchObject({ status: 'ok', detail: expect.stringContaining(`role/ci/ci-deployer`) })
    expect(byName.bucket).toMatchObject({ status: 'fail', detail: expect.stringContaining('s3://dogs-data is in eu-west-1') })
    expect(byName['local python']).toMatchObject({ status: 'warn' })
    expect(iam).toHaveReceivedCommandWith(SimulatePrincipalPolicyCommand, { ActionNames: expect.arrayContaining(['sagemaker:CreateEndpoint']) })
  })

  it('a denied action fails the permissions check with the statement to add; unreadable quotas only warn', async () => {
    simulate(['iam:PassRole'])
    sq.on(ListServiceQuotasCommand).rejects(accessDenied('servicequotas:ListServiceQuotas'))
    sq.on(GetServiceQuotaCommand).rejects(accessDenied('servicequotas:GetServiceQuota'))
    s3.on(GetBucketLocationCommand).resolves({})
    const run = await runMlops(['doctor'], { cwd: await tempProject(minimalConfig()), awsFactory: factory, env: { PATH: '/nonexistent' } })
    expect(run.code, run.stderr).toBe(3)
    expect(run.stdout).toContain('✖ permissions')
    expect(run.stdout).toContain(`iam:PassRole on arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker (implicitDeny)`)
    expect(run.stdout).toContain('! quotas')
    expect(run.stdout).toContain('✔ bucket         s3://dogs-data is in us-east-1')
  })
})

describe('scale and lambda-setup: permissions for their whole plan', () => {
  it('scale: a caller who may not read the endpoint stops before any scaling change', async () => {
    simulate([`sagemaker:DescribeEndpoint arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint/dogs-endpoint`])
    const run = await runMlops(['scale', '--yes', '--min', '1', '--max', '2'], { cwd: await tempProject(minimalConfig()), awsFactory: factory, env: ON })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain(`may not sagemaker:DescribeEndpoint on arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint/dogs-endpoint (implicitDeny)`)
    expect(as).not.toHaveReceivedCommand(RegisterScalableTargetCommand)
    expect(as).not.toHaveReceivedCommand(PutScalingPolicyCommand)
  })

  it('lambda-setup: a caller without lambda:CreateFunction stops before the role is created', async () => {
    simulate(['lambda:CreateFunction'])
    const run = await runMlops(['lambda-setup', '--yes'], { cwd: await tempProject(minimalConfig()), awsFactory: factory, env: ON })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain(`may not lambda:CreateFunction on arn:aws:lambda:us-east-1:${ACCOUNT}:function:dogs-invoke (implicitDeny)`)
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand)
  })
})

describe('tune and train-ec2: the quotas of their own requests', () => {
  it('tune needs the training quota for every job it runs at once (MaxParallelTrainingJobs × instances)', async () => {
    quotas([{ QuotaName: 'ml.g4dn.xlarge for training job usage', QuotaCode: 'L-3F53BF0F', Value: 2 }])
    const dir = await tempProject(
      minimalConfig(
        'training:\n  instanceType: ml.g4dn.xlarge\n  instanceCount: 2\n  tuning:\n    maxJobs: 6\n    maxParallelJobs: 3\n    objective: { metric: val_accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n',
      ),
    )
    const run = await runMlops(['tune', '--yes', '--no-wait'], { cwd: dir, awsFactory: factory, clock: fastClock(), env: ON })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('is 2 in us-east-1; 6 × ml.g4dn.xlarge training instances (3 jobs at once × 2) need 6.')
    expect(run.stderr).toContain('--quota-code L-3F53BF0F --desired-value 6 --region us-east-1')
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand)
  })

  it('train-ec2 needs the On-Demand G and VT vCPUs of its instance (L-DB2E81BA), asked by code', async () => {
    sq.on(GetServiceQuotaCommand).rejects(Object.assign(new Error('never changed'), { name: 'NoSuchResourceException', $metadata: { httpStatusCode: 400 } }))
    sq.on(GetAWSDefaultServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-DB2E81BA' }).resolves({
      Quota: { QuotaName: 'Running On-Demand G and VT instances', QuotaCode: 'L-DB2E81BA', Value: 0 },
    })
    const run = await runMlops(['train-ec2', '--yes'], { cwd: await tempProject(minimalConfig()), awsFactory: factory, clock: fastClock(), env: ON })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain(
      '"Running On-Demand G and VT instances" (L-DB2E81BA) is 0 in us-east-1; 1 × g4dn.xlarge (4 vCPUs, On-Demand G and VT) needs 4.',
    )
    expect(run.stderr).toContain(
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-DB2E81BA --desired-value 4 --region us-east-1',
    )
    expect(iam).not.toHaveReceivedCommand(CreateRoleCommand)
  })
})
