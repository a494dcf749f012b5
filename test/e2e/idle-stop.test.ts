import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import { CloudWatchClient, DescribeAlarmsCommand, ListTagsForResourceCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch'
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam'
import { GetFunctionCommand, GetPolicyCommand, LambdaClient, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda'
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient } from '@aws-sdk/client-sns'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import { planIdleStop, setupIdleStop } from '../../src/features/deploy/arm-idle-stop.js'
import { createReaper } from '../../src/lambda-runtime/reaper.js'
import { projectTags } from '../../src/shared/naming.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/** `deploy --idle-stop`: alarm, topic, subscription, reaper and its role on moto; the reaper; teardown. */

const ACCOUNT = '123456789012'
const REGION = 'us-east-1'
const ENDPOINT = 'dogs-endpoint'
const NAME = 'dogs-endpoint-idle-stop'
const SETTINGS = { project: 'dogs', endpointName: ENDPOINT, idleSeconds: 7200, region: REGION, accountId: ACCOUNT }
const POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'DeleteThisEndpointOnly',
      Effect: 'Allow',
      Action: 'sagemaker:DeleteEndpoint',
      Resource: `arn:aws:sagemaker:${REGION}:${ACCOUNT}:endpoint/dogs-endpoint`,
    },
    {
      Sid: 'DeregisterEndpointScaling',
      Effect: 'Allow',
      Action: 'application-autoscaling:DeregisterScalableTarget',
      Resource: `arn:aws:application-autoscaling:${REGION}:${ACCOUNT}:scalable-target/*`,
      Condition: {
        StringEquals: {
          'application-autoscaling:service-namespace': 'sagemaker',
          'application-autoscaling:scalable-dimension': 'sagemaker:variant:DesiredInstanceCount',
        },
      },
    },
    {
      Sid: 'WriteOwnLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws/lambda/${NAME}:*`,
    },
  ],
}

let moto: MotoServer
let c: {
  iam: IAMClient
  lambda: LambdaClient
  sns: SNSClient
  cloudwatch: CloudWatchClient
  sagemaker: SageMakerClient
  autoscaling: ApplicationAutoScalingClient
}

beforeAll(async () => {
  moto = await startMoto()
  const cfg = motoClientConfig(moto.endpoint)
  c = {
    iam: new IAMClient(cfg),
    lambda: new LambdaClient(cfg),
    sns: new SNSClient(cfg),
    cloudwatch: new CloudWatchClient(cfg),
    sagemaker: new SageMakerClient(cfg),
    autoscaling: new ApplicationAutoScalingClient(cfg),
  }
})
afterAll(async () => {
  await moto?.stop()
})
beforeEach(async () => {
  await moto.reset()
})

async function createEndpoint(name: string): Promise<void> {
  const role = `arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker`
  await c.sagemaker.send(
    new CreateModelCommand({
      ModelName: `${name}-model`,
      ExecutionRoleArn: role,
      PrimaryContainer: { Image: 'x.dkr.ecr.us-east-1.amazonaws.com/pytorch:1' },
      Tags: projectTags('dogs'),
    }),
  )
  await c.sagemaker.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `${name}-config`,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${name}-model`, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
      Tags: projectTags('dogs'),
    }),
  )
  await c.sagemaker.send(new CreateEndpointCommand({ EndpointName: name, EndpointConfigName: `${name}-config`, Tags: projectTags('dogs') }))
}

/** The notification CloudWatch sends SNS when the alarm goes into ALARM. */
function alarmMessage(over: { alarm?: string; endpoint?: string; state?: string } = {}) {
  const Message = JSON.stringify({
    AlarmName: over.alarm ?? NAME,
    NewStateValue: over.state ?? 'ALARM',
    NewStateReason: 'Threshold Crossed: 2 datapoints [0.0, 0.0] were less than the threshold (1.0).',
    Trigger: {
      MetricName: 'Invocations',
      Namespace: 'AWS/SageMaker',
      Statistic: 'SUM',
      Dimensions: [
        { name: 'EndpointName', value: over.endpoint ?? ENDPOINT },
        { name: 'VariantName', value: 'AllTraffic' },
      ],
    },
  })
  return { Records: [{ Sns: { TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${NAME}`, Message } }] }
}

const exists = async (fn: () => Promise<unknown>) =>
  fn().then(
    () => true,
    () => false,
  )

