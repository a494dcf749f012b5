import type { AwsClientFactory, AwsClientName, AwsSettings } from '../../src/aws/clients.js'
import { createAwsClientFactory } from '../../src/aws/clients.js'
import { isReadOperation } from '../../src/shared/plan.js'

/** One AWS request a command really sent: the IAM service prefix (as plans write it) and the API operation. */
export interface SentCall {
  readonly service: string
  readonly operation: string
}

/** A planned request as `--dry-run --json` prints it. */
export interface PlanEntry {
  readonly service: string
  readonly operation: string
  readonly read?: boolean
}

/** Client name in `AwsClients` -> the service prefix plans use (IAM's, which the policy will be built from). */
const SERVICE_OF: Record<AwsClientName, string> = {
  s3: 's3',
  sagemaker: 'sagemaker',
  sagemakerRuntime: 'sagemaker-runtime',
  ec2: 'ec2',
  ssm: 'ssm',
  iam: 'iam',
  lambda: 'lambda',
  autoscaling: 'application-autoscaling',
  logs: 'logs',
  sts: 'sts',
  cloudwatch: 'cloudwatch',
  sns: 'sns',
  events: 'events',
  pricing: 'pricing',
  serviceQuotas: 'servicequotas',
}

/**
 * The product's own client factory (one attempt per call), with a middleware on every client it
 * builds that appends each request sent to `sink`. It sits in the `initialize` step, above retries,
 * so a request counts once however often it is retried; waiters and paginators count per page/poll.
 */
export function recordingAwsFactory(sink: SentCall[]): (settings: AwsSettings) => AwsClientFactory {
  return (settings) => {
    const inner = createAwsClientFactory({ ...settings, maxAttempts: 1 })
    const recorded = new WeakSet<object>()
    return (async (names: readonly AwsClientName[]) => {
      const clients = await inner(names)
      for (const name of names) {
        const client = clients[name] as unknown as { middlewareStack: { add: (mw: unknown, opts: object) => void } }
        if (recorded.has(client)) continue
        recorded.add(client)
        client.middlewareStack.add(
          (next: (a: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
            sink.push({ service: SERVICE_OF[name], operation: String(context.commandName).replace(/Command$/, '') })
            return next(args)
          },
          { step: 'initialize', priority: 'high', name: 'mlopsTestRecordSentCalls' },
        )
      }
      return clients
    }) as AwsClientFactory
  }
}

/**
 * What a command sent that its plan does not allow, one line each (empty when they agree):
 * - a mutating request must be planned, and mutating requests must come in the plan's order (a
 *   planned request may be skipped, e.g. a role that already exists, or repeated in place, e.g. one
 *   DeleteModel per old model);
 * - a read (Describe/List/Get/Head...) must be listed, marked as a read; waiters and paginators may
 *   send it any number of times, anywhere.
 */
export function unplannedCalls(label: string, plan: readonly PlanEntry[], sent: readonly SentCall[]): string[] {
  const key = (o: { service: string; operation: string }) => `${o.service}:${o.operation}`
  const problems: string[] = []
  const reads = new Set(plan.filter((o) => o.read).map(key))
  for (const o of plan) {
    if (Boolean(o.read) !== isReadOperation(o.operation)) problems.push(`${label}: plan marks ${key(o)} as ${o.read ? 'a read' : 'mutating'}, but it is not`)
  }
  const writes = plan.filter((o) => !o.read).map(key)
  let at = 0
  for (const s of sent) {
    const k = key(s)
    if (isReadOperation(s.operation)) {
      if (!reads.has(k)) problems.push(`${label}: sent ${k} (a read) that its plan does not list`)
      continue
    }
    const next = writes.indexOf(k, at)
    if (next >= 0) at = next
    else if (writes.includes(k)) problems.push(`${label}: sent ${k} out of the plan's order (after ${writes[at]}; the plan has it earlier)`)
    else problems.push(`${label}: sent ${k} that its plan does not list`)
  }
  return [...new Set(problems)]
}
