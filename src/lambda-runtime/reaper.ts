/**
 * The idle-stop reaper (`mlops deploy --idle-stop`): subscribed to the SNS topic of one endpoint's
 * idle alarm, it deletes that endpoint, and only when the message is that alarm going into ALARM for
 * that endpoint. The endpoint config and model stay, so `mlops deploy` restores the endpoint. Its role
 * may do nothing else (sagemaker:DeleteEndpoint on this one ARN, deregistering the endpoint's
 * autoscaling, and its own logs).
 *
 * The message must come from this alarm's topic (named like the alarm) in this function's own account
 * and region, and name that account: the function ARN in the invocation context says which. A direct
 * invoke with a well-formed message from another account's topic, or a malformed event, is refused
 * and logged, never a TypeError (issue 27).
 *
 * An autoscaled endpoint's scalable target is deregistered first: deleting the endpoint would do it
 * with the caller's permissions anyway (docs: endpoint-delete-with-scaling), and doing it explicitly
 * means a missing permission fails loudly here, before the endpoint is touched.
 *
 * Bundled alone by esbuild; the Node.js runtime provides the AWS SDK v3 clients.
 * Self-contained on purpose: nothing here may import from the rest of mlops.
 */
import { ApplicationAutoScalingClient, DeregisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { DeleteEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'

export interface ReaperDeps {
  /** @default a SageMakerClient created on first use */
  readonly client?: () => Pick<SageMakerClient, 'send'>
  /** @default an ApplicationAutoScalingClient created on first use */
  readonly autoscaling?: () => Pick<ApplicationAutoScalingClient, 'send'>
  /** @default process.env (ENDPOINT_NAME, ALARM_NAME; TOPIC_NAME, default the alarm's name) */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** One structured log line (JSON). @default process.stdout */
  readonly log?: (line: string) => void
}

/** What the reaper did with one SNS record. */
export interface ReaperVerdict {
  readonly action: 'deleted' | 'already-gone' | 'refused'
  readonly endpoint?: string
  readonly alarm?: string
  readonly reason: string
}

interface SnsEvent {
  Records?: { Sns?: { Message?: string; TopicArn?: string } }[]
}

/** The fields of the Lambda context the reaper reads. */
export interface ReaperContext {
  /** arn:<partition>:lambda:<region>:<account>:function:<name>[:<alias>] */
  readonly invokedFunctionArn?: string
}

interface AlarmMessage {
  AlarmName?: string
  AWSAccountId?: string
  AlarmArn?: string
  NewStateValue?: string
  NewStateReason?: string
  Trigger?: { Namespace?: string; MetricName?: string; Dimensions?: { name?: string; value?: string }[] }
}

let defaultClient: SageMakerClient | undefined
let defaultAutoscaling: ApplicationAutoScalingClient | undefined

/** The variant mlops deploys, and so the one scalable target an mlops endpoint can have. */
const VARIANT = 'AllTraffic'

/** Removes the endpoint's autoscaling; true when there was some. */
async function deregisterScaling(client: Pick<ApplicationAutoScalingClient, 'send'>, endpoint: string): Promise<boolean> {
  try {
    await client.send(
      new DeregisterScalableTargetCommand({
        ServiceNamespace: 'sagemaker',
        ResourceId: `endpoint/${endpoint}/variant/${VARIANT}`,
        ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      }),
    )
    return true
  } catch (e) {
    // AWS answers ObjectNotFoundException; some emulators a ValidationException that says so.
    const err = e as { name?: string; message?: string }
    if (err.name === 'ObjectNotFoundException' || (err.name === 'ValidationException' && /no scalable target/i.test(err.message ?? ''))) return false
    throw e
  }
}

/** Why a message must not delete anything, or undefined when it is our alarm firing for our endpoint. */
function refusal(msg: AlarmMessage | undefined, endpoint: string, alarm: string): string | undefined {
  if (!msg) return 'not a CloudWatch alarm notification'
  if (msg.AlarmName !== alarm) return `alarm ${String(msg.AlarmName)} is not ${alarm}`
  if (msg.NewStateValue !== 'ALARM') return `state ${String(msg.NewStateValue)} is not ALARM`
  const dims = msg.Trigger?.Dimensions ?? []
  const named = dims.find((d) => d.name === 'EndpointName')?.value
  if (named !== endpoint) return `the alarm watches endpoint ${String(named)}, not ${endpoint}`
  if (msg.Trigger?.Namespace !== 'AWS/SageMaker' || msg.Trigger?.MetricName !== 'Invocations') return 'the alarm is not on AWS/SageMaker Invocations'
  return undefined
}

/** partition, region and account of an ARN; undefined when it is not one. */
function arnParts(arn: unknown): { partition: string; service: string; region: string; account: string; resource: string } | undefined {
  if (typeof arn !== 'string') return undefined
  const m = /^arn:([\w-]+):([\w-]+):([\w-]*):(\d{12}):(.+)$/.exec(arn)
  return m ? { partition: m[1], service: m[2], region: m[3], account: m[4], resource: m[5] } : undefined
}

/** Why the record did not come from our topic in our account, or undefined when it did. */
function sourceRefusal(topicArn: unknown, msg: AlarmMessage, topicName: string, context: ReaperContext | undefined): string | undefined {
  const topic = arnParts(topicArn)
  if (!topic || topic.service !== 'sns') return 'the record names no SNS topic'
  if (topic.resource !== topicName) return `topic ${topic.resource} is not ${topicName}`
  const self = arnParts(context?.invokedFunctionArn)
  if (!self) return undefined // called as a library (tests): only the topic's name can be checked
  if (topic.account !== self.account || topic.region !== self.region || topic.partition !== self.partition) {
    return `topic ${String(topicArn)} is not in this function's account and region (${self.account}, ${self.region})`
  }
  if (msg.AWSAccountId !== self.account) return `the alarm's account ${String(msg.AWSAccountId)} is not ${self.account}`
  const alarmArn = msg.AlarmArn === undefined ? undefined : arnParts(msg.AlarmArn)
  if (msg.AlarmArn !== undefined && (!alarmArn || alarmArn.account !== self.account || alarmArn.region !== self.region)) {
    return `alarm ${String(msg.AlarmArn)} is not in this function's account and region`
  }
  return undefined
}

function parse(text: unknown): AlarmMessage | undefined {
  if (typeof text !== 'string') return undefined
  try {
    const doc = JSON.parse(text) as unknown
    return doc && typeof doc === 'object' ? (doc as AlarmMessage) : undefined
  } catch {
    return undefined
  }
}

export function createReaper(deps: ReaperDeps = {}) {
  const env = deps.env ?? process.env
  const log = deps.log ?? ((line: string) => process.stdout.write(line + '\n'))
  const client = deps.client ?? (() => (defaultClient ??= new SageMakerClient({})))
  const autoscaling = deps.autoscaling ?? (() => (defaultAutoscaling ??= new ApplicationAutoScalingClient({})))
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  return async (event: SnsEvent | unknown, context?: ReaperContext): Promise<ReaperVerdict[]> => {
    const endpoint = env.ENDPOINT_NAME
    const alarm = env.ALARM_NAME
    if (!endpoint || !alarm) throw new Error('ENDPOINT_NAME and ALARM_NAME must be set')
    const topicName = env.TOPIC_NAME || alarm
    const verdicts: ReaperVerdict[] = []
    const records = isObject(event) ? event.Records : undefined
    if (!Array.isArray(records)) {
      const verdict: ReaperVerdict = { action: 'refused', endpoint, alarm, reason: 'not an SNS event (no Records list)' }
      log(JSON.stringify({ level: 'warn', msg: 'idle stop: refused', ...verdict }))
      return [verdict]
    }
    for (const record of records as unknown[]) {
      const sns = isObject(record) && isObject(record.Sns) ? record.Sns : undefined
      const msg = parse(sns?.Message)
      const why = refusal(msg, endpoint, alarm) ?? sourceRefusal(sns?.TopicArn, msg!, topicName, context)
      let verdict: ReaperVerdict
      if (why) verdict = { action: 'refused', endpoint, alarm, reason: why }
      else {
        const reason = `alarm ${alarm}: ${msg!.NewStateReason ?? 'no invocations'}`
        try {
          await deregisterScaling(autoscaling(), endpoint)
          await client().send(new DeleteEndpointCommand({ EndpointName: endpoint }))
          verdict = { action: 'deleted', endpoint, alarm, reason }
        } catch (e) {
          const err = e as { name?: string; message?: string }
          if (err.name !== 'ValidationException' || !/could not find|not found/i.test(err.message ?? '')) throw e
          verdict = { action: 'already-gone', endpoint, alarm, reason }
        }
      }
      log(JSON.stringify({ level: verdict.action === 'refused' ? 'warn' : 'info', msg: `idle stop: ${verdict.action}`, ...verdict }))
      verdicts.push(verdict)
    }
    return verdicts
  }
}

export const handler = createReaper()
