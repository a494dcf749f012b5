import { projectTagMap, projectTags, resourceNames } from './naming.js'
import { runNamePattern } from './project-ownership.js'
import { endpointArn } from './roles/lambda-role.js'
import { planRole, serviceTrustPolicy, type PolicyDocument, type PolicyStatement, type RoleSpec, type RoleTarget } from './roles/policy.js'
import type { PlannedOperation } from './plan.js'
import type { StateRecord } from './state.js'
import type { NotifyDestination } from '../config/sections/notify.js'

export type { NotifyDestination }

/**
 * Run notifications (`--notify` on train, tune, train-ec2 and deploy; `notify:` in the config), as
 * plain data for the commands that arm them, `status` that shows them and `teardown` that removes them.
 *
 * Nothing of mlops needs to run: one EventBridge rule per kind of run (per project) matches the run's
 * end (SageMaker job state changes in a terminal state, the train-ec2 box terminated, the endpoint's
 * status settling) and invokes the project's notifier function (src/lambda-runtime/notifier.ts), which
 * describes the run (status, final metrics, duration, cost, failure reason and the last log lines) and
 * publishes to the project's SNS topic (e-mail subscribers), to existing topics, and POSTs a webhook.
 * A webhook URL is a secret: it lives in an SSM SecureString that only the notifier's role may read;
 * plans, results and messages show `<webhook: stored in SSM ...>` instead.
 */

/** What a rule watches: a SageMaker training job, a tuning job, the train-ec2 box, an endpoint. */
export type NotifyKind = 'training' | 'tuning' | 'ec2' | 'endpoint'
export const NOTIFY_KINDS: readonly NotifyKind[] = ['training', 'tuning', 'ec2', 'endpoint']

/** The Id of the notifier in each rule's targets. */
export const NOTIFY_TARGET_ID = 'mlops-notifier'

/** SageMaker job states that end a run (the events also fire for InProgress and Stopping). */
export const TERMINAL_JOB_STATES = ['Completed', 'Failed', 'Stopped'] as const

/** Names of everything notifications create for one project (the project name is at most 32 characters). */
export function notifyNames(project: string) {
  const base = `${project}-notify`
  return {
    topic: base,
    function: base,
    role: base,
    policy: 'mlops-notify',
    parameter: `/mlops/${project}/notify-webhook`,
    rulePrefix: `${base}-`,
    rule: (kind: NotifyKind) => `${base}-${kind}`,
    /** lambda AddPermission statement per rule: only that rule may invoke the function. */
    statement: (kind: NotifyKind) => `mlops-notify-${kind}`,
  } as const
}

/** How a destination is shown in plans, results and messages: a webhook never by its URL. */
export function describeDestination(d: NotifyDestination, project: string): string {
  if (d.kind === 'email') return d.address
  if (d.kind === 'topic') return d.arn
  return `<webhook: stored in SSM ${notifyNames(project).parameter}>`
}

/** What one command arms: the kind of run, and what names it (job name prefix, instance id, endpoint). */
export interface NotifyRun {
  readonly kind: NotifyKind
  /** training/tuning: the job name prefix of the project; ec2: the instance id; endpoint: its name. */
  readonly match: string
  /** Instance type -> USD per hour, for the cost line of the message. @default {} */
  readonly prices?: Readonly<Record<string, number>>
  /** train-ec2: the box, so the message names the run and its duration (EventBridge gives the instance id only). */
  readonly box?: { readonly instanceId: string; readonly runName: string; readonly instanceType: string; readonly launchedAt: string }
}

/** Everything the arming needs besides clients and the zip. */
export interface NotifySettings extends RoleTarget {
  readonly project: string
  readonly destinations: readonly NotifyDestination[]
  readonly run: NotifyRun
  /** The endpoint whose status the notifier may describe (the project's endpoint name). */
  readonly endpointName: string
  readonly trainingJobPrefix: string
  readonly tuningJobPrefix: string
  readonly runtime: string
}

