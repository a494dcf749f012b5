import {
  DeleteRuleCommand,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  type EventBridgeClient,
  type PutRuleCommandInput,
  type PutTargetsCommandInput,
} from '@aws-sdk/client-eventbridge'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'

/** EventBridge rules on the default bus: put (converges by name), target, find by prefix, delete with targets. */

const ctx = (operation: string, resource: string) => ({ service: 'events', operation, resource })

/** PutRule creates the rule or replaces its pattern and state; returns its ARN. */
export async function putRule(events: EventBridgeClient, input: PutRuleCommandInput): Promise<string> {
  const out = await callAws(ctx('PutRule', input.Name!), () => events.send(new PutRuleCommand(input)))
  return out.RuleArn!
}

/** PutTargets replaces targets with the same Id; a partial failure is an error naming the target. */
export async function putTargets(events: EventBridgeClient, input: PutTargetsCommandInput): Promise<void> {
  const out = await callAws(ctx('PutTargets', input.Rule!), () => events.send(new PutTargetsCommand(input)))
  const failed = out.FailedEntries ?? []
  if (failed.length)
    throw new Error(
      `EventBridge refused target ${failed[0].TargetId} of rule ${input.Rule}: ${failed[0].ErrorCode ?? ''} ${failed[0].ErrorMessage ?? ''}`.trim(),
    )
}

/** The rules on the default bus whose names start with `prefix` (paginated). */
export async function listRulesByPrefix(events: EventBridgeClient, prefix: string): Promise<{ name: string; arn: string; pattern?: string; state?: string }[]> {
  const out: { name: string; arn: string; pattern?: string; state?: string }[] = []
  let NextToken: string | undefined
  for (let page = 0; page < 50; page++) {
    const res = await callAws(ctx('ListRules', prefix), () => events.send(new ListRulesCommand({ NamePrefix: prefix, ...(NextToken ? { NextToken } : {}) })))
    for (const r of res.Rules ?? [])
      if (r.Name && r.Arn)
        out.push({ name: r.Name, arn: r.Arn, ...(r.EventPattern ? { pattern: r.EventPattern } : {}), ...(r.State ? { state: r.State } : {}) })
    NextToken = res.NextToken
    if (!NextToken) break
  }
  return out
}

/** Removes the rule's targets, then the rule; false when it was already gone. */
export async function deleteRule(events: EventBridgeClient, name: string): Promise<boolean> {
  const targets = await callAwsOrUndefined(ctx('ListTargetsByRule', name), () => events.send(new ListTargetsByRuleCommand({ Rule: name })))
  if (!targets) return false
  const ids = (targets.Targets ?? []).flatMap((t) => (t.Id ? [t.Id] : []))
  if (ids.length) await callAws(ctx('RemoveTargets', name), () => events.send(new RemoveTargetsCommand({ Rule: name, Ids: ids })))
  return callAwsIgnoringNotFound(ctx('DeleteRule', name), () => events.send(new DeleteRuleCommand({ Name: name })))
}
