import { AddPermissionCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import type { PutRuleCommandInput } from '@aws-sdk/client-eventbridge'
import type { PutParameterCommandInput } from '@aws-sdk/client-ssm'
import type { AwsClients } from '../clients.js'
import type { Clock } from '../../shared/clock.js'
import { isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import { ensureRole, type IamRoleSpec } from '../iam/roles.js'
import { putParameter } from '../ssm/parameter.js'
import { ensureSubscriberFunction, type SubscriberFunctionSpec } from '../sns/subscriber-function.js'
import { createTopic, subscribeEmails } from '../sns/topic.js'
import { putRule, putTargets } from './event-rules.js'

/**
 * Arms run notifications from plain values (shared/notify-spec.ts builds them): the notifier's role,
 * the topic and its e-mail subscriptions, the webhook URL as a SecureString, the notifier function,
 * then the rule, the permission that lets that rule (only) invoke the function, and the target. The
 * rule comes last, so no event reaches a function that is not there yet. Every step converges.
 */

type Tags = readonly { Key: string; Value: string }[]

export interface NotificationsSpec {
  readonly role: IamRoleSpec
  /** The project's topic, when there are e-mail addresses. */
  readonly topic?: { readonly name: string; readonly tags: Tags; readonly emails: readonly string[] }
  /** The webhook URL's parameter (its value is the secret), when there is a webhook. */
  readonly webhook?: { readonly input: PutParameterCommandInput; readonly tags: Tags }
  /** The function, without its role ARN (the role's, once ensured). */
  readonly fn: Omit<SubscriberFunctionSpec, 'zip' | 'roleArn'>
  readonly zip: Uint8Array
  readonly rule: PutRuleCommandInput
  /** The AddPermission request that lets this rule invoke the function. */
  readonly permission: { FunctionName: string; StatementId: string; Action: string; Principal: string; SourceArn: string }
  readonly targetId: string
}

export interface ArmedNotifications {
  readonly roleArn: string
  readonly topicArn?: string
  readonly subscriptions: readonly { address: string; pending: boolean }[]
  readonly functionArn: string
  readonly ruleArn: string
  readonly rule: string
}

export async function armNotifications(
  c: Pick<AwsClients, 'iam' | 'sns' | 'ssm' | 'lambda' | 'events'>,
  spec: NotificationsSpec,
  opts: { clock: Clock; signal?: AbortSignal },
): Promise<ArmedNotifications> {
  const role = await ensureRole(c.iam, spec.role)
  let topicArn: string | undefined
  let subscriptions: { address: string; pending: boolean }[] = []
  if (spec.topic) {
    topicArn = await createTopic(c.sns, spec.topic.name, spec.topic.tags)
    subscriptions = await subscribeEmails(c.sns, topicArn, spec.topic.emails)
  }
  if (spec.webhook) await putParameter(c.ssm, spec.webhook.input, spec.webhook.tags)
  const functionArn = await ensureSubscriberFunction(c.lambda, { ...spec.fn, roleArn: role.arn, zip: spec.zip }, opts)
  const ruleArn = await putRule(c.events, spec.rule)
  await allowRule(c.lambda, spec.permission)
  await putTargets(c.events, { Rule: spec.rule.Name, Targets: [{ Id: spec.targetId, Arn: functionArn }] })
  return { roleArn: role.arn, ...(topicArn ? { topicArn } : {}), subscriptions, functionArn, ruleArn, rule: spec.rule.Name! }
}

/** Lets one rule invoke the function; an existing statement (a re-run) is kept: its SourceArn is the same rule, by name. */
async function allowRule(lambda: LambdaClient, input: NotificationsSpec['permission']): Promise<void> {
  try {
    await lambda.send(new AddPermissionCommand(input))
  } catch (e) {
    if (isAwsErrorNamed(e, 'ResourceConflictException')) return
    throw translateAwsError(e, { service: 'lambda', operation: 'AddPermission', resource: input.FunctionName })
  }
}