/** The event pattern of one kind's rule: the run's end, nothing else. */
export function eventPattern(run: Pick<NotifyRun, 'kind' | 'match'>): Record<string, unknown> {
  switch (run.kind) {
    case 'training':
      return {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Training Job State Change'],
        detail: { TrainingJobName: [{ prefix: run.match }], TrainingJobStatus: [...TERMINAL_JOB_STATES] },
      }
    case 'tuning':
      return {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker HyperParameter Tuning Job State Change'],
        detail: { HyperParameterTuningJobName: [{ prefix: run.match }], HyperParameterTuningJobStatus: [...TERMINAL_JOB_STATES] },
      }
    case 'ec2':
      return { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { 'instance-id': [run.match], state: ['terminated'] } }
    case 'endpoint':
      // The endpoint event spells its status IN_SERVICE/FAILED; both spellings are matched so a change
      // in the event's case cannot silence the notification.
      return {
        source: ['aws.sagemaker'],
        'detail-type': ['SageMaker Endpoint State Change'],
        detail: { EndpointName: [run.match], EndpointStatus: ['IN_SERVICE', 'FAILED', 'InService', 'Failed'] },
      }
  }
}

const arn = (s: RoleTarget, service: string, resource: string, region = s.region) => `arn:${s.partition}:${service}:${region}:${s.accountId}:${resource}`

/** The project topic's ARN (e-mail subscribers). */
export function notifyTopicArn(s: NotifySettings): string {
  return arn(s, 'sns', notifyNames(s.project).topic)
}

export function notifyFunctionArn(s: NotifySettings): string {
  return arn(s, 'lambda', `function:${notifyNames(s.project).function}`)
}

export function notifyRuleArn(s: NotifySettings, kind: NotifyKind): string {
  return arn(s, 'events', `rule/${notifyNames(s.project).rule(kind)}`)
}

/** The topics the notifier publishes to: the project's (when there are e-mail addresses) and the ones named. */
export function publishTopics(s: NotifySettings): string[] {
  const own = s.destinations.some((d) => d.kind === 'email') ? [notifyTopicArn(s)] : []
  return [...own, ...s.destinations.flatMap((d) => (d.kind === 'topic' ? [d.arn] : []))]
}

export const hasWebhook = (s: Pick<NotifySettings, 'destinations'>) => s.destinations.some((d) => d.kind === 'webhook')

/** The log group SageMaker training jobs write to (the failure message quotes its last lines). */
const TRAINING_LOG_GROUP = '/aws/sagemaker/TrainingJobs'

/**
 * The notifier may publish to its topics, read its one parameter, describe this project's jobs and
 * endpoint, read the last lines of this project's training logs and write its own logs. Nothing else.
 */
export function notifierPolicy(s: NotifySettings): PolicyDocument {
  const names = notifyNames(s.project)
  const statements: PolicyStatement[] = []
  const topics = publishTopics(s)
  if (topics.length) statements.push({ Sid: 'PublishToOwnTopics', Effect: 'Allow', Action: 'sns:Publish', Resource: topics })
  if (hasWebhook(s)) {
    // The parameter uses the account's aws/ssm key, whose key policy lets SSM decrypt for any
    // principal of the account allowed GetParameter: this grant is the only one needed, and the only one given.
    statements.push({ Sid: 'ReadWebhookUrl', Effect: 'Allow', Action: 'ssm:GetParameter', Resource: arn(s, 'ssm', `parameter${names.parameter}`) })
  }
  // SageMaker puts names in ARNs in lower case.
  statements.push({
    Sid: 'DescribeOwnRuns',
    Effect: 'Allow',
    Action: ['sagemaker:DescribeTrainingJob', 'sagemaker:DescribeHyperParameterTuningJob', 'sagemaker:DescribeEndpoint'],
    Resource: [
      arn(s, 'sagemaker', `training-job/${s.trainingJobPrefix.toLowerCase()}*`),
      arn(s, 'sagemaker', `hyper-parameter-tuning-job/${s.tuningJobPrefix.toLowerCase()}*`),
      endpointArn(s.endpointName, s),
    ],
  })
  // CloudWatch Logs authorises DescribeLogStreams against `log-group:<name>:log-stream:` (the group's
  // `:*` form matches it); it lists stream names only, and the notifier asks for the job's prefix.
  statements.push({
    Sid: 'FindTrainingLogStreams',
    Effect: 'Allow',
    Action: 'logs:DescribeLogStreams',
    Resource: arn(s, 'logs', `log-group:${TRAINING_LOG_GROUP}:*`),
  })
  // The lines themselves: only this project's jobs' streams.
  statements.push({
    Sid: 'ReadOwnTrainingLogs',
    Effect: 'Allow',
    Action: 'logs:GetLogEvents',
    Resource: arn(s, 'logs', `log-group:${TRAINING_LOG_GROUP}:log-stream:${s.trainingJobPrefix}*`),
  })
  statements.push({
    Sid: 'WriteOwnLogs',
    Effect: 'Allow',
    Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
    Resource: arn(s, 'logs', `log-group:/aws/lambda/${names.function}:*`),
  })
  return { Version: '2012-10-17', Statement: statements }
}

