import type { AwsClients } from '../../aws/clients.js'
import { deleteRule, listRulesByPrefix } from '../../aws/events/event-rules.js'
import { deleteParameter, parameterExists } from '../../aws/ssm/parameter.js'
import { deleteTopic, findTopicByName, listSubscriptionsWithPending } from '../../aws/sns/topic.js'
import { NOTIFY_KINDS, notifyNames } from '../../shared/notify-spec.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { partitionOf } from '../../aws/arn.js'

/**
 * The run notifications of a project (`--notify`), for `status` and `teardown`: its EventBridge rules,
 * its topic with the subscriptions (pending confirmation ones included), the webhook parameter. The
 * notifier function and role are found and removed with the project's other functions and roles.
 */

export interface NotifyInfo {
  readonly rules: readonly string[]
  readonly topicArn?: string
  /** E-mail (and other) subscriptions of the project topic; `pending` until the owner confirms. */
  readonly subscriptions: readonly { readonly protocol?: string; readonly endpoint?: string; readonly pending: boolean }[]
  /** The SSM parameter holding the webhook URL (never its value). */
  readonly webhookParameter?: string
}

/** Function and role names to add to those the inventory looks for. */
export function notifyResourceNames(project: string): { functions: string[]; roles: string[] } {
  const n = notifyNames(project)
  return { functions: [n.function], roles: [n.role] }
}

/** What exists of the project's notifications; undefined when nothing does. */
export async function collectNotifications(c: Pick<AwsClients, 'events' | 'sns' | 'ssm'>, project: string): Promise<NotifyInfo | undefined> {
  const n = notifyNames(project)
  const rules = (await listRulesByPrefix(c.events, n.rulePrefix)).map((r) => r.name).filter((name) => NOTIFY_KINDS.some((k) => n.rule(k) === name))
  const topicArn = await findTopicByName(c.sns, n.topic)
  const subscriptions = topicArn
    ? (await listSubscriptionsWithPending(c.sns, topicArn)).map((s) => ({
        pending: s.pending,
        ...(s.protocol ? { protocol: s.protocol } : {}),
        ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      }))
    : []
  const webhook = await parameterExists(c.ssm, n.parameter)
  if (!rules.length && !topicArn && !webhook) return undefined
  return { rules, ...(topicArn ? { topicArn } : {}), subscriptions, ...(webhook ? { webhookParameter: n.parameter } : {}) }
}

/** The reads collectNotifications makes, for the plans of status and teardown. */
export function planNotifyReads(project: string, region: string): PlannedOperation[] {
  const n = notifyNames(project)
  return [
    { service: 'events', operation: 'ListRules', input: { NamePrefix: n.rulePrefix } },
    { service: 'sns', operation: 'ListTopics', input: {}, note: `looking for ${n.topic}` },
    {
      service: 'sns',
      operation: 'ListSubscriptionsByTopic',
      input: { TopicArn: `arn:${partitionOf(region)}:sns:${region}:${PLACEHOLDER.accountId}:${n.topic}` },
      note: 'when it exists',
    },
    { service: 'ssm', operation: 'DescribeParameters', input: { ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [n.parameter] }] } },
  ]
}

export function planRemoveNotifications(i: NotifyInfo): PlannedOperation[] {
  return [
    ...i.rules.flatMap((Rule) => [
      { service: 'events', operation: 'ListTargetsByRule', input: { Rule } },
      { service: 'events', operation: 'RemoveTargets', input: { Rule, Ids: ['<each target of the rule>'] } },
      { service: 'events', operation: 'DeleteRule', input: { Name: Rule } },
    ]),
    ...(i.topicArn
      ? [
          { service: 'sns', operation: 'GetTopicAttributes', input: { TopicArn: i.topicArn } },
          { service: 'sns', operation: 'ListSubscriptionsByTopic', input: { TopicArn: i.topicArn } },
          { service: 'sns', operation: 'Unsubscribe', input: { SubscriptionArn: '<each confirmed subscription of the topic>' } },
          { service: 'sns', operation: 'DeleteTopic', input: { TopicArn: i.topicArn } },
        ]
      : []),
    ...(i.webhookParameter ? [{ service: 'ssm', operation: 'DeleteParameter', input: { Name: i.webhookParameter } }] : []),
  ]
}

/** Rules first (so nothing fires into a half-removed chain), then the topic with its subscriptions, then the secret. */
export async function removeNotifications(c: Pick<AwsClients, 'events' | 'sns' | 'ssm'>, i: NotifyInfo): Promise<void> {
  for (const rule of i.rules) await deleteRule(c.events, rule)
  if (i.topicArn) await deleteTopic(c.sns, i.topicArn)
  if (i.webhookParameter) await deleteParameter(c.ssm, i.webhookParameter)
}
