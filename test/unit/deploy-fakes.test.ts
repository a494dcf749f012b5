import {
  ApplicationAutoScalingClient,
  DeleteScalingPolicyCommand,
  DeregisterScalableTargetCommand,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import { CreateBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  SageMakerClient,
  UpdateEndpointCommand,
  type DescribeEndpointOutput,
  type ProductionVariant,
} from '@aws-sdk/client-sagemaker'
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { CreateRoleCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { sdkMock } from '../helpers/mock-sdk.js'
import { Readable } from 'node:stream'
import { beforeEach, describe, expect, it } from 'vitest'
import { ANSWER, tinyModelTarGz } from '../fixtures/deploy.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory } from '../helpers/aws.js'

/**
 * What moto cannot show for `deploy`: endpoints that stay Creating and then fail, SageMaker rolling
 * an update back, deadlines, failing smoke tests, autoscaling around an instance-type change and
 * Ctrl-C. Stateful fakes behind aws-sdk-client-mock on a clock that never sleeps.
 */

const sm = sdkMock(SageMakerClient)
const s3 = sdkMock(S3Client)
const rt = sdkMock(SageMakerRuntimeClient)
const as = sdkMock(ApplicationAutoScalingClient)
const sts = sdkMock(STSClient)
const factory = fakeAwsFactory()

const ROLE = 'arn:aws:iam::123456789012:role/my-sagemaker'
const ARTIFACT = 's3://dogs-data/output/dogs-train-1/output/model.tar.gz'
const STATE = JSON.stringify({
  version: 1,
  resources: [
    {
      kind: 'model-artifact',
      name: ARTIFACT,
      region: 'us-east-1',
      createdAt: '2026-11-21T00:00:00Z',
      details: { source: 'sagemaker', jobName: 'dogs-train-1' },
    },
  ],
})
const NEW = 'dogs-config-2026-11-22-10-00-00-000'
const OLD = 'dogs-config-2026-11-21-10-00-00-000'
const OLD_VARIANT: ProductionVariant = {
  VariantName: 'AllTraffic',
  ModelName: 'dogs-model-2026-11-21-10-00-00-000',
  InstanceType: 'ml.m5.large',
  InitialInstanceCount: 1,
}
const notFound = () => Object.assign(new Error("Could not find endpoint 'dogs-endpoint'."), { name: 'ValidationException', $metadata: { httpStatusCode: 400 } })

/** Every call, in order, by operation name. */
let log: string[]
let configs: Map<string, ProductionVariant[]>
let archive: Buffer

const ep = (status: string, config: string, extra: Partial<DescribeEndpointOutput> = {}): DescribeEndpointOutput =>
  ({
    EndpointName: 'dogs-endpoint',
    EndpointArn: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs-endpoint',
    EndpointStatus: status,
    EndpointConfigName: config,
    ...extra,
  }) as DescribeEndpointOutput

/** DescribeEndpoint answers these in turn (undefined: not found); the last one repeats. */
function endpointSequence(seq: (DescribeEndpointOutput | undefined)[]) {
  let i = 0
  sm.on(DescribeEndpointCommand).callsFake(() => {
    log.push('DescribeEndpoint')
    const next = seq[Math.min(i++, seq.length - 1)]
    if (!next) throw notFound()
    return next
  })
}

function scaled(min: number, max: number) {
  as.on(DescribeScalableTargetsCommand).callsFake(() => {
    log.push('DescribeScalableTargets')
    return {
      ScalableTargets: [
        {
          ServiceNamespace: 'sagemaker',
          ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
          ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
          MinCapacity: min,
          MaxCapacity: max,
        },
      ],
    }
  })
  as.on(DescribeScalingPoliciesCommand).resolves({
    ScalingPolicies: [
      {
        PolicyName: 'dogs-invocations-target',
        PolicyARN: 'arn:p',
        ServiceNamespace: 'sagemaker',
        ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
        PolicyType: 'TargetTrackingScaling',
        CreationTime: new Date(),
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 120,
          PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
          ScaleInCooldown: 600,
          ScaleOutCooldown: 30,
        },
      },
    ],
  })
}

let dir: string
beforeEach(async () => {
  log = []
  configs = new Map([[OLD, [OLD_VARIANT]]])
  archive ??= await tinyModelTarGz()
  dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n`), { '.mlops/state.json': STATE })
  s3.on(GetObjectCommand).callsFake(() => ({ Body: Readable.from(archive) }))
  s3.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }))
  s3.on(PutObjectCommand).resolves({})
  sts.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' })
  const track =
    <T>(name: string, value: T) =>
    () => {
      log.push(name)
      return value
    }
  sm.on(CreateModelCommand).callsFake(track('CreateModel', { ModelArn: 'arn:model' }))
  sm.on(CreateEndpointConfigCommand).callsFake((input: { EndpointConfigName: string; ProductionVariants: ProductionVariant[] }) => {
    log.push('CreateEndpointConfig')
    configs.set(input.EndpointConfigName, input.ProductionVariants)
    return { EndpointConfigArn: 'arn:config' }
  })
  sm.on(DescribeEndpointConfigCommand).callsFake((input: { EndpointConfigName: string }) => ({
    EndpointConfigName: input.EndpointConfigName,
    ProductionVariants: configs.get(input.EndpointConfigName),
  }))
  sm.on(CreateEndpointCommand).callsFake(track('CreateEndpoint', { EndpointArn: 'arn:ep' }))
  sm.on(UpdateEndpointCommand).callsFake((input: { EndpointConfigName: string }) => {
    log.push(`UpdateEndpoint:${input.EndpointConfigName}`)
    return { EndpointArn: 'arn:ep' }
  })
  sm.on(DeleteEndpointCommand).callsFake(track('DeleteEndpoint', {}))
  sm.on(ListEndpointConfigsCommand).callsFake(track('ListEndpointConfigs', { EndpointConfigs: [] }))
  sm.on(ListModelsCommand).resolves({ Models: [] })
  rt.on(InvokeEndpointCommand).callsFake(track('InvokeEndpoint', { Body: new TextEncoder().encode(JSON.stringify(ANSWER)), ContentType: 'application/json' }))
  as.on(DescribeScalableTargetsCommand).callsFake(track('DescribeScalableTargets', { ScalableTargets: [] }))
  for (const [cmd, name] of [
    [DeleteScalingPolicyCommand, 'DeleteScalingPolicy'],
    [DeregisterScalableTargetCommand, 'DeregisterScalableTarget'],
    [RegisterScalableTargetCommand, 'RegisterScalableTarget'],
    [PutScalingPolicyCommand, 'PutScalingPolicy'],
  ] as const) {
    as.on(cmd as never).callsFake(track(name, {}))
  }
})

const deploy = (args: string[] = [], opts: { signal?: AbortSignal } = {}) =>
  runMlops(['deploy', '--yes', ...args], { cwd: dir, awsFactory: factory, clock: fastClock(), ...opts })

describe('deploy with stateful fakes', () => {
  it("an endpoint that fails while Creating exits 1 with SageMaker's FailureReason and keeps old versions", async () => {
    const reason = 'The primary container for production variant AllTraffic did not pass the ping health check.'
    endpointSequence([undefined, ep('Creating', NEW), ep('Creating', NEW), ep('Failed', NEW, { FailureReason: reason })])
    const run = await deploy()
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`Endpoint dogs-endpoint failed: ${reason}`)
    expect(run.stderr).toContain('/aws/sagemaker/Endpoints/dogs-endpoint')
    expect(run.stderr).toContain('Endpoint dogs-endpoint: Creating')
    expect(log.filter((x) => x === 'DescribeEndpoint')).toHaveLength(4)
    expect(log).not.toContain('InvokeEndpoint')
    expect(log).not.toContain('ListEndpointConfigs')
  })

  it("an update that ends InService on the old config is reported as SageMaker's rollback (exit 1)", async () => {
    endpointSequence([ep('InService', OLD), ep('Updating', OLD), ep('RollingBack', OLD), ep('InService', OLD, { FailureReason: 'Alarm dogs-5xx in ALARM' })])
    const run = await deploy(['--json'])
    expect(run.code).toBe(1)
    expect(run.json()).toMatchObject({ error: { code: 'UpdateRolledBack', details: { servingConfig: OLD, attemptedConfig: NEW } } })
    expect(run.stderr).toContain(
      `SageMaker rolled the update back: endpoint dogs-endpoint is InService on the previous config ${OLD}, not ${NEW}: Alarm dogs-5xx in ALARM.`,
    )
    expect(log).toContain(`UpdateEndpoint:${NEW}`)
    expect(log).not.toContain('InvokeEndpoint')
    expect(log).not.toContain('ListEndpointConfigs')
  })

  it('InService on the old config right after UpdateEndpoint is not mistaken for a rollback in the first 20 s', async () => {
    endpointSequence([ep('InService', OLD), ep('InService', OLD), ep('Updating', NEW), ep('InService', NEW)])
    const run = await deploy(['--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ action: 'updated', endpointConfig: NEW, previousConfig: OLD })
  })

  it('a deadline reached says the endpoint is still changing and how to look at it (exit 1)', async () => {
    endpointSequence([undefined, ep('Creating', NEW)])
    const run = await deploy(['--timeout', '2m'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('Gave up waiting for endpoint dogs-endpoint to leave Creating/Updating after 120s (last status: Creating).')
    expect(run.stderr).toContain('It is still running on AWS. `mlops status` shows where it is')
    // 1 look before creating, then one every 15 s until 120 s.
    expect(log.filter((x) => x === 'DescribeEndpoint')).toHaveLength(1 + 9)
  })

  it('a failed smoke test exits 1 and names the previous config to go back to; nothing is pruned', async () => {
    endpointSequence([ep('InService', OLD), ep('Updating', NEW), ep('InService', NEW)])
    rt.on(InvokeEndpointCommand).rejects(
      Object.assign(new Error('Received server error (500) from primary with message "CUDA error"'), {
        name: 'ModelError',
        OriginalStatusCode: 500,
        $metadata: { httpStatusCode: 424 },
      }),
    )
    const run = await deploy()
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(
      `Smoke test failed on endpoint dogs-endpoint (now serving ${NEW}): Endpoint dogs-endpoint could not answer (HTTP 500 from the model)`,
    )
    expect(run.stderr).toContain(`--endpoint-config-name ${OLD}`)
    expect(log).not.toContain('ListEndpointConfigs')
  })

  it('--rollback-on-failure puts the previous config back after a failed smoke test, then exits 1', async () => {
    endpointSequence([ep('InService', OLD), ep('Updating', NEW), ep('InService', NEW), ep('Updating', OLD), ep('InService', OLD)])
    rt.on(InvokeEndpointCommand).callsFake(() => ({ Body: new TextEncoder().encode('{"oops": true}'), ContentType: 'application/json' }))
    const run = await deploy(['--rollback-on-failure', '--json'])
    expect(run.code).toBe(1)
    expect(run.json()).toMatchObject({ error: { code: 'SmokeTestFailed', details: { rolledBackTo: OLD, failedConfig: NEW } } })
    expect(run.stderr).toContain(`endpoint dogs-endpoint is back on ${OLD}`)
    expect(log.filter((x) => x.startsWith('UpdateEndpoint'))).toEqual([`UpdateEndpoint:${NEW}`, `UpdateEndpoint:${OLD}`])
    expect(sm).toHaveReceivedNthCommandWith(UpdateEndpointCommand, 2, { EndpointName: 'dogs-endpoint', EndpointConfigName: OLD })
  })

  it('an instance-type change on an autoscaled variant deregisters scaling around the update and restores it', async () => {
    scaled(1, 4)
    endpointSequence([ep('InService', OLD), ep('Updating', NEW), ep('InService', NEW)])
    const run = await deploy(['--instance-type', 'ml.c5.xlarge', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ action: 'updated', autoscaling: { action: 're-registered', minCapacity: 1, maxCapacity: 4 } })
    const order = log.filter((x) => /Scaling|Scalable|UpdateEndpoint|InvokeEndpoint/.test(x))
    expect(order).toEqual([
      'DescribeScalableTargets',
      'DeleteScalingPolicy',
      'DeregisterScalableTarget',
      `UpdateEndpoint:${NEW}`,
      'RegisterScalableTarget',
      'PutScalingPolicy',
      'InvokeEndpoint',
    ])
    const rid = {
      ServiceNamespace: 'sagemaker',
      ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
    } as const
    expect(as).toHaveReceivedCommandWith(DeleteScalingPolicyCommand, { PolicyName: 'dogs-invocations-target', ...rid })
    expect(as).toHaveReceivedCommandWith(RegisterScalableTargetCommand, { ...rid, MinCapacity: 1, MaxCapacity: 4 })
    expect(as).toHaveReceivedCommandWith(PutScalingPolicyCommand, {
      PolicyName: 'dogs-invocations-target',
      ...rid,
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 120,
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        ScaleInCooldown: 600,
        ScaleOutCooldown: 30,
      },
    })
    expect(sm.commandCalls(UpdateEndpointCommand)[0].args[0].input).toEqual({ EndpointName: 'dogs-endpoint', EndpointConfigName: NEW })
  })

  it('the same instance type on an autoscaled variant keeps scaling and the autoscaled count', async () => {
    scaled(2, 5)
    endpointSequence([ep('InService', OLD), ep('InService', NEW)])
    const run = await deploy(['--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().autoscaling).toEqual({ action: 'kept', minCapacity: 2, maxCapacity: 5 })
    expect(log).not.toContain('DeregisterScalableTarget')
    expect(sm).toHaveReceivedCommandWith(UpdateEndpointCommand, { EndpointName: 'dogs-endpoint', EndpointConfigName: NEW, RetainAllVariantProperties: true })
    expect(run.stderr).toContain('With autoscaling up to 5 instances: at most $0.58/hour.')
  })

  it('a Failed endpoint is deleted and created again', async () => {
    endpointSequence([ep('Failed', OLD, { FailureReason: 'old failure' }), ep('Deleting', OLD), undefined, ep('Creating', NEW), ep('InService', NEW)])
    const run = await deploy(['--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ action: 'recreated', endpointConfig: NEW })
    expect(log.filter((x) => ['DeleteEndpoint', 'CreateEndpoint'].includes(x))).toEqual(['DeleteEndpoint', 'CreateEndpoint'])
    expect(run.stderr).toContain('is Failed (old failure); deleting it to create it again')
  })

  it('an endpoint mid-update is refused before anything is created (exit 2)', async () => {
    endpointSequence([ep('Updating', OLD)])
    const run = await deploy()
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('Endpoint dogs-endpoint is Updating; SageMaker accepts no update until it settles.')
    expect(log).not.toContain('CreateModel')
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0)
  })

  it('Ctrl-C while waiting exits 130 and says the endpoint carries on', async () => {
    const ac = new AbortController()
    let calls = 0
    sm.on(DescribeEndpointCommand).callsFake(() => {
      calls++
      if (calls === 1) throw notFound()
      if (calls === 3) ac.abort()
      return ep('Creating', NEW)
    })
    const run = await deploy([], { signal: ac.signal })
    expect(run.code).toBe(130)
    expect(run.stderr).toContain('Interrupted while waiting: endpoint dogs-endpoint is still Creating on AWS')
    expect(run.stderr).toContain('`mlops teardown` removes it')
  })

  it('without --yes and without a terminal it refuses before creating anything', async () => {
    endpointSequence([undefined])
    const run = await runMlops(['deploy'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('this needs confirmation')
    expect(log).not.toContain('CreateModel')
    const declined = await runMlops(['deploy'], { cwd: dir, awsFactory: factory, clock: fastClock(), answers: ['n'] })
    expect(declined.code).toBe(1)
    expect(declined.stderr).toContain('Create endpoint dogs-endpoint with ml.m5.large x 1? [y/N]')
    expect(log).not.toContain('CreateModel')
  })
})

describe('deploy right after the execution role was created (issue 14 item 4)', () => {
  const iam = sdkMock(IAMClient)
  beforeEach(async () => {
    await writeFile(path.join(dir, 'mlops.config.yaml'), minimalConfig())
    iam.on(GetRoleCommand).rejects(Object.assign(new Error('The role with name dogs-sagemaker cannot be found.'), { name: 'NoSuchEntityException' }))
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: 'arn:aws:iam::123456789012:role/dogs-sagemaker' } as never })
    iam.on(PutRolePolicyCommand).resolves({})
  })
  const assumeFails = () =>
    Object.assign(
      new Error(
        "Could not assume role arn:aws:iam::123456789012:role/dogs-sagemaker. Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume the role.",
      ),
      { name: 'ValidationException', $metadata: { httpStatusCode: 400 } },
    )

  it('retries CreateModel while IAM propagates, then carries on', async () => {
    endpointSequence([undefined, ep('InService', NEW)])
    let attempts = 0
    sm.on(CreateModelCommand).callsFake(() => {
      log.push('CreateModel')
      if (++attempts <= 2) throw assumeFails()
      return { ModelArn: 'arn:model' }
    })
    const run = await deploy()
    expect(run.code, run.stderr).toBe(0)
    expect(log.filter((x) => x === 'CreateModel')).toHaveLength(3)
    expect(run.stderr).toContain('Waiting for the execution role arn:aws:iam::123456789012:role/dogs-sagemaker to reach SageMaker (IAM propagation, attempt 2)')
  })

  it('gives up after a bounded number of attempts with the error', async () => {
    endpointSequence([undefined])
    sm.on(CreateModelCommand).callsFake(() => {
      log.push('CreateModel')
      throw assumeFails()
    })
    const run = await deploy()
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('Could not assume role')
    expect(log.filter((x) => x === 'CreateModel')).toHaveLength(8)
    expect(log).not.toContain('CreateEndpointConfig')
  })
})

describe('deploy --model s3://other-bucket/... before upload-data (issue 14 item 10)', () => {
  const OTHER = 's3://other-team-models/run-7/model.tar.gz'
  const missing = () => Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } })

  it('creates the project bucket, hardened like upload-data, before anything else', async () => {
    endpointSequence([undefined, ep('InService', NEW)])
    s3.on(HeadBucketCommand).callsFake(() => {
      log.push('HeadBucket')
      throw missing()
    })
    s3.on(CreateBucketCommand).callsFake((input: { Bucket: string }) => {
      log.push(`CreateBucket:${input.Bucket}`)
      return {}
    })
    const run = await deploy(['--model', OTHER])
    expect(run.code, run.stderr).toBe(0)
    expect(log.indexOf('CreateBucket:dogs-data')).toBeGreaterThan(-1)
    expect(log.indexOf('CreateBucket:dogs-data')).toBeLessThan(log.indexOf('CreateModel'))
    const setup = s3.calls().map((c) => c.args[0].constructor.name)
    expect(setup).toEqual(expect.arrayContaining(['PutPublicAccessBlockCommand', 'PutBucketEncryptionCommand', 'PutBucketPolicyCommand']))
    expect(setup.indexOf('PutBucketPolicyCommand')).toBeLessThan(setup.indexOf('GetObjectCommand'))
    expect(run.stderr).toContain('Created the project bucket s3://dogs-data')
  })

  it('stops with exit 2 and the fix when the bucket name is taken, and creates nothing', async () => {
    endpointSequence([undefined])
    s3.on(HeadBucketCommand).rejects(missing())
    s3.on(CreateBucketCommand).rejects(Object.assign(new Error('taken'), { name: 'BucketAlreadyExists', $metadata: { httpStatusCode: 409 } }))
    const run = await deploy(['--model', OTHER])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('The bucket name dogs-data is taken by another AWS account')
    expect(run.stderr).not.toMatch(/Unexpected error|NoSuchBucket/)
    expect(log).not.toContain('CreateModel')
    expect(s3.commandCalls(GetObjectCommand)).toHaveLength(0)
  })
})

describe('concurrent deploys of one project (issue 19)', () => {
  it('are serialised by .mlops/deploy.lock: the second refuses clearly and creates nothing', async () => {
    endpointSequence([undefined, ep('Creating', NEW), ep('InService', NEW)])
    const [a, b] = await Promise.all([deploy(), deploy()])
    expect([a.code, b.code].sort()).toEqual([0, 2])
    const refused = a.code === 2 ? a : b
    expect(refused.stderr).toMatch(/Another deploy of this project is running \(pid \d+ on .+, since .+\)\./)
    expect(refused.stderr).toContain('deploy.lock')
    // One model, one config: nothing for a second prune to miscount, so keepVersions holds.
    expect(log.filter((x) => x === 'CreateEndpointConfig')).toHaveLength(1)
    expect(log.filter((x) => x === 'CreateModel')).toHaveLength(1)
    // The lock is released afterwards: the next deploy runs.
    endpointSequence([ep('InService', NEW)])
    const next = await deploy(['--no-smoke-test'])
    expect(next.stderr).not.toMatch(/Another deploy/)
  })

  it('a stale lock (its process is gone) is taken over with a warning', async () => {
    const { mkdir } = await import('node:fs/promises')
    await mkdir(path.join(dir, '.mlops'), { recursive: true })
    const os = await import('node:os')
    await writeFile(
      path.join(dir, '.mlops', 'deploy.lock'),
      JSON.stringify({ pid: 2 ** 22 + 12345, host: os.hostname(), startedAt: '2026-11-22T09:00:00.000Z', command: 'deploy' }),
    )
    endpointSequence([undefined, ep('InService', NEW)])
    const run = await deploy()
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/Taking over a stale deploy lock \(pid 4206649 on .+, since 2026-11-22T09:00:00.000Z\)/)
  })
})

describe('deploy with a state file it cannot write', () => {
  it('stops with exit 2 before anything is created, instead of leaving an orphan model', async () => {
    endpointSequence([undefined, ep('Creating', NEW), ep('InService', NEW)])
    // Tests run as root, where file modes do not stop a write: a folder where checkWritable puts its
    // probe file (named after this process) makes the state folder unwritable all the same.
    await mkdir(path.join(dir, '.mlops', `state.json.${process.pid}.probe`), { recursive: true })
    const run = await deploy()
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain(`Cannot write ${path.join(dir, '.mlops', 'state.json')}`)
    expect(run.stderr).toContain('Nothing was changed in AWS.')
    expect(log).not.toContain('CreateModel')
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0)
  })
})