export function notifierRoleSpec(s: NotifySettings): RoleSpec {
  const names = notifyNames(s.project)
  return {
    name: names.role,
    description: `mlops notifications of project ${s.project}: describe its runs, publish their end`,
    trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', s.accountId),
    inlinePolicies: { [names.policy]: notifierPolicy(s) },
    managedPolicyArns: [],
    tags: projectTags(s.project),
  }
}

/** The notifier's environment: where to publish and what it may describe; never the webhook URL itself. */
export function notifierEnvironment(s: NotifySettings): Record<string, string> {
  return {
    PROJECT: s.project,
    // The exact names of this project's runs: the rules match by prefix, which another project's names may share.
    RUN_NAMES: JSON.stringify({ training: runNamePattern(s.project, 'training-job'), tuning: runNamePattern(s.project, 'tuning-job') }),
    TOPIC_ARNS: publishTopics(s).join(','),
    ...(hasWebhook(s) ? { WEBHOOK_PARAMETER: notifyNames(s.project).parameter } : {}),
    TRAINING_LOG_GROUP,
    PRICES: JSON.stringify(s.run.prices ?? {}),
    ...(s.run.box ? { EC2_BOX: JSON.stringify(s.run.box) } : {}),
  }
}

export const NOTIFIER_HANDLER = 'notifier.handler'

/** The notifier function as plain values, less its role's ARN (aws/sns/subscriber-function.ts creates or converges it). */
export function notifierFunctionSpec(s: NotifySettings) {
  return {
    name: notifyNames(s.project).function,
    runtime: s.runtime,
    handler: NOTIFIER_HANDLER,
    description: `mlops notifications of project ${s.project}: tells ${s.destinations.length} destination(s) when a run ends`,
    environment: notifierEnvironment(s),
    tags: projectTagMap(s.project),
  }
}

/** The PutRule request of the run's kind. */
export function putRuleInput(s: NotifySettings) {
  const name = notifyNames(s.project).rule(s.run.kind)
  return {
    Name: name,
    EventPattern: JSON.stringify(eventPattern(s.run)),
    State: 'ENABLED' as const,
    Description: `mlops ${s.project}: tell the notifier when a ${s.run.kind} run ends`,
    Tags: projectTags(s.project),
  }
}

export function putTargetsInput(s: NotifySettings) {
  return { Rule: notifyNames(s.project).rule(s.run.kind), Targets: [{ Id: NOTIFY_TARGET_ID, Arn: notifyFunctionArn(s) }] }
}

export function eventsPermissionInput(s: NotifySettings) {
  return {
    FunctionName: notifyNames(s.project).function,
    StatementId: notifyNames(s.project).statement(s.run.kind),
    Action: 'lambda:InvokeFunction',
    Principal: 'events.amazonaws.com',
    SourceArn: notifyRuleArn(s, s.run.kind),
  }
}

