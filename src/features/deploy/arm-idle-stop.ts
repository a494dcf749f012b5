import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { partitionOf } from '../../aws/arn.js'
import type { AwsClients } from '../../aws/clients.js'
import { alarmOkInput, putAlarm, resetAlarm } from '../../aws/cloudwatch/alarm.js'
import { ensureRole } from '../../aws/iam/roles.js'
import { REAPER_LAMBDA_RUNTIME } from '../../aws/lifecycle.js'
import { serviceTrustPolicy, type RoleSpec } from '../../shared/roles/policy.js'
import { allowTopic, createSubscriberInput, ensureSubscriberFunction, snsPermissionInput } from '../../aws/sns/subscriber-function.js'
import { createTopic, subscribeLambda } from '../../aws/sns/topic.js'
import { getAccountId } from '../../aws/sts/account.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import type { Clock } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { idleAlarmInput, idlePeriods, idleStopNames, reaperEnvironment, reaperPolicy } from '../../shared/idle-stop-spec.js'
import { projectTagMap, projectTags } from '../../shared/naming.js'
import { loadLambdaBundle, writeLambdaBundle, type LambdaBundle } from '../../shared/lambda-bundle.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { createZip } from '../../shared/zip-writer.js'

/**
 * `deploy --idle-stop 2h`: after the endpoint is InService, arm the alarm, the topic and the reaper
 * (see src/shared/idle-stop-spec.ts for the design). Every step converges, so a re-deploy re-arms it.
 */

export const REAPER_HANDLER = 'reaper.handler'

/** Why deploy puts the alarm back to OK (shown in the alarm's history). */
const REARM_REASON = 'mlops deploy armed the idle stop: the idle time counts from now'

export interface IdleStopSettings {
  readonly project: string
  readonly endpointName: string
  readonly idleSeconds: number
  readonly region: string
  readonly accountId: string
}

export interface IdleStopResult {
  readonly alarm: string
  readonly topicArn: string
  readonly subscriptionArn: string
  readonly functionArn: string
  readonly roleArn: string
  /** The idle time the alarm covers (rounded up to whole minutes). */
  readonly idleSeconds: number
  readonly period: number
  readonly evaluationPeriods: number
}

/** src/lambda-runtime/reaper.ts, bundled for the runtime its function is created with. */
export function reaperBundle(): LambdaBundle {
  return {
    entry: path.join('src', 'lambda-runtime', 'reaper.ts'),
    runtime: REAPER_LAMBDA_RUNTIME,
    prebuilt: fileURLToPath(new URL('../../lambda-runtime/reaper.bundle.js', import.meta.url)),
    what: 'idle-stop reaper',
    missingCode: 'ReaperBundleMissing',
  }
}

/**
 * Bundles the reaper into `outFile` (`npm run build`, scripts-dev/postbuild.mjs, which imports the
 * compiled module: hence the tag for knip).
 * @public
 */
export async function writeReaperBundle(outFile: string): Promise<void> {
  await writeLambdaBundle(reaperBundle(), outFile)
}

/** The reaper's zip: the prebuilt bundle of an installed mlops, else esbuild on the fly (source checkout). */
export async function reaperZip(): Promise<Buffer> {
  const { code } = await loadLambdaBundle(reaperBundle())
  return createZip([{ name: 'reaper.js', data: code }])
}

/** The reaper's role: assumed by Lambda (this account only), DeleteEndpoint on one ARN, its own logs. */
export function reaperRoleSpec(s: IdleStopSettings): RoleSpec {
  const names = idleStopNames(s.endpointName)
  return {
    name: names.role,
    description: `mlops idle stop: may delete endpoint ${s.endpointName} only`,
    trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', s.accountId),
    inlinePolicies: {
      [names.policy]: reaperPolicy({
        partition: partitionOf(s.region),
        region: s.region,
        accountId: s.accountId,
        endpointName: s.endpointName,
        functionName: names.function,
      }),
    },
    tags: projectTags(s.project),
  }
}

function functionSpec(s: IdleStopSettings, roleArn: string) {
  return {
    name: idleStopNames(s.endpointName).function,
    roleArn,
    // The runtime reaperBundle() targets.
    runtime: REAPER_LAMBDA_RUNTIME,
    handler: REAPER_HANDLER,
    description: `mlops idle stop: deletes endpoint ${s.endpointName} when its idle alarm fires (config and model stay)`,
    environment: reaperEnvironment(s.endpointName),
    tags: projectTagMap(s.project),
  }
}

