import {
  CreateTopicCommand,
  DeleteTopicCommand,
  GetTopicAttributesCommand,
  ListSubscriptionsByTopicCommand,
  ListTopicsCommand,
  SubscribeCommand,
  UnsubscribeCommand,
  type SNSClient,
} from '@aws-sdk/client-sns'
import { callAws, callAwsOrUndefined, isAwsErrorNamed } from '../error-translation.js'

/** SNS topics with Lambda subscribers: create (idempotent by name), subscribe, find, delete. */

const ctx = (operation: string, resource: string) => ({ service: 'sns', operation, resource })

/** CreateTopic returns the existing topic's ARN when the name exists (same attributes), so a re-run converges. */
export async function createTopic(sns: SNSClient, name: string, tags: readonly { Key: string; Value: string }[]): Promise<string> {
  const out = await callAws(ctx('CreateTopic', name), () => sns.send(new CreateTopicCommand({ Name: name, Tags: [...tags] })))
  return out.TopicArn!
}

/** The topic's ARN when it exists. */
export async function findTopic(sns: SNSClient, topicArn: string): Promise<string | undefined> {
  try {
    const out = await callAwsOrUndefined(ctx('GetTopicAttributes', topicArn), () => sns.send(new GetTopicAttributesCommand({ TopicArn: topicArn })))
    return out ? topicArn : undefined
  } catch (e) {
    if (isAwsErrorNamed(e, 'NotFound', 'NotFoundException')) return undefined
    throw e
  }
}

export async function listSubscriptions(sns: SNSClient, topicArn: string): Promise<{ arn: string; protocol?: string; endpoint?: string }[]> {
  const out = await callAws(ctx('ListSubscriptionsByTopic', topicArn), () => sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn })))
  return (out.Subscriptions ?? [])
    .filter((s) => s.SubscriptionArn && s.SubscriptionArn !== 'PendingConfirmation')
    .map((s) => ({ arn: s.SubscriptionArn!, ...(s.Protocol ? { protocol: s.Protocol } : {}), ...(s.Endpoint ? { endpoint: s.Endpoint } : {}) }))
}

/** Subscribes the function to the topic, once (an existing subscription is kept). */
export async function subscribeLambda(sns: SNSClient, topicArn: string, functionArn: string): Promise<string> {
  const existing = (await listSubscriptions(sns, topicArn)).find((s) => s.protocol === 'lambda' && s.endpoint === functionArn)
  if (existing) return existing.arn
  const out = await callAws(ctx('Subscribe', topicArn), () =>
    sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'lambda', Endpoint: functionArn, ReturnSubscriptionArn: true })),
  )
  return out.SubscriptionArn!
}

/** Removes every subscription, then the topic; false when the topic was already gone. */
export async function deleteTopic(sns: SNSClient, topicArn: string): Promise<boolean> {
  if (!(await findTopic(sns, topicArn))) return false
  for (const s of await listSubscriptions(sns, topicArn)) {
    await callAws(ctx('Unsubscribe', s.arn), () => sns.send(new UnsubscribeCommand({ SubscriptionArn: s.arn })))
  }
  await callAws(ctx('DeleteTopic', topicArn), () => sns.send(new DeleteTopicCommand({ TopicArn: topicArn })))
  return true
}

/** The ARN of the topic with this name in the client's account and region, if any (ListTopics, paginated). */
export async function findTopicByName(sns: SNSClient, name: string): Promise<string | undefined> {
  let NextToken: string | undefined
  for (let page = 0; page < 100; page++) {
    const out = await callAws(ctx('ListTopics', name), () => sns.send(new ListTopicsCommand({ ...(NextToken ? { NextToken } : {}) })))
    const hit = out.Topics?.find((t) => t.TopicArn?.endsWith(`:${name}`))
    if (hit?.TopicArn) return hit.TopicArn
    NextToken = out.NextToken
    if (!NextToken) return undefined
  }
  return undefined
}

/** Every subscription of the topic, pending confirmation included (SNS lists those with SubscriptionArn "PendingConfirmation"). */
export async function listSubscriptionsWithPending(
  sns: SNSClient,
  topicArn: string,
): Promise<{ protocol?: string; endpoint?: string; pending: boolean; arn?: string }[]> {
  const out: { protocol?: string; endpoint?: string; pending: boolean; arn?: string }[] = []
  let NextToken: string | undefined
  for (let page = 0; page < 50; page++) {
    const res = await callAws(ctx('ListSubscriptionsByTopic', topicArn), () =>
      sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(NextToken ? { NextToken } : {}) })),
    )
    for (const s of res.Subscriptions ?? []) {
      const pending = s.SubscriptionArn === 'PendingConfirmation'
      out.push({
        pending,
        ...(s.Protocol ? { protocol: s.Protocol } : {}),
        ...(s.Endpoint ? { endpoint: s.Endpoint } : {}),
        ...(pending ? {} : { arn: s.SubscriptionArn }),
      })
    }
    NextToken = res.NextToken
    if (!NextToken) break
  }
  return out
}

/**
 * Subscribes each address that is not subscribed yet (confirmed or pending: a second Subscribe would
 * send another confirmation e-mail). Returns each address with whether it still awaits confirmation.
 */
export async function subscribeEmails(sns: SNSClient, topicArn: string, addresses: readonly string[]): Promise<{ address: string; pending: boolean }[]> {
  const existing = (await listSubscriptionsWithPending(sns, topicArn)).filter((s) => s.protocol === 'email')
  const out: { address: string; pending: boolean }[] = []
  for (const address of addresses) {
    const found = existing.find((s) => s.endpoint?.toLowerCase() === address.toLowerCase())
    if (found) {
      out.push({ address, pending: found.pending })
      continue
    }
    await callAws(ctx('Subscribe', topicArn), () =>
      sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'email', Endpoint: address, ReturnSubscriptionArn: true })),
    )
    // A new e-mail subscription always waits for its owner to follow the link AWS sends.
    out.push({ address, pending: true })
  }
  return out
}
