import type { AwsClients } from '../../aws/clients.js'
import { deleteAlarm, describeAlarm } from '../../aws/cloudwatch/alarm.js'
import { getFunctionIfExists } from '../../aws/lambda/project-resources.js'
import { deleteTopic, findTopicByName } from '../../aws/sns/topic.js'
import { idleStopNames } from '../../shared/idle-stop-spec.js'
import type { PlannedOperation } from '../../shared/plan.js'

/**
 * The idle stops (`deploy --idle-stop`) of a project's endpoints, for `status` and `teardown`. The
 * reaper function and role are found and removed with the project's other functions and roles (their
 * names are added there); the alarm and the topic are handled here.
 */

export interface IdleStopInfo {
  readonly endpoint: string
  readonly alarm?: string
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state?: string
  /** Period x evaluation periods. */
  readonly idleSeconds?: number
  readonly topicArn?: string
  readonly functionName: string
  /** The alarm's page in the AWS console (status adds it). */
  readonly consoleUrl?: string
}

/** Reaper function and role names, to add to the functions and roles the inventory looks for. */
export function idleStopResourceNames(endpointNames: readonly string[]): { functions: string[]; roles: string[] } {
  return { functions: endpointNames.map((e) => idleStopNames(e).function), roles: endpointNames.map((e) => idleStopNames(e).role) }
}

/** The idle stop of each endpoint that has any part of one (alarm, topic or reaper). */
export async function collectIdleStops(c: Pick<AwsClients, 'cloudwatch' | 'sns' | 'lambda'>, endpointNames: readonly string[]): Promise<IdleStopInfo[]> {
  const out: IdleStopInfo[] = []
  for (const endpoint of endpointNames) {
    const names = idleStopNames(endpoint)
    // The reaper is looked up first, with the client the inventory uses anyway: no reaper, no idle stop
    // (a half-removed one still has its function until teardown's last step).
    const fn = (await getFunctionIfExists(c.lambda, names.function))?.Configuration?.FunctionArn
    if (!fn) continue
    const alarm = await describeAlarm(c.cloudwatch, names.alarm)
    const topicArn = alarm?.actions.find((a) => a.endsWith(`:${names.topic}`)) ?? (await findTopicByName(c.sns, names.topic))
    out.push({
      endpoint,
      functionName: names.function,
      ...(alarm ? { alarm: alarm.name, ...(alarm.state ? { state: alarm.state } : {}) } : {}),
      ...(alarm?.period && alarm.evaluationPeriods ? { idleSeconds: alarm.period * alarm.evaluationPeriods } : {}),
      ...(topicArn ? { topicArn } : {}),
    })
  }
  return out
}

export function planRemoveIdleStop(s: IdleStopInfo): PlannedOperation[] {
  return [
    ...(s.alarm ? [{ service: 'cloudwatch', operation: 'DeleteAlarms', input: { AlarmNames: [s.alarm] } }] : []),
    ...(s.topicArn
      ? [
          { service: 'sns', operation: 'ListSubscriptionsByTopic', input: { TopicArn: s.topicArn } },
          { service: 'sns', operation: 'Unsubscribe', input: { SubscriptionArn: '<each subscription of the topic>' } },
          { service: 'sns', operation: 'DeleteTopic', input: { TopicArn: s.topicArn } },
        ]
      : []),
  ]
}

/** Alarm first (so it cannot fire mid-teardown), then the topic with its subscriptions. */
export async function removeIdleStop(c: Pick<AwsClients, 'cloudwatch' | 'sns'>, s: IdleStopInfo): Promise<void> {
  if (s.alarm) await deleteAlarm(c.cloudwatch, s.alarm)
  if (s.topicArn) await deleteTopic(c.sns, s.topicArn)
}
