import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeEndpointCommand, DescribeHyperParameterTuningJobCommand, DescribeTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { Chalk } from 'chalk'
import { beforeEach, describe, expect, it } from 'vitest'
import { renderStatus } from '../../src/features/project/status.js'
import { createNotifier } from '../../src/lambda-runtime/notifier.js'
import { NotifyDestinationSchema, NotifySchema } from '../../src/config/sections/notify.js'
import { eventPattern, notifierEnvironment, notifierPolicy, notifySettings, planNotify } from '../../src/shared/notify-spec.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * The notifier (issue 29 item 1) with faked SDK clients: what a failed job's message says (reason and
 * last log lines), a tuning job and an endpoint, a webhook that fails without its URL leaking, and the
 * train-ec2 box's message. The moto end-to-end run is test/e2e/notify.test.ts.
 */

const opts = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }
const clients = { sagemaker: new SageMakerClient(opts), sns: new SNSClient(opts), ssm: new SSMClient(opts), logs: new CloudWatchLogsClient(opts) }
const sm = sdkMock(SageMakerClient)
const sns = sdkMock(SNSClient)
const ssm = sdkMock(SSMClient)
const logs = sdkMock(CloudWatchLogsClient)
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:dogs-notify'
const JOB = 'dogs-train-2026-12-07-06-00-00-000'

