import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import { partitionOf } from '../../aws/arn.js'
import { REAPER_LAMBDA_RUNTIME } from '../../aws/lifecycle.js'
import { getAccountId } from '../../aws/sts/account.js'
import {
  notificationsSpec,
  notifyLines,
  notifySettings,
  notifySummary,
  planNotify,
  type NotifyDestination,
  type NotifyRun,
  type NotifySettings,
  type NotifySummary,
  notifierStateRecord,
} from '../../shared/notify-spec.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'

/**
 * `train-ec2 --notify`: the box's termination reaches the run's destinations with no mlops process
 * running (shared/notify-spec.ts has the design). Armed right after launch: the rule needs the
 * instance id; a failure to arm ends the run like any other failure (the box is terminated).
 */

function settingsFor(cfg: MlopsConfig, destinations: readonly NotifyDestination[], run: NotifyRun, region: string, accountId: string): NotifySettings {
  return notifySettings(cfg, destinations, run, { region, accountId, partition: partitionOf(region), runtime: REAPER_LAMBDA_RUNTIME })
}

/** The rule matches this box's termination; the message names the run, its duration and cost. */
export function boxNotifyRun(box: { instanceId: string; runName: string; instanceType: string; launchedAt: string }, hourlyUsd: number | undefined): NotifyRun {
  return { kind: 'ec2', match: box.instanceId, box, prices: hourlyUsd !== undefined ? { [box.instanceType]: hourlyUsd } : {} }
}

/** The arming requests for --dry-run (none without destinations). */
export function planBoxNotify(cfg: MlopsConfig, destinations: readonly NotifyDestination[], run: NotifyRun, region: string): PlannedOperation[] {
  if (!destinations.length) return []
  return [{ service: 'sts', operation: 'GetCallerIdentity', input: {} }, ...planNotify(settingsFor(cfg, destinations, run, region, PLACEHOLDER.accountId))]
}

/** Arms the rule, topic, subscriptions, secret and notifier; prints where the message goes and what awaits confirmation. */
export async function armBoxNotify(
  ctx: CommandContext,
  cfg: MlopsConfig,
  destinations: readonly NotifyDestination[],
  run: NotifyRun,
): Promise<NotifySummary | undefined> {
  if (!destinations.length) return undefined
  // Loaded only when armed: a run without notifications never loads the EventBridge and SSM SDKs.
  const [{ armNotifications }, { notifierZip }] = await Promise.all([import('../../aws/events/notifications.js'), import('../../shared/notifier-bundle.js')])
  const c = await ctx.clients(['iam', 'sns', 'ssm', 'lambda', 'events', 'sts'], cfg)
  const s = settingsFor(cfg, destinations, run, ctx.awsSettings(cfg).region, await getAccountId(c.sts))
  const spin = ctx.ui.spinner(`Arming notifications for the ${run.kind} run`)
  try {
    const armed = await armNotifications(c, notificationsSpec(s, await notifierZip(s.runtime)), { clock: ctx.clock, signal: ctx.signal })
    await ctx.state().record(notifierStateRecord(s, armed.functionArn, ctx.clock.now()))
    spin.stop()
    const summary = notifySummary(s, armed.subscriptions)
    for (const line of notifyLines(summary)) ctx.ui.info(line)
    return summary
  } catch (e) {
    spin.fail('Arming notifications failed; the box is terminated')
    throw e
  }
}