/** The PutParameter request; `value` is the URL when sent and a placeholder in plans. */
export function putWebhookInput(project: string, value: string) {
  return {
    Name: notifyNames(project).parameter,
    Description: `mlops ${project}: the notification webhook URL (read by the notifier function only)`,
    Value: value,
    Type: 'SecureString' as const,
    Overwrite: true,
  }
}

/** The requests of arming, in the order they are sent (role, topic and subscriptions, secret, function, rule). */
export function planNotify(s: NotifySettings): PlannedOperation[] {
  const names = notifyNames(s.project)
  const topicArn = notifyTopicArn(s)
  const emails = s.destinations.flatMap((d) => (d.kind === 'email' ? [d.address] : []))
  const fn = { ...notifierFunctionSpec(s), roleArn: arn(s, 'iam', `role/${names.role}`, '') }
  return [
    ...planRole(notifierRoleSpec(s)),
    ...(emails.length
      ? [
          { service: 'sns', operation: 'CreateTopic', input: { Name: names.topic, Tags: projectTags(s.project) } },
          { service: 'sns', operation: 'ListSubscriptionsByTopic', input: { TopicArn: topicArn }, note: 'addresses already subscribed are kept' },
          ...emails.map((Endpoint) => ({
            service: 'sns',
            operation: 'Subscribe',
            input: { TopicArn: topicArn, Protocol: 'email', Endpoint, ReturnSubscriptionArn: true },
            note: 'AWS e-mails a confirmation link: no message arrives until it is clicked',
          })),
        ]
      : []),
    ...(hasWebhook(s)
      ? [
          { service: 'ssm', operation: 'PutParameter', input: putWebhookInput(s.project, describeDestination({ kind: 'webhook', url: '' }, s.project)) },
          { service: 'ssm', operation: 'AddTagsToResource', input: { ResourceType: 'Parameter', ResourceId: names.parameter, Tags: projectTags(s.project) } },
        ]
      : []),
    { service: 'lambda', operation: 'GetFunction', input: { FunctionName: names.function } },
    {
      service: 'lambda',
      operation: 'CreateFunction',
      input: { ...createNotifierInput(fn), Code: { ZipFile: '<notifier.js zip>' } },
      note: 'or converge its configuration and code, each update awaited',
    },
    { service: 'lambda', operation: 'GetFunctionConfiguration', input: { FunctionName: names.function }, note: 'until an update settles' },
    { service: 'lambda', operation: 'UpdateFunctionConfiguration', input: updateNotifierInput(fn), note: 'existing function whose configuration differs' },
    { service: 'lambda', operation: 'UpdateFunctionCode', input: { FunctionName: names.function, ZipFile: '<notifier.js zip>' }, note: 'existing function' },
    { service: 'events', operation: 'PutRule', input: putRuleInput(s) },
    { service: 'lambda', operation: 'AddPermission', input: eventsPermissionInput(s), note: 'kept when already there' },
    { service: 'events', operation: 'PutTargets', input: putTargetsInput(s) },
  ]
}

/** Memory and timeout: a few describes, one log read, a publish and a POST. */
const NOTIFIER_MEMORY_MB = 128
const NOTIFIER_TIMEOUT_SECONDS = 30

type NotifierFunction = ReturnType<typeof notifierFunctionSpec> & { readonly roleArn: string }

/** The UpdateFunctionConfiguration request the plan shows: what mlops decides about the function besides its code. */
function updateNotifierInput(f: NotifierFunction) {
  return {
    FunctionName: f.name,
    Runtime: f.runtime,
    Handler: f.handler,
    Role: f.roleArn,
    Description: f.description,
    MemorySize: NOTIFIER_MEMORY_MB,
    Timeout: NOTIFIER_TIMEOUT_SECONDS,
    Environment: { Variables: { ...f.environment } },
  }
}