let lines: string[]
function notifier(env: Record<string, string> = {}, fetchImpl?: typeof fetch) {
  return createNotifier({
    env: { PROJECT: 'dogs', TOPIC_ARNS: TOPIC, TRAINING_LOG_GROUP: '/aws/sagemaker/TrainingJobs', PRICES: '{"ml.g4dn.xlarge":0.736}', ...env },
    sagemaker: () => clients.sagemaker,
    sns: () => clients.sns,
    ssm: () => clients.ssm,
    logs: () => clients.logs,
    log: (l) => lines.push(l),
    now: () => Date.parse('2026-12-07T08:00:00Z'),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
}
const event = (type: string, detail: Record<string, unknown>) => ({ source: 'aws.sagemaker', 'detail-type': type, region: 'us-east-1', detail })

beforeEach(() => {
  lines = []
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' })
})

describe('the notifier', () => {
  it('tells only its own project: an event of project dogs-train (dogs-train-train-…) matches dogs’s prefix and is ignored', async () => {
    const settings = notifySettings(
      { project: { name: 'dogs' } },
      [{ kind: 'email', address: 'ops@example.com' }],
      { kind: 'training', match: 'dogs-train' },
      { region: 'us-east-1', accountId: '123456789012', partition: 'aws', runtime: 'nodejs24.x' },
    )
    const { RUN_NAMES } = notifierEnvironment(settings)
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: JOB, TrainingJobStatus: 'Completed' } as never)
    sm.on(DescribeHyperParameterTuningJobCommand).resolves({ HyperParameterTuningJobStatus: 'Completed' } as never)
    const tell = notifier({ RUN_NAMES })
    const other = await tell(
      event('SageMaker Training Job State Change', { TrainingJobName: 'dogs-train-train-2026-12-07-06-00-00-000', TrainingJobStatus: 'Completed' }),
    )
    expect(other).toMatchObject({ delivered: [], ignored: 'SageMaker Training Job State Change' })
    const otherTuning = await tell(event('SageMaker HyperParameter Tuning Job State Change', { HyperParameterTuningJobName: 'dogs-v2-9f2a1c-261207-0600' }))
    expect(otherTuning).toMatchObject({ delivered: [] })
    expect(sm.commandCalls(DescribeTrainingJobCommand)).toHaveLength(0)
    expect(sm.commandCalls(DescribeHyperParameterTuningJobCommand)).toHaveLength(0)
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0)
    const own = await tell(event('SageMaker Training Job State Change', { TrainingJobName: JOB, TrainingJobStatus: 'Completed' }))
    expect(own).toMatchObject({ delivered: [TOPIC] })
  })

  it("a failed training job: SageMaker's reason, the last log lines, duration, cost and final metrics", async () => {
    sm.on(DescribeTrainingJobCommand).resolves({
      TrainingJobName: JOB,
      TrainingJobStatus: 'Failed',
      FailureReason: 'AlgorithmError: ExecuteUserScriptError: CUDA out of memory',
      TrainingStartTime: new Date('2026-12-07T06:00:00Z'),
      TrainingEndTime: new Date('2026-12-07T07:02:30Z'),
      BillableTimeInSeconds: 3750,
      ResourceConfig: { InstanceType: 'ml.g4dn.xlarge', InstanceCount: 2, VolumeSizeInGB: 30 },
      FinalMetricDataList: [{ MetricName: 'val_loss', Value: 0.41 }],
    } as never)
    logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [{ logStreamName: `${JOB}/algo-1-1700000000` }] })
    logs.on(GetLogEventsCommand).resolves({ events: [{ message: 'epoch=3 val_loss=0.41\n' }, { message: 'RuntimeError: CUDA out of memory' }] })

    const v = await notifier()(event('SageMaker Training Job State Change', { TrainingJobName: JOB, TrainingJobStatus: 'Failed' }))

    expect(v.delivered).toEqual([TOPIC])
    expect(logs).toHaveReceivedCommandWith(DescribeLogStreamsCommand, { logGroupName: '/aws/sagemaker/TrainingJobs', logStreamNamePrefix: `${JOB}/` })
    expect(logs).toHaveReceivedCommandWith(GetLogEventsCommand, { logStreamName: `${JOB}/algo-1-1700000000`, startFromHead: false, limit: 20 })
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC, Subject: `mlops dogs: training job ${JOB} Failed` })
    const text = sns.commandCalls(PublishCommand)[0].args[0].input.Message
    expect(text).toBe(
      [
        `Run: ${JOB} (training job of project dogs)`,
        'Status: Failed',
        'Duration: 1h 02m',
        // 3750 s x 2 instances x $0.736/h
        'Cost: $1.53 (7500 billable instance-seconds of ml.g4dn.xlarge at $0.736/hour)',
        'Final metrics: val_loss=0.41',
        'Failure reason: AlgorithmError: ExecuteUserScriptError: CUDA out of memory',
        'Last 2 log lines:',
        '  epoch=3 val_loss=0.41',
        '  RuntimeError: CUDA out of memory',
        `Console: https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/${JOB}`,
      ].join('\n'),
    )
  })

  it('a completed job reads no log; a tuning job names the best objective; an endpoint its status', async () => {
    sm.on(DescribeTrainingJobCommand).resolves({
      TrainingJobName: JOB,
      TrainingJobStatus: 'Completed',
      ResourceConfig: { InstanceType: 'ml.m5.large' },
    } as never)
    const v = await notifier()(event('SageMaker Training Job State Change', { TrainingJobName: JOB, TrainingJobStatus: 'Completed' }))
    expect(v.message).toMatchObject({ status: 'Completed', ok: true })
    expect(v.message).not.toHaveProperty('costUsd') // no price for ml.m5.large in PRICES
    expect(logs.commandCalls(DescribeLogStreamsCommand)).toHaveLength(0)

    sm.on(DescribeHyperParameterTuningJobCommand).resolves({
      HyperParameterTuningJobName: 'dogs-261207-0600',
      HyperParameterTuningJobStatus: 'Completed',
      CreationTime: new Date('2026-12-07T06:00:00Z'),
      HyperParameterTuningEndTime: new Date('2026-12-07T07:00:00Z'),
      BestTrainingJob: { FinalHyperParameterTuningJobObjectiveMetric: { MetricName: 'val_accuracy', Value: 0.87 } },
      TrainingJobDefinition: { ResourceConfig: { InstanceType: 'ml.g4dn.xlarge', InstanceCount: 1 } },
      ConsumedResources: { RuntimeInSeconds: 7200 },
    } as never)
    const t = await notifier()(
      event('SageMaker HyperParameter Tuning Job State Change', {
        HyperParameterTuningJobName: 'dogs-261207-0600',
        HyperParameterTuningJobStatus: 'Completed',
      }),
    )
    expect(t.message).toMatchObject({ kind: 'tuning', durationSeconds: 3600, metrics: { val_accuracy: 0.87 }, costUsd: 1.47 })

    sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'Failed', FailureReason: 'health check failed' } as never)
    const e = await notifier()(event('SageMaker Endpoint State Change', { EndpointName: 'dogs-endpoint', EndpointStatus: 'FAILED' }))
    expect(e.message).toMatchObject({ kind: 'endpoint', run: 'dogs-endpoint', status: 'Failed', ok: false, failureReason: 'health check failed' })
  })

  it('the train-ec2 box: its run, duration and cost from the box details; another instance by its id', async () => {
    const box = JSON.stringify({ instanceId: 'i-0abc', runName: 'dogs-ec2-2612070600', instanceType: 'g4dn.xlarge', launchedAt: '2026-12-07T06:00:00Z' })
    const n = notifier({ EC2_BOX: box, PRICES: '{"g4dn.xlarge":0.526}' })
    const mine = await n({
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      time: '2026-12-07T07:30:00Z',
      detail: { 'instance-id': 'i-0abc', state: 'terminated' },
    })
    expect(mine.message).toMatchObject({ kind: 'ec2', run: 'dogs-ec2-2612070600 on i-0abc', status: 'terminated', durationSeconds: 5400, costUsd: 0.79 })
    const other = await n({
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': 'i-0def', state: 'terminated' },
    })
    expect(other.message).toEqual({ project: 'dogs', kind: 'ec2', run: 'i-0def', status: 'terminated', ok: true })
  })

  it('a webhook that fails is logged without its URL; a topic that took the message keeps the run from being retried', async () => {
    sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: JOB, TrainingJobStatus: 'Completed' } as never)
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: 'https://hooks.example.com/services/SECRET' } })
    const failing = (async (url: string | URL | Request) => {
      throw new TypeError(`fetch failed for ${String(url)}`)
    }) as typeof fetch
    const v = await notifier(
      { WEBHOOK_PARAMETER: '/mlops/dogs/notify-webhook' },
      failing,
    )(event('SageMaker Training Job State Change', { TrainingJobName: JOB, TrainingJobStatus: 'Completed' }))
    expect(ssm).toHaveReceivedCommandWith(GetParameterCommand, { Name: '/mlops/dogs/notify-webhook', WithDecryption: true })
    expect(v.delivered).toEqual([TOPIC])
    expect(v.failed).toEqual([{ destination: 'webhook (/mlops/dogs/notify-webhook)', error: 'TypeError: fetch failed for <url>' }])
    expect(JSON.stringify(v) + lines.join('\n')).not.toContain('SECRET')

    // Nothing delivered at all: an error, so EventBridge retries.
    sns.on(PublishCommand).rejects(new Error('AuthorizationError'))
    await expect(
      notifier(
        { WEBHOOK_PARAMETER: '/mlops/dogs/notify-webhook' },
        failing,
      )(event('SageMaker Training Job State Change', { TrainingJobName: JOB, TrainingJobStatus: 'Completed' })),
    ).rejects.toThrow(/no destination took the notification/)
  })

  it('ignores an event it does not know', async () => {
    const v = await notifier()({ source: 'aws.s3', 'detail-type': 'Object Created', detail: {} })
    expect(v).toEqual({ delivered: [], failed: [], ignored: 'Object Created' })
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0)
  })
})

