/**
 * The notifier (`--notify` on train, tune, train-ec2 and deploy): an EventBridge rule of the project
 * invokes it when a run ends. It describes the run (status, final metrics, duration, cost and, on
 * failure, SageMaker's reason with the last lines of the log), publishes the message to the topics in
 * TOPIC_ARNS (the project's topic with its e-mail subscribers, and topics the user named) and POSTs it
 * to the webhook whose URL is in the SSM SecureString WEBHOOK_PARAMETER. The URL is read at run time
 * and never logged. Its role may do nothing else (shared/notify-spec.ts notifierPolicy).
 *
 * Bundled alone by esbuild; the Node.js runtime provides the AWS SDK v3 clients.
 * Self-contained on purpose: nothing here may import from the rest of mlops.
 */
import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeEndpointCommand, DescribeHyperParameterTuningJobCommand, DescribeTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns'
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'

type Sender = { send(command: unknown): Promise<unknown> }

export interface NotifierDeps {
  readonly sagemaker?: () => Sender
  readonly sns?: () => Sender
  readonly ssm?: () => Sender
  readonly logs?: () => Sender
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch
  /** @default process.env (PROJECT, TOPIC_ARNS, WEBHOOK_PARAMETER, TRAINING_LOG_GROUP, PRICES, AWS_REGION) */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** One structured log line (JSON). @default process.stdout */
  readonly log?: (line: string) => void
  /** @default Date.now */
  readonly now?: () => number
}

/** The message, as fields (the webhook gets them as JSON beside the text). */
export interface RunMessage {
  readonly project: string
  readonly kind: 'training' | 'tuning' | 'ec2' | 'endpoint'
  readonly run: string
  readonly status: string
  readonly ok: boolean
  readonly durationSeconds?: number
  readonly costUsd?: number
  readonly costBasis?: string
  readonly metrics?: Readonly<Record<string, number>>
  readonly failureReason?: string
  readonly lastLogLines?: readonly string[]
  readonly console?: string
}

export interface NotifierVerdict {
  readonly message?: RunMessage
  readonly subject?: string
  readonly delivered: readonly string[]
  readonly failed: readonly { destination: string; error: string }[]
  readonly ignored?: string
}

interface BridgeEvent {
  source?: string
  'detail-type'?: string
  detail?: Record<string, unknown>
  region?: string
  time?: string
}

/** How many log lines a failure message quotes. */
export const LOG_LINES = 20
const WEBHOOK_TIMEOUT_MS = 10_000

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
const seconds = (a: unknown, b: unknown) => {
  const s = toMs(a)
  const e = toMs(b)
  return s !== undefined && e !== undefined && e >= s ? Math.round((e - s) / 1000) : undefined
}
function toMs(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime()
  if (typeof v === 'number') return v
  if (typeof v === 'string') {
    const t = Date.parse(v)
    return Number.isNaN(t) ? undefined : t
  }
  return undefined
}

function parsePrices(text: string | undefined): Record<string, number> {
  try {
    const v = JSON.parse(text ?? '{}') as unknown
    return isObject(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => typeof e[1] === 'number')) : {}
  } catch {
    return {}
  }
}

const clients: { sagemaker?: SageMakerClient; sns?: SNSClient; ssm?: SSMClient; logs?: CloudWatchLogsClient } = {}

/**
 * RUN_NAMES ({"training": "<RegExp source>", "tuning": ...}, from shared/project-ownership.ts): the
 * exact names of this project's runs. A rule's prefix (`dogs-train`) also matches another project's
 * names (`dogs-train-train-…` of project `dogs-train`): such an event is not told. Without the
 * variable (a notifier armed by an older mlops) every matched name is.
 */
function runNameCheck(raw: string | undefined): (kind: 'training' | 'tuning', name: string) => boolean {
  let patterns: Partial<Record<'training' | 'tuning', RegExp>> = {}
  try {
    const parsed = JSON.parse(raw ?? '{}') as Record<string, unknown>
    patterns = Object.fromEntries(
      (['training', 'tuning'] as const).flatMap((k) => (typeof parsed[k] === 'string' ? [[k, new RegExp(parsed[k] as string)]] : [])),
    )
  } catch {
    patterns = {}
  }
  return (kind, name) => patterns[kind]?.test(name) ?? true
}