/** CreateFunction: the same configuration, plus the package type and tags. */
function createNotifierInput(f: NotifierFunction) {
  return { ...updateNotifierInput(f), PackageType: 'Zip', Tags: { ...f.tags } }
}

/** The training and tuning job prefixes and endpoint name of a project, for NotifySettings. */
export function notifyScope(cfg: Parameters<typeof resourceNames>[0]) {
  const n = resourceNames(cfg)
  return { endpointName: n.endpoint, trainingJobPrefix: n.trainingJobBase, tuningJobPrefix: n.tuningJobBase }
}

/**
 * The plain values aws/events/notifications.ts armNotifications converges (its NotificationsSpec),
 * with the webhook URL as the parameter's value: the only place the URL goes.
 */
export function notificationsSpec(s: NotifySettings, zip: Uint8Array) {
  const names = notifyNames(s.project)
  const emails = s.destinations.flatMap((d) => (d.kind === 'email' ? [d.address] : []))
  const webhook = s.destinations.find((d) => d.kind === 'webhook')
  return {
    role: notifierRoleSpec(s),
    ...(emails.length ? { topic: { name: names.topic, tags: projectTags(s.project), emails } } : {}),
    ...(webhook ? { webhook: { input: putWebhookInput(s.project, webhook.url), tags: projectTags(s.project) } } : {}),
    fn: notifierFunctionSpec(s),
    zip,
    rule: putRuleInput(s),
    permission: eventsPermissionInput(s),
    targetId: NOTIFY_TARGET_ID,
  }
}

/** What arming left, for people: where the message goes and which e-mail addresses must confirm first. */
export interface NotifySummary {
  /** The rule that watches this run. */
  readonly rule: string
  /** Each destination as shown (a webhook by its parameter). */
  readonly destinations: readonly string[]
  /** E-mail addresses that have not followed AWS's confirmation link yet. */
  readonly pendingConfirmation: readonly string[]
}

export function notifySummary(s: NotifySettings, subscriptions: readonly { address: string; pending: boolean }[]): NotifySummary {
  return {
    rule: notifyNames(s.project).rule(s.run.kind),
    destinations: s.destinations.map((d) => describeDestination(d, s.project)),
    pendingConfirmation: subscriptions.filter((x) => x.pending).map((x) => x.address),
  }
}

/** The lines a command prints after arming (stderr). */
export function notifyLines(n: NotifySummary): string[] {
  const lines = [`Notifications armed (rule ${n.rule}): ${n.destinations.join(', ')} will hear when this run ends, whether mlops is running or not.`]
  if (n.pendingConfirmation.length)
    lines.push(
      `AWS sent a confirmation e-mail to ${n.pendingConfirmation.join(', ')}: no message arrives there until its link is followed (\`mlops status\` lists pending ones).`,
    )
  return lines
}

/** NotifySettings for one project and run. */
export function notifySettings(
  cfg: Parameters<typeof resourceNames>[0],
  destinations: readonly NotifyDestination[],
  run: NotifyRun,
  where: RoleTarget & { readonly runtime: string },
): NotifySettings {
  return { ...where, project: cfg.project.name, destinations, run, ...notifyScope(cfg) }
}

/** The destinations a run uses: the flag's (`--notify`, repeatable) when given, else the config's `notify:`. */
export function destinationsOf(configured: readonly NotifyDestination[], flag: readonly NotifyDestination[] | undefined): readonly NotifyDestination[] {
  return flag ?? configured
}

/**
 * The notifier function as the state file records it: its region and its (global) role, so a teardown
 * in another region keeps the role this function still uses (features/project/other-regions.ts).
 */
export function notifierStateRecord(s: NotifySettings, functionArn: string, now: number): StateRecord {
  const names = notifyNames(s.project)
  return {
    kind: 'function',
    name: names.function,
    arn: functionArn,
    region: s.region,
    createdAt: new Date(now).toISOString(),
    details: { roleName: names.role },
  }
}
