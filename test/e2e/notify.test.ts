import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { CloudWatchLogsClient, CreateLogGroupCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge'
import { GetRoleCommand, GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam'
import { GetFunctionCommand, GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { SageMakerClient } from '@aws-sdk/client-sagemaker'
import { ListSubscriptionsByTopicCommand, ListTopicsCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns'
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import { createNotifier } from '../../src/lambda-runtime/notifier.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * Issue 29 item 1 on moto: `train --notify` arms a rule, a topic, an e-mail subscription, the notifier
 * and its role; a state-change event on the bus matches the rule (moto's EventBridge delivers to a log
 * group target this test adds; it does not invoke Lambda targets), the real notifier handler run with
 * that event publishes the message to the topic (captured by an HTTP subscription to a loopback
 * receiver) and POSTs the webhook (a loopback receiver); `teardown` removes all of it.
 */

const ACCOUNT = '123456789012'
const REGION = 'us-east-1'
const CONFIG = minimalConfig(`  prefix: data
training:
  sourceDir: code
  hyperparameters: { epochs: 2 }
`)
const TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:dogs-notify`

let moto: MotoServer
let c: {
  events: EventBridgeClient
  sns: SNSClient
  ssm: SSMClient
  lambda: LambdaClient
  iam: IAMClient
  logs: CloudWatchLogsClient
  sagemaker: SageMakerClient
  s3: S3Client
}

/** A loopback HTTP receiver that keeps every request body. */
interface Receiver {
  readonly url: string
  readonly bodies: { headers: IncomingMessage['headers']; body: string }[]
  close(): Promise<void>
}
async function receiver(): Promise<Receiver> {
  const bodies: Receiver['bodies'] = []
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (d: Buffer) => (body += d.toString('utf8')))
    req.on('end', () => {
      bodies.push({ headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/hook`, bodies, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

beforeAll(async () => {
  moto = await startMoto()
  const cfg = motoClientConfig(moto.endpoint)
  c = {
    events: new EventBridgeClient(cfg),
    sns: new SNSClient(cfg),
    ssm: new SSMClient(cfg),
    lambda: new LambdaClient(cfg),
    iam: new IAMClient(cfg),
    logs: new CloudWatchLogsClient(cfg),
    sagemaker: new SageMakerClient(cfg),
    s3: new S3Client({ ...cfg, forcePathStyle: true }),
  }
})
afterAll(async () => moto?.stop())

let dir: string
let rx: Receiver | undefined
beforeEach(async () => {
  await moto.reset()
  await c.s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
  for (const split of ['train', 'valid', 'test']) {
    // Two classes in every split: train refuses one class before anything is billed (one set of dataset rules).
    for (const cls of ['001.Affenpinscher', '002.Afghan_hound'])
      await c.s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: `data/${split}/${cls}/a.jpg`, Body: 'jpeg' }))
  }
  dir = await tempProject(CONFIG, { 'code/train.py': 'print("epoch=1 val_accuracy=0.5")\n' })
})
afterEach(async () => {
  await rx?.close()
  rx = undefined
})

const run = (args: string[]) => runMlops([...args, '--yes'], { cwd: dir, env: motoEnv(moto.endpoint) })

/** The event SageMaker puts on the default bus when a training job changes state. */
function trainingEvent(job: string, status: string) {
  return {
    Source: 'aws.sagemaker',
    DetailType: 'SageMaker Training Job State Change',
    Detail: JSON.stringify({ TrainingJobName: job, TrainingJobStatus: status, SecondaryStatus: status }),
  }
}

/** The real notifier, as its function would run it: the function's own environment, clients on moto. */
async function notifierAsDeployed(fetchImpl?: typeof fetch) {
  const fn = await c.lambda.send(new GetFunctionCommand({ FunctionName: 'dogs-notify' }))
  const env = { ...fn.Configuration!.Environment!.Variables!, AWS_REGION: REGION }
  const logs: string[] = []
  const notify = createNotifier({
    env,
    sagemaker: () => c.sagemaker,
    sns: () => c.sns,
    ssm: () => c.ssm,
    logs: () => c.logs,
    log: (l) => logs.push(l),
    ...(fetchImpl ? { fetch: fetchImpl } : {}),
  })
  return { notify, env, logs }
}

describe('train --notify on moto', () => {
  it('arms a rule for the job, a topic and a subscription; an event on the bus matches; the notifier publishes the message; teardown removes it all', async () => {
    const r = await run(['train', '--notify', 'ops@example.com', '--no-wait', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    const job: string = out.jobName
    expect(job).toMatch(/^dogs-train-/)
    expect(out.notifications).toEqual({ rule: 'dogs-notify-training', destinations: ['ops@example.com'], pendingConfirmation: ['ops@example.com'] })
    expect(r.stderr).toContain('AWS sent a confirmation e-mail to ops@example.com')

    // The rule matches this project's training jobs in their terminal states and targets the notifier.
    const rule = await c.events.send(new DescribeRuleCommand({ Name: 'dogs-notify-training' }))
    expect(rule.State).toBe('ENABLED')
    expect(JSON.parse(rule.EventPattern!)).toEqual({
      source: ['aws.sagemaker'],
      'detail-type': ['SageMaker Training Job State Change'],
      detail: { TrainingJobName: [{ prefix: 'dogs-train' }], TrainingJobStatus: ['Completed', 'Failed', 'Stopped'] },
    })
    const targets = (await c.events.send(new ListTargetsByRuleCommand({ Rule: 'dogs-notify-training' }))).Targets
    expect(targets).toEqual([{ Id: 'mlops-notifier', Arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:dogs-notify` }])
    // The state file records the notifier's region and role: a teardown in another region keeps the role.
    const state = JSON.parse(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')) as { resources: { kind: string; name: string }[] }
    expect(state.resources.find((r) => r.kind === 'function' && r.name === 'dogs-notify')).toMatchObject({
      arn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:dogs-notify`,
      region: REGION,
      details: { roleName: 'dogs-notify' },
    })

    // The topic and the e-mail subscription.
    const topics = (await c.sns.send(new ListTopicsCommand({}))).Topics?.map((t) => t.TopicArn)
    expect(topics).toEqual([TOPIC])
    const subs = (await c.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: TOPIC }))).Subscriptions
    expect(subs?.map((s) => [s.Protocol, s.Endpoint])).toEqual([['email', 'ops@example.com']])

    // Only this rule may invoke the function; the role may publish to this topic and no other.
    const permission = JSON.parse((await c.lambda.send(new GetPolicyCommand({ FunctionName: 'dogs-notify' }))).Policy!)
    expect(permission.Statement).toEqual([
      expect.objectContaining({
        Sid: 'mlops-notify-training',
        Action: 'lambda:InvokeFunction',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnLike: { 'AWS:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/dogs-notify-training` } },
      }),
    ])
    const policy = JSON.parse(
      decodeURIComponent((await c.iam.send(new GetRolePolicyCommand({ RoleName: 'dogs-notify', PolicyName: 'mlops-notify' }))).PolicyDocument!),
    )
    expect(policy.Statement[0]).toEqual({ Sid: 'PublishToOwnTopics', Effect: 'Allow', Action: 'sns:Publish', Resource: [TOPIC] })
    expect(JSON.stringify(policy)).not.toContain('"*"')

    // A state-change event put on the bus reaches the rule's target: moto matches the rule's own
    // pattern, but raises NotImplementedError for a Lambda target, so the notifier's target is swapped
    // for a log group the test reads (the pattern under test is untouched).
    await c.logs.send(new CreateLogGroupCommand({ logGroupName: '/test/notify-events' }))
    await c.events.send(new RemoveTargetsCommand({ Rule: 'dogs-notify-training', Ids: ['mlops-notifier'] }))
    await c.events.send(
      new PutTargetsCommand({
        Rule: 'dogs-notify-training',
        Targets: [{ Id: 'probe', Arn: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/test/notify-events` }],
      }),
    )
    const put = await c.events.send(
      new PutEventsCommand({
        Entries: [
          trainingEvent(job, 'InProgress'), // not an end
          trainingEvent('cats-train-2026-12-07-06-00-00-000', 'Completed'), // not this project
          trainingEvent(job, 'Completed'),
        ],
      }),
    )
    expect(put.FailedEntryCount).toBe(0)
    const delivered = (await c.logs.send(new FilterLogEventsCommand({ logGroupName: '/test/notify-events' }))).events ?? []
    expect(delivered).toHaveLength(1)
    const event = JSON.parse(delivered[0].message!)
    expect(event).toMatchObject({ source: 'aws.sagemaker', 'detail-type': 'SageMaker Training Job State Change', detail: { TrainingJobName: job } })

    // That event, handed to the real notifier, reaches the topic (an HTTP subscriber stands in for the mailbox).
    rx = await receiver()
    await c.sns.send(new SubscribeCommand({ TopicArn: TOPIC, Protocol: 'http', Endpoint: rx.url }))
    const { notify } = await notifierAsDeployed()
    const verdict = await notify(event)
    expect(verdict).toMatchObject({ delivered: [TOPIC], failed: [] })
    const published = rx.bodies.map((b) => JSON.parse(b.body)).filter((b) => b.Type === 'Notification')
    expect(published).toHaveLength(1)
    expect(published[0].Subject).toBe(`mlops dogs: training job ${job} Completed`)
    const text: string = published[0].Message
    expect(text).toContain(`Run: ${job} (training job of project dogs)`)
    expect(text).toContain('Status: Completed')
    expect(text).toMatch(/^Duration: \d/m)
    expect(text).toMatch(/^Cost: \$\d+\.\d\d \(\d+ billable instance-seconds of ml\.g4dn\.xlarge at \$0\.736\/hour\)$/m)
    expect(text).toContain(`Console: https://${REGION}.console.aws.amazon.com/sagemaker/home?region=${REGION}#/jobs/${job}`)

    // status shows the notifications and the subscription.
    const st = await run(['status', '--json'])
    expect(st.code, st.stderr).toBe(0)
    expect(st.json().notifications).toMatchObject({ rules: ['dogs-notify-training'], topicArn: TOPIC })

    // teardown removes rules, targets, topic, subscriptions, function, role.
    const td = await run(['teardown', '--json'])
    expect(td.code, td.stderr).toBe(0)
    expect((await c.events.send(new ListRulesCommand({ NamePrefix: 'dogs-notify' }))).Rules).toEqual([])
    expect((await c.sns.send(new ListTopicsCommand({}))).Topics).toEqual([])
    await expect(c.lambda.send(new GetFunctionCommand({ FunctionName: 'dogs-notify' }))).rejects.toThrow()
    await expect(c.iam.send(new GetRoleCommand({ RoleName: 'dogs-notify' }))).rejects.toThrow()
  }, 120_000)

  it('audit-iam finds nothing above low in the notifier role (every statement: topics, webhook parameter, describes, logs)', async () => {
    const r = await run([
      'train',
      '--notify',
      'ops@example.com',
      '--notify',
      `arn:aws:sns:${REGION}:${ACCOUNT}:alerts`,
      '--notify',
      'https://hooks.example.com/x',
      '--no-wait',
    ])
    expect(r.code, r.stderr).toBe(0)
    const audit = await runMlops(['audit-iam', '--all-roles', '--json', '--fail-on', 'none'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(audit.code, audit.stderr).toBe(0)
    const report = audit.json<AuditReport>()
    expect(report.roles.map((x) => x.name)).toContain('dogs-notify')
    expect(report.findings.filter((f) => f.role?.name === 'dogs-notify' && !['info', 'low'].includes(f.severity))).toEqual([])
  }, 120_000)

  it('a webhook URL goes to an SSM SecureString only (never printed); the real notifier POSTs the message to it; teardown deletes the parameter', async () => {
    const secret = 'https://hooks.example.com/services/T000/B000/SECRETTOKEN'
    const r = await run(['train', '--notify', secret, '--no-wait', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout + r.stderr).not.toContain('SECRETTOKEN')
    expect(r.json().notifications.destinations).toEqual(['<webhook: stored in SSM /mlops/dogs/notify-webhook>'])
    const dry = await run(['train', '--notify', secret, '--dry-run', '--json'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout + dry.stderr).not.toContain('SECRETTOKEN')

    const stored = await c.ssm.send(new GetParameterCommand({ Name: '/mlops/dogs/notify-webhook', WithDecryption: true }))
    expect(stored.Parameter).toMatchObject({ Type: 'SecureString', Value: secret })
    const fn = await c.lambda.send(new GetFunctionCommand({ FunctionName: 'dogs-notify' }))
    expect(JSON.stringify(fn.Configuration)).not.toContain('SECRETTOKEN')
    // No topic without e-mail addresses or topic ARNs.
    expect((await c.sns.send(new ListTopicsCommand({}))).Topics).toEqual([])

    // The receiver stands in for hooks.example.com: the parameter now points at it.
    rx = await receiver()
    await c.ssm.send(new PutParameterCommand({ Name: '/mlops/dogs/notify-webhook', Value: rx.url, Type: 'SecureString', Overwrite: true }))
    const { notify, logs } = await notifierAsDeployed()
    const job = r.json().jobName as string
    const verdict = await notify({
      source: 'aws.sagemaker',
      'detail-type': 'SageMaker Training Job State Change',
      region: REGION,
      detail: { TrainingJobName: job, TrainingJobStatus: 'Completed' },
    })
    expect(verdict).toMatchObject({ delivered: ['webhook (/mlops/dogs/notify-webhook)'], failed: [] })
    expect(rx.bodies).toHaveLength(1)
    expect(rx.bodies[0].headers['content-type']).toBe('application/json')
    const body = JSON.parse(rx.bodies[0].body)
    expect(body.text).toContain(`mlops dogs: training job ${job} Completed`)
    expect(body.mlops).toMatchObject({ project: 'dogs', kind: 'training', run: job, status: 'Completed', ok: true })
    expect(logs.join('\n')).not.toContain(rx.url)

    const td = await run(['teardown', '--json'])
    expect(td.code, td.stderr).toBe(0)
    await expect(c.ssm.send(new GetParameterCommand({ Name: '/mlops/dogs/notify-webhook' }))).rejects.toThrow(/not found/)
  }, 120_000)
})