describe('notify destinations and the plan', () => {
  it('classifies e-mail, topic ARN and https webhook; refuses the rest with the reason', () => {
    expect(NotifyDestinationSchema.parse('ops@example.com')).toEqual({ kind: 'email', address: 'ops@example.com' })
    expect(NotifyDestinationSchema.parse('arn:aws:sns:eu-west-1:123456789012:alerts')).toEqual({
      kind: 'topic',
      arn: 'arn:aws:sns:eu-west-1:123456789012:alerts',
    })
    expect(NotifyDestinationSchema.parse('https://hooks.slack.com/services/T/B/X')).toEqual({ kind: 'webhook', url: 'https://hooks.slack.com/services/T/B/X' })
    const refused = (v: unknown) => NotifyDestinationSchema.safeParse(v).error?.issues[0]?.message
    expect(refused('http://hooks.example.com/x')).toBe('a webhook URL must use https:// (the URL is a secret and the message names your runs)')
    expect(refused('arn:aws:sqs:us-east-1:123456789012:q')).toBe('expected an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:alerts')
    expect(refused('https://user:pw@hooks.example.com/x')).toBe('a webhook URL must not carry a user name or password')
    expect(refused('ops')).toMatch(/^expected an e-mail address/)
    expect(NotifySchema.parse('ops@example.com')).toEqual([{ kind: 'email', address: 'ops@example.com' }])
    expect(NotifySchema.parse(undefined)).toEqual([])
    expect(NotifySchema.safeParse(['https://a.example.com/1', 'https://b.example.com/2']).error?.issues[0]?.message).toBe(
      'must have at most one webhook URL (one SSM parameter holds it)',
    )
  })

  it('the webhook URL is in no planned request, and the policy grants only what the notifier does', () => {
    const s = notifySettings(
      { project: { name: 'dogs' } },
      [
        { kind: 'email', address: 'ops@example.com' },
        { kind: 'webhook', url: 'https://hooks.example.com/SECRET' },
      ],
      { kind: 'training', match: 'dogs-train' },
      { region: 'us-east-1', accountId: '123456789012', partition: 'aws', runtime: 'nodejs24.x' },
    )
    expect(JSON.stringify(planNotify(s))).not.toContain('SECRET')
    const policy = notifierPolicy(s)
    expect(policy.Statement.map((x) => x.Sid)).toEqual([
      'PublishToOwnTopics',
      'ReadWebhookUrl',
      'DescribeOwnRuns',
      'FindTrainingLogStreams',
      'ReadOwnTrainingLogs',
      'WriteOwnLogs',
    ])
    expect(JSON.stringify(policy)).not.toContain('"*"')
    expect(eventPattern({ kind: 'training', match: 'dogs-train' })).toEqual({
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Training Job State Change'],
      detail: { TrainingJobName: [{ prefix: 'dogs-train' }], TrainingJobStatus: ['Completed', 'Failed', 'Stopped'] },
    })
  })
})

describe('status', () => {
  it('shows the rules and the e-mail addresses still waiting for confirmation', () => {
    const text = renderStatus(
      {
        project: 'dogs',
        region: 'us-east-1',
        jobs: [],
        endpoints: [],
        endpointConfigs: [],
        models: [],
        scalingTargets: [],
        functions: [],
        roles: [],
        instanceProfiles: [],
        instances: [],
        securityGroups: [],
        data: undefined,
        notifications: {
          rules: ['dogs-notify-training'],
          topicArn: TOPIC,
          subscriptions: [
            { protocol: 'email', endpoint: 'ops@example.com', pending: true },
            { protocol: 'email', endpoint: 'lead@example.com', pending: false },
          ],
          webhookParameter: '/mlops/dogs/notify-webhook',
        },
        hourlyTotal: 0,
        monthlyTotal: 0,
        priceNote: '',
      },
      new Chalk({ level: 0 }),
    )
    const row = text.split('\n').find((l) => l.startsWith('notifications'))
    expect(row).toMatch(
      /^notifications +dogs-notify-training +1 pending confirmation: ops@example.com +lead@example.com, webhook \(SSM \/mlops\/dogs\/notify-webhook\) +free$/,
    )
  })
})