export function createNotifier(deps: NotifierDeps = {}) {
  const env = deps.env ?? process.env
  const log = deps.log ?? ((line: string) => void process.stdout.write(line + '\n'))
  const sagemaker = deps.sagemaker ?? (() => (clients.sagemaker ??= new SageMakerClient({})))
  const sns = deps.sns ?? (() => (clients.sns ??= new SNSClient({})))
  const ssm = deps.ssm ?? (() => (clients.ssm ??= new SSMClient({})))
  const logs = deps.logs ?? (() => (clients.logs ??= new CloudWatchLogsClient({})))
  const post = deps.fetch ?? globalThis.fetch
  const now = deps.now ?? Date.now

  return async (event: BridgeEvent): Promise<NotifierVerdict> => {
    const project = env.PROJECT ?? 'mlops'
    const prices = parsePrices(env.PRICES)
    const region = event.region ?? env.AWS_REGION ?? 'us-east-1'
    const message = await describeRun(event, {
      project,
      prices,
      region,
      logGroup: env.TRAINING_LOG_GROUP ?? '/aws/sagemaker/TrainingJobs',
      now,
      box: env.EC2_BOX,
      ownRun: runNameCheck(env.RUN_NAMES),
    })
    if (!message) {
      log(JSON.stringify({ level: 'warn', msg: 'not a run this notifier knows', detailType: event['detail-type'] }))
      return { delivered: [], failed: [], ignored: String(event['detail-type']) }
    }
    const subject = subjectOf(message)
    const text = formatMessage(message)
    const delivered: string[] = []
    const failed: { destination: string; error: string }[] = []
    for (const topic of (env.TOPIC_ARNS ?? '').split(',').filter(Boolean)) {
      try {
        await sns().send(new PublishCommand({ TopicArn: topic, Subject: subject, Message: text }))
        delivered.push(topic)
      } catch (e) {
        failed.push({ destination: topic, error: errorText(e) })
      }
    }
    if (env.WEBHOOK_PARAMETER) {
      // Named by its parameter only: the URL is a secret.
      const destination = `webhook (${env.WEBHOOK_PARAMETER})`
      try {
        const out = (await ssm().send(new GetParameterCommand({ Name: env.WEBHOOK_PARAMETER, WithDecryption: true }))) as { Parameter?: { Value?: string } }
        const url = out.Parameter?.Value
        if (!url) throw new Error('the parameter has no value')
        const res = await post(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `${subject}\n${text}`, mlops: message }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
        })
        if (!res.ok) throw new Error(`the webhook answered HTTP ${res.status}`)
        delivered.push(destination)
      } catch (e) {
        // fetch errors can quote the URL: only the error's name and a scrubbed message are kept.
        failed.push({ destination, error: scrubUrls(errorText(e)) })
      }
    }
    log(JSON.stringify({ level: failed.length ? 'error' : 'info', msg: 'run notification', run: message.run, status: message.status, delivered, failed }))
    // Every destination failed: an error makes EventBridge retry; a partial failure is logged, not retried
    // (a retry would tell the others twice).
    if (failed.length && !delivered.length) throw new Error(`no destination took the notification of ${message.run}: ${failed.map((f) => f.error).join('; ')}`)
    return { message, subject, delivered, failed }
  }

  async function describeRun(
    event: BridgeEvent,
    o: {
      project: string
      prices: Record<string, number>
      region: string
      logGroup: string
      now: () => number
      box?: string
      /** Whether a job's name is exactly one this project generates (the rule matched a prefix only). */
      ownRun: (kind: 'training' | 'tuning', name: string) => boolean
    },
  ): Promise<RunMessage | undefined> {
    const d = isObject(event.detail) ? event.detail : {}
    const type = event['detail-type']
    const consoleBase = `https://${o.region}.console.aws.amazon.com/sagemaker/home?region=${o.region}#`
    if (type === 'SageMaker Training Job State Change') {
      const name = str(d.TrainingJobName)
      if (!name || !o.ownRun('training', name)) return undefined
      const job = (await sagemaker().send(new DescribeTrainingJobCommand({ TrainingJobName: name }))) as Record<string, unknown>
      const status = str(job.TrainingJobStatus) ?? str(d.TrainingJobStatus) ?? 'unknown'
      const rc = isObject(job.ResourceConfig) ? job.ResourceConfig : {}
      const type = str(rc.InstanceType)
      const count = typeof rc.InstanceCount === 'number' ? rc.InstanceCount : 1
      const duration = seconds(job.TrainingStartTime, job.TrainingEndTime) ?? seconds(job.CreationTime, job.TrainingEndTime ?? o.now())
      const billable = typeof job.BillableTimeInSeconds === 'number' ? job.BillableTimeInSeconds : undefined
      const price = type ? o.prices[type] : undefined
      // BillableTimeInSeconds is wall-clock time (less spot savings): SageMaker bills it once per instance.
      const seconds1 = billable ?? duration
      const billed = seconds1 !== undefined ? seconds1 * count : undefined
      const metrics = Object.fromEntries(
        (Array.isArray(job.FinalMetricDataList) ? job.FinalMetricDataList : []).flatMap((m: unknown) =>
          isObject(m) && typeof m.MetricName === 'string' && typeof m.Value === 'number' ? [[m.MetricName, m.Value]] : [],
        ),
      )
      const ok = status === 'Completed'
      return {
        project: o.project,
        kind: 'training',
        run: name,
        status,
        ok,
        ...(duration !== undefined ? { durationSeconds: duration } : {}),
        ...(price !== undefined && billed !== undefined
          ? { costUsd: round((billed * price) / 3600), costBasis: `${billed} billable instance-seconds of ${type} at $${price}/hour` }
          : {}),
        ...(Object.keys(metrics).length ? { metrics } : {}),
        ...(!ok && str(job.FailureReason) ? { failureReason: str(job.FailureReason) } : {}),
        ...(!ok ? await lastLines(o.logGroup, name) : {}),
        console: `${consoleBase}/jobs/${name}`,
      }
    }
    if (type === 'SageMaker HyperParameter Tuning Job State Change') {
      const name = str(d.HyperParameterTuningJobName)
      if (!name || !o.ownRun('tuning', name)) return undefined
      const job = (await sagemaker().send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name }))) as Record<string, unknown>
      const status = str(job.HyperParameterTuningJobStatus) ?? str(d.HyperParameterTuningJobStatus) ?? 'unknown'
      const best = isObject(job.BestTrainingJob) ? job.BestTrainingJob : {}
      const objective = isObject(best.FinalHyperParameterTuningJobObjectiveMetric) ? best.FinalHyperParameterTuningJobObjectiveMetric : {}
      const def = isObject(job.TrainingJobDefinition) ? job.TrainingJobDefinition : {}
      const rc = isObject(def.ResourceConfig) ? def.ResourceConfig : {}
      const type = str(rc.InstanceType)
      const consumed =
        isObject(job.ConsumedResources) && typeof job.ConsumedResources.RuntimeInSeconds === 'number' ? job.ConsumedResources.RuntimeInSeconds : undefined
      const price = type ? o.prices[type] : undefined
      const count = typeof rc.InstanceCount === 'number' ? rc.InstanceCount : 1
      const ok = status === 'Completed'
      return {
        project: o.project,
        kind: 'tuning',
        run: name,
        status,
        ok,
        ...(seconds(job.CreationTime, job.HyperParameterTuningEndTime) !== undefined
          ? { durationSeconds: seconds(job.CreationTime, job.HyperParameterTuningEndTime) }
          : {}),
        ...(price !== undefined && consumed !== undefined
          ? { costUsd: round((consumed * count * price) / 3600), costBasis: `${consumed} s of ${count} x ${type} at $${price}/hour` }
          : {}),
        ...(typeof objective.MetricName === 'string' && typeof objective.Value === 'number' ? { metrics: { [objective.MetricName]: objective.Value } } : {}),
        ...(!ok && str(job.FailureReason) ? { failureReason: str(job.FailureReason) } : {}),
        console: `${consoleBase}/hyper-tuning-jobs/${name}`,
      }
    }
    if (type === 'SageMaker Endpoint State Change') {
      const name = str(d.EndpointName)
      if (!name) return undefined
      const ep = (await sagemaker().send(new DescribeEndpointCommand({ EndpointName: name }))) as Record<string, unknown>
      const status = str(ep.EndpointStatus) ?? str(d.EndpointStatus) ?? 'unknown'
      const ok = /^in_?service$/i.test(status)
      return {
        project: o.project,
        kind: 'endpoint',
        run: name,
        status,
        ok,
        ...(!ok && str(ep.FailureReason) ? { failureReason: str(ep.FailureReason) } : {}),
        console: `${consoleBase}/endpoints/${name}`,
      }
    }
    if (type === 'EC2 Instance State-change Notification') {
      const id = str(d['instance-id'])
      if (!id) return undefined
      const box = parseBox(o.box)
      const status = str(d.state) ?? 'unknown'
      if (box?.instanceId !== id) return { project: o.project, kind: 'ec2', run: id, status, ok: true }
      const duration = seconds(box.launchedAt, event.time ?? o.now())
      const price = o.prices[box.instanceType]
      return {
        project: o.project,
        kind: 'ec2',
        run: `${box.runName} on ${id}`,
        status,
        ok: true,
        ...(duration !== undefined ? { durationSeconds: duration } : {}),
        ...(duration !== undefined && price !== undefined
          ? { costUsd: round((duration * price) / 3600), costBasis: `${duration} s of ${box.instanceType} at $${price}/hour` }
          : {}),
        console: `https://${o.region}.console.aws.amazon.com/ec2/home?region=${o.region}#InstanceDetails:instanceId=${id}`,
      }
    }
    return undefined
  }

  /** The last lines of the job's first log stream (algo-1), oldest first. */
  async function lastLines(logGroup: string, job: string): Promise<{ lastLogLines?: string[] }> {
    try {
      const streams = (await logs().send(new DescribeLogStreamsCommand({ logGroupName: logGroup, logStreamNamePrefix: `${job}/` }))) as {
        logStreams?: { logStreamName?: string }[]
      }
      const stream = streams.logStreams?.map((s) => s.logStreamName).find(Boolean)
      if (!stream) return {}
      const out = (await logs().send(new GetLogEventsCommand({ logGroupName: logGroup, logStreamName: stream, startFromHead: false, limit: LOG_LINES }))) as {
        events?: { message?: string }[]
      }
      const lines = (out.events ?? []).map((e) => (e.message ?? '').replace(/\s+$/, '')).filter(Boolean)
      return lines.length ? { lastLogLines: lines.slice(-LOG_LINES) } : {}
    } catch (e) {
      log(JSON.stringify({ level: 'warn', msg: 'could not read the log', error: errorText(e) }))
      return {}
    }
  }
}