describe('idle stop on moto', () => {
  it('creates alarm, topic, subscription, reaper and a least-privilege role; the dry-run plan names the same', async () => {
    const out = await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    const topicArn = `arn:aws:sns:${REGION}:${ACCOUNT}:${NAME}`
    const functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${NAME}`
    expect(out).toMatchObject({ alarm: NAME, topicArn, functionArn, idleSeconds: 7200, period: 3600, evaluationPeriods: 2 })

    const alarm = (await c.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [NAME] }))).MetricAlarms?.[0]
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SageMaker',
      MetricName: 'Invocations',
      Dimensions: [
        { Name: 'EndpointName', Value: ENDPOINT },
        { Name: 'VariantName', Value: 'AllTraffic' },
      ],
      Statistic: 'Sum',
      Period: 3600,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
      AlarmActions: [topicArn],
    })
    const tags = await c.cloudwatch.send(new ListTagsForResourceCommand({ ResourceARN: alarm!.AlarmArn }))
    expect(tags.Tags).toEqual(expect.arrayContaining(projectTags('dogs')))

    const subs = await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))
    expect(subs.Subscriptions?.map((s) => [s.Protocol, s.Endpoint])).toEqual([['lambda', functionArn]])

    const fn = await c.lambda.send(new GetFunctionCommand({ FunctionName: NAME }))
    expect(fn.Configuration).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'reaper.handler',
      Role: `arn:aws:iam::${ACCOUNT}:role/${NAME}`,
      Environment: { Variables: { ENDPOINT_NAME: ENDPOINT, ALARM_NAME: NAME } },
    })
    expect(fn.Tags).toMatchObject({ 'mlops:project': 'dogs' })
    const permission = JSON.parse((await c.lambda.send(new GetPolicyCommand({ FunctionName: NAME }))).Policy!)
    expect(permission.Statement).toHaveLength(1)
    expect(permission.Statement[0]).toMatchObject({
      Sid: 'mlops-idle-stop-sns',
      Action: 'lambda:InvokeFunction',
      Principal: { Service: 'sns.amazonaws.com' },
      Condition: { ArnLike: { 'AWS:SourceArn': topicArn } },
    })

    expect((await c.iam.send(new ListRolePoliciesCommand({ RoleName: NAME }))).PolicyNames).toEqual(['mlops-idle-stop'])
    const doc = (await c.iam.send(new GetRolePolicyCommand({ RoleName: NAME, PolicyName: 'mlops-idle-stop' }))).PolicyDocument!
    expect(JSON.parse(decodeURIComponent(doc))).toEqual(POLICY)
    const trust = JSON.parse(decodeURIComponent((await c.iam.send(new GetRoleCommand({ RoleName: NAME }))).Role!.AssumeRolePolicyDocument!))
    expect(trust.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      },
    ])

    // A re-run converges: still one subscription, one permission.
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    expect((await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions).toHaveLength(1)

    const planned = planIdleStop(SETTINGS)
    expect(planned.map((o) => o.operation)).toEqual([
      'CreateRole',
      'PutRolePolicy',
      'CreateTopic',
      'CreateFunction',
      'AddPermission',
      'Subscribe',
      'PutMetricAlarm',
      'SetAlarmState',
    ])
    expect(JSON.parse((planned[1].input as { PolicyDocument: string }).PolicyDocument)).toEqual(POLICY)
  })

  it('audit-iam finds nothing above low in the reaper role', async () => {
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--all-roles', '--json', '--fail-on', 'none'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    const report = run.json<AuditReport>()
    expect(report.roles.map((r) => r.name)).toContain(NAME)
    expect(report.findings.filter((f) => f.role?.name === NAME && !['info', 'low'].includes(f.severity))).toEqual([])
  })

  it("the reaper deletes only its endpoint on its alarm, keeps config and model, and refuses anyone else's message", async () => {
    await createEndpoint(ENDPOINT)
    await createEndpoint('cats-endpoint')
    const logs: string[] = []
    const reap = createReaper({
      client: () => c.sagemaker,
      autoscaling: () => c.autoscaling,
      env: { ENDPOINT_NAME: ENDPOINT, ALARM_NAME: NAME },
      log: (l) => logs.push(l),
    })

    expect(await reap(alarmMessage({ endpoint: 'cats-endpoint' }))).toEqual([
      expect.objectContaining({ action: 'refused', reason: 'the alarm watches endpoint cats-endpoint, not dogs-endpoint' }),
    ])
    expect(await reap(alarmMessage({ alarm: 'cats-endpoint-idle-stop', endpoint: 'cats-endpoint' }))).toMatchObject([
      { action: 'refused', reason: `alarm cats-endpoint-idle-stop is not ${NAME}` },
    ])
    expect(await reap(alarmMessage({ state: 'OK' }))).toMatchObject([{ action: 'refused', reason: 'state OK is not ALARM' }])
    expect(await reap({ Records: [{ Sns: { Message: 'hello' } }] })).toMatchObject([{ action: 'refused', reason: 'not a CloudWatch alarm notification' }])
    expect(await exists(() => c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT })))).toBe(true)

    expect(await reap(alarmMessage())).toMatchObject([
      { action: 'deleted', endpoint: ENDPOINT, alarm: NAME, reason: expect.stringMatching(/^alarm dogs-endpoint-idle-stop: Threshold Crossed/) },
    ])
    expect(await exists(() => c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT })))).toBe(false)
    expect(await exists(() => c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: 'cats-endpoint' })))).toBe(true)
    // What `mlops deploy` needs to restore it is still there.
    expect(await exists(() => c.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: `${ENDPOINT}-config` })))).toBe(true)
    expect(await exists(() => c.sagemaker.send(new DescribeModelCommand({ ModelName: `${ENDPOINT}-model` })))).toBe(true)
    expect(JSON.parse(logs.at(-1)!)).toMatchObject({ level: 'info', msg: 'idle stop: deleted', alarm: NAME, endpoint: ENDPOINT })
    // A second notification finds it gone and says so.
    expect(await reap(alarmMessage())).toMatchObject([{ action: 'already-gone' }])
  })

  it('the reaper deletes an autoscaled endpoint: its scalable target is deregistered first, another endpoint keeps its own', async () => {
    const target = (endpoint: string) => ({
      ServiceNamespace: 'sagemaker' as const,
      ResourceId: `endpoint/${endpoint}/variant/AllTraffic`,
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' as const,
    })
    for (const endpoint of [ENDPOINT, 'cats-endpoint']) {
      await createEndpoint(endpoint)
      await c.autoscaling.send(new RegisterScalableTargetCommand({ ...target(endpoint), MinCapacity: 1, MaxCapacity: 2 }))
      await c.autoscaling.send(
        new PutScalingPolicyCommand({
          ...target(endpoint),
          PolicyName: `${endpoint}-invocations`,
          PolicyType: 'TargetTrackingScaling',
          TargetTrackingScalingPolicyConfiguration: {
            TargetValue: 70,
            PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
          },
        }),
      )
    }
    const reap = createReaper({
      client: () => c.sagemaker,
      autoscaling: () => c.autoscaling,
      env: { ENDPOINT_NAME: ENDPOINT, ALARM_NAME: NAME },
      log: () => {},
    })
    expect(await reap(alarmMessage())).toMatchObject([{ action: 'deleted', endpoint: ENDPOINT }])
    expect(await exists(() => c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: ENDPOINT })))).toBe(false)
    const left = await c.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker' }))
    expect(left.ScalableTargets?.map((t) => t.ResourceId)).toEqual(['endpoint/cats-endpoint/variant/AllTraffic'])
    // A second notification (the endpoint and its scaling already gone) is not an error.
    expect(await reap(alarmMessage())).toMatchObject([{ action: 'already-gone' }])
  })

  it('a re-deploy puts an alarm left in ALARM back to OK, so the restored endpoint can be reaped again', async () => {
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    await c.cloudwatch.send(new SetAlarmStateCommand({ AlarmName: NAME, StateValue: 'ALARM', StateReason: 'the endpoint was idle' }))
    const state = async () => (await c.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [NAME] }))).MetricAlarms?.[0]?.StateValue
    expect(await state()).toBe('ALARM')
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    expect(await state()).toBe('OK')
  })

  it('a reaper made on an older runtime is moved to the runtime its bundle targets on the next deploy', async () => {
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    await c.lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: NAME, Runtime: 'nodejs22.x', Timeout: 3 }))
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    const fn = await c.lambda.send(new GetFunctionCommand({ FunctionName: NAME }))
    expect(fn.Configuration).toMatchObject({ Runtime: 'nodejs24.x', Timeout: 30, Handler: 'reaper.handler' })
  })

  it('status shows it armed, and teardown removes alarm, topic, subscription, reaper and role', async () => {
    await setupIdleStop(c, SETTINGS, { clock: fastClock() })
    const dir = await tempProject(minimalConfig())
    const status = await runMlops(['status'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/idle stop +dogs-endpoint-idle-stop +armed \((INSUFFICIENT_DATA|OK|ALARM)\) +deletes dogs-endpoint after 2h idle/)

    const run = await runMlops(['teardown', '--yes', '--json'], { cwd: dir, env: motoEnv(moto.endpoint), clock: fastClock() })
    expect(run.code, run.stderr).toBe(0)
    expect((await c.cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [NAME] }))).MetricAlarms).toEqual([])
    expect((await c.sns.send(new ListTopicsCommand({}))).Topics ?? []).toEqual([])
    expect(await exists(() => c.lambda.send(new GetFunctionCommand({ FunctionName: NAME })))).toBe(false)
    expect(await exists(() => c.iam.send(new GetRoleCommand({ RoleName: NAME })))).toBe(false)
  })
})
