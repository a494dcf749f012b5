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
 * `train --notify` / `tune --notify`: the run's end reaches its destinations with no mlops process
 * running (shared/notify-spec.ts has the design). Armed before the job starts, so no end is missed.
 */

function settingsFor(cfg: MlopsConfig, destinations: readonly NotifyDestination[], run: NotifyRun, region: string, accountId: string): NotifySettings {
  return notifySettings(cfg, destinations, run, { region, accountId, partition: partitionOf(region), runtime: REAPER_LAMBDA_RUNTIME })
}

/** What a training or tuning run's rule matches (the project's job name prefix) and the price its cost line uses. */
export function notifyRunOf(kind: 'training' | 'tuning', prefix: string, instanceType: string, hourlyUsd: number | undefined): NotifyRun {
  return { kind, match: prefix, prices: hourlyUsd !== undefined ? { [instanceType]: hourlyUsd } : {} }
}

/** The arming requests for --dry-run (none without destinations). */
export function planRunNotify(cfg: MlopsConfig, destinations: readonly NotifyDestination[], run: NotifyRun, region: string): PlannedOperation[] {
  if (!destinations.length) return []
  return [{ service: 'sts', operation: 'GetCallerIdentity', input: {} }, ...planNotify(settingsFor(cfg, destinations, run, region, PLACEHOLDER.accountId))]
}

/** Arms the rule, topic, subscriptions, secret and notifier; prints where the message goes and what awaits confirmation. */
export async function armRunNotify(
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
    spin.fail('Arming notifications failed; nothing was started')
    throw e
  }
}