function parseBox(text: string | undefined): { instanceId: string; runName: string; instanceType: string; launchedAt: string } | undefined {
  try {
    const v = JSON.parse(text ?? '') as unknown
    return isObject(v) &&
      typeof v.instanceId === 'string' &&
      typeof v.runName === 'string' &&
      typeof v.instanceType === 'string' &&
      typeof v.launchedAt === 'string'
      ? { instanceId: v.instanceId, runName: v.runName, instanceType: v.instanceType, launchedAt: v.launchedAt }
      : undefined
  } catch {
    return undefined
  }
}

const round = (n: number) => Math.round(n * 100) / 100

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

function scrubUrls(text: string): string {
  return text.replace(/https?:\/\/\S+/g, '<url>')
}

/** `1h 02m`, `4m 05s`, `12s`. */
export function formatSeconds(s: number): string {
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`
  if (m) return `${m}m ${String(sec).padStart(2, '0')}s`
  return `${sec}s`
}

const KIND_WORDS = { training: 'training job', tuning: 'tuning job', ec2: 'train-ec2 box', endpoint: 'endpoint' } as const

/** SNS subjects are at most 100 characters. */
export function subjectOf(m: RunMessage): string {
  return `mlops ${m.project}: ${KIND_WORDS[m.kind]} ${m.run} ${m.status}`.slice(0, 100)
}

export function formatMessage(m: RunMessage): string {
  const lines = [`Run: ${m.run} (${KIND_WORDS[m.kind]} of project ${m.project})`, `Status: ${m.status}`]
  if (m.durationSeconds !== undefined) lines.push(`Duration: ${formatSeconds(m.durationSeconds)}`)
  if (m.costUsd !== undefined) lines.push(`Cost: $${m.costUsd.toFixed(2)} (${m.costBasis})`)
  if (m.metrics)
    lines.push(
      `Final metrics: ${Object.entries(m.metrics)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    )
  if (m.failureReason) lines.push(`Failure reason: ${m.failureReason}`)
  if (m.lastLogLines?.length) lines.push(`Last ${m.lastLogLines.length} log lines:`, ...m.lastLogLines.map((l) => `  ${l}`))
  if (m.console) lines.push(`Console: ${m.console}`)
  return lines.join('\n')
}

/** The function's entry point (`notifier.handler`). */
export const handler = createNotifier()