/** Every request of the setup, in order, for --dry-run. */
export function planIdleStop(s: IdleStopSettings): PlannedOperation[] {
  const names = idleStopNames(s.endpointName)
  const role = reaperRoleSpec(s)
  const topicArn = `arn:${partitionOf(s.region)}:sns:${s.region}:${s.accountId}:${names.topic}`
  const functionArn = `arn:${partitionOf(s.region)}:lambda:${s.region}:${s.accountId}:function:${names.function}`
  const roleArn = `arn:${partitionOf(s.region)}:iam::${s.accountId}:role/${names.role}`
  const { period, evaluationPeriods } = idlePeriods(s.idleSeconds)
  return [
    {
      service: 'iam',
      operation: 'CreateRole',
      input: { RoleName: role.name, AssumeRolePolicyDocument: JSON.stringify(role.trustPolicy), Tags: role.tags },
      note: 'or converge an existing one',
    },
    {
      service: 'iam',
      operation: 'PutRolePolicy',
      input: { RoleName: role.name, PolicyName: names.policy, PolicyDocument: JSON.stringify(role.inlinePolicies[names.policy]) },
    },
    { service: 'sns', operation: 'CreateTopic', input: { Name: names.topic, Tags: projectTags(s.project) } },
    {
      service: 'lambda',
      operation: 'CreateFunction',
      input: createSubscriberInput(functionSpec(s, roleArn), '<reaper.js zip>'),
      note: 'or converge its configuration (runtime included) and code, each update awaited',
    },
    { service: 'lambda', operation: 'AddPermission', input: snsPermissionInput(names.function, topicArn) },
    { service: 'sns', operation: 'Subscribe', input: { TopicArn: topicArn, Protocol: 'lambda', Endpoint: functionArn, ReturnSubscriptionArn: true } },
    {
      service: 'cloudwatch',
      operation: 'PutMetricAlarm',
      input: idleAlarmInput(s.endpointName, s.idleSeconds, topicArn, projectTags(s.project)),
      note: `fires after ${evaluationPeriods} x ${period} s without an invocation`,
    },
    {
      service: 'cloudwatch',
      operation: 'SetAlarmState',
      input: alarmOkInput(names.alarm, REARM_REASON),
      note: 'an alarm left in ALARM by an earlier idle stop would never notify again',
    },
  ]
}

/**
 * Arms the idle stop: role, topic, reaper, permission, subscription, alarm (in that order, so the alarm
 * fires into a working chain), then the alarm back to OK so a restored endpoint can be reaped again.
 */
export async function setupIdleStop(
  c: Pick<AwsClients, 'iam' | 'lambda' | 'sns' | 'cloudwatch'>,
  s: IdleStopSettings,
  opts: { clock: Clock; signal?: AbortSignal },
): Promise<IdleStopResult> {
  const names = idleStopNames(s.endpointName)
  const role = await ensureRole(c.iam, reaperRoleSpec(s))
  const topicArn = await createTopic(c.sns, names.topic, projectTags(s.project))
  const functionArn = await ensureSubscriberFunction(c.lambda, { ...functionSpec(s, role.arn), zip: await reaperZip() }, opts)
  await allowTopic(c.lambda, names.function, topicArn)
  const subscriptionArn = await subscribeLambda(c.sns, topicArn, functionArn)
  await putAlarm(c.cloudwatch, idleAlarmInput(s.endpointName, s.idleSeconds, topicArn, projectTags(s.project)) as never)
  await resetAlarm(c.cloudwatch, names.alarm, REARM_REASON)
  const { period, evaluationPeriods, idleSeconds } = idlePeriods(s.idleSeconds)
  return { alarm: names.alarm, topicArn, subscriptionArn, functionArn, roleArn: role.arn, idleSeconds, period, evaluationPeriods }
}

/** The deploy step: arms the idle stop of the endpoint that just became InService. */
export async function armIdleStop(ctx: CommandContext, cfg: MlopsConfig, endpointName: string, idleSeconds: number): Promise<IdleStopResult> {
  const c = await ctx.clients(['iam', 'lambda', 'sns', 'cloudwatch', 'sts'], cfg)
  const settings = { project: cfg.project.name, endpointName, idleSeconds, region: ctx.awsSettings(cfg).region, accountId: await getAccountId(c.sts) }
  const spin = ctx.ui.spinner(`Arming the idle stop of ${endpointName} (${formatDuration(idleSeconds)} without an invocation)`)
  try {
    const out = await setupIdleStop(c, settings, { clock: ctx.clock, signal: ctx.signal })
    spin.succeed(
      `Idle stop armed: alarm ${out.alarm} deletes ${endpointName} after ${formatDuration(out.idleSeconds)} without an invocation (config and model stay)`,
    )
    return out
  } catch (e) {
    spin.fail(`Arming the idle stop of ${endpointName} failed; the endpoint is serving and bills until \`mlops teardown\``)
    throw e
  }
}
