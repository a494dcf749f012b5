import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { logGroupConsoleUrl } from '../../aws/console-links.js'
import type { CommandContext } from '../../context.js'
import { InterruptedError, UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { resourceNames } from '../../shared/naming.js'
import { functionLogGroupName } from '../../aws/logs/lambda-logs.js'
import { filterLogEvents, filterLogEventsInput, type GroupLogEvent } from '../../aws/logs/filter-log-events.js'

/**
 * `mlops logs --endpoint` / `mlops logs --lambda` (issue 29 item 2): the recent lines of the
 * project's endpoint or function log group, across all its streams in time order, or `--follow`
 * them like `sam logs --tail`: FilterLogEvents polled at a bounded interval, each event printed
 * once (by eventId), until Ctrl-C or the --timeout deadline.
 */

export type LogSource = 'endpoint' | 'lambda'

export interface ServiceLogsOptions {
  readonly source: LogSource
  /** How far back to start, in seconds. @default 600 */
  readonly sinceSeconds: number
  /** A CloudWatch Logs filter pattern. */
  readonly filterPattern?: string
  readonly follow: boolean
  /** How long to follow, in seconds. @default 3600 */
  readonly timeoutSeconds?: number
  /** Pause between polls while following. @default 2000 */
  readonly intervalMs?: number
  /** Where followed lines go as they arrive (the command writes them to stdout). */
  readonly onEvents?: (events: readonly LogEventView[]) => void
}

/** One event as shown: ISO time, stream, message (and its id). */
export interface LogEventView {
  readonly timestamp: string
  readonly stream: string
  readonly message: string
  readonly eventId: string
}

export function viewLogEvent(e: GroupLogEvent): LogEventView {
  return { timestamp: new Date(e.timestamp).toISOString(), stream: e.stream, message: e.message, eventId: e.eventId }
}

export interface ServiceLogsResult {
  readonly source: LogSource
  /** The endpoint or function name. */
  readonly name: string
  readonly logGroup: string
  readonly since: string
  readonly filterPattern?: string
  /** Non-follow: the events in the window. Follow: empty (they were printed as they came). */
  readonly events: readonly LogEventView[]
  /** How many events were printed while following. */
  readonly followed?: number
  /** More pages were in the window than one read takes; narrow --since or --filter. */
  readonly truncated?: boolean
  /** The log group in the AWS console. */
  readonly consoleUrl: string
}

export type ServiceLogsOutcome = Outcome<ServiceLogsResult, { readonly logGroup: string }>

/** Events this far before the newest one seen are read again, since CloudWatch can deliver late; eventId de-duplicates them. */
const LATE_WINDOW_MS = 60_000
const DEFAULT_TIMEOUT_SECONDS = 3600

export async function runServiceLogs(ctx: CommandContext, opts: ServiceLogsOptions): Promise<ServiceLogsOutcome> {
  const cfg = await ctx.config()
  const names = resourceNames(cfg)
  const name = opts.source === 'endpoint' ? names.endpoint : names.lambdaFunction
  const logGroup = opts.source === 'endpoint' ? `/aws/sagemaker/Endpoints/${name}` : functionLogGroupName(name)
  const startTime = ctx.clock.now() - opts.sinceSeconds * 1000
  const window = { logGroupName: logGroup, startTime, ...(opts.filterPattern ? { filterPattern: opts.filterPattern } : {}) }
  if (ctx.dryRun) {
    return planned({
      title: `mlops logs --${opts.source}`,
      operations: [
        {
          service: 'logs',
          operation: 'FilterLogEvents',
          input: filterLogEventsInput(window),
          note: opts.follow ? 'then again every few seconds from the newest event, until Ctrl-C or --timeout' : 'every page (nextToken)',
        },
      ],
      details: { logGroup },
    })
  }
  const { logs } = await ctx.clients(['logs'], cfg)
  const base = {
    source: opts.source,
    name,
    logGroup,
    since: new Date(startTime).toISOString(),
    ...(opts.filterPattern ? { filterPattern: opts.filterPattern } : {}),
    consoleUrl: logGroupConsoleUrl(ctx.awsSettings(cfg).region, logGroup),
  }
  // On stderr: stdout holds only the log lines, for grep and pipes.
  ctx.ui.info(`${logGroup} in the AWS console: ${base.consoleUrl}`)
  const missing = () => missingGroup(opts.source, name, logGroup)
  if (!opts.follow) {
    const read = await filterLogEvents(logs, window)
    if (!read) throw missing()
    return done({ ...base, events: read.events.map(viewLogEvent), ...(read.truncated ? { truncated: true } : {}) })
  }
  const followed = await follow(ctx, logs, opts, logGroup, window, missing)
  return done({ ...base, events: [], followed })
}

async function follow(
  ctx: CommandContext,
  logs: CloudWatchLogsClient,
  opts: ServiceLogsOptions,
  logGroup: string,
  window: { logGroupName: string; startTime: number; filterPattern?: string },
  missing: () => UserError,
): Promise<number> {
  const deadline = ctx.clock.now() + (opts.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000
  const intervalMs = Math.max(200, Math.min(opts.intervalMs ?? 2000, 30_000))
  const seen = new Map<string, number>()
  let cursor = window.startTime
  let printed = 0
  let first = true
  ctx.ui.info(`Following ${logGroup} (Ctrl-C to stop)…`)
  try {
    for (;;) {
      if (ctx.signal.aborted) throw new InterruptedError()
      const read = await filterLogEvents(logs, { ...window, startTime: cursor })
      if (!read && first) throw missing()
      first = false
      const fresh = (read?.events ?? []).filter((e) => !seen.has(e.eventId))
      for (const e of fresh) seen.set(e.eventId, e.timestamp)
      if (fresh.length) {
        opts.onEvents?.(fresh.map(viewLogEvent))
        printed += fresh.length
        const newest = Math.max(...fresh.map((e) => e.timestamp))
        cursor = Math.max(cursor, newest - LATE_WINDOW_MS)
        // Forget ids that can no longer come back, so a long follow keeps a bounded set.
        for (const [id, t] of seen) if (t < cursor) seen.delete(id)
      }
      const left = deadline - ctx.clock.now()
      if (left <= 0) {
        ctx.ui.info(`Stopped following ${logGroup}: reached --timeout (${printed} lines).`)
        return printed
      }
      await ctx.clock.sleep(Math.min(intervalMs, left), ctx.signal)
    }
  } catch (err) {
    if (err instanceof InterruptedError && ctx.signal.aborted) {
      throw new InterruptedError(`Interrupted: stopped following ${logGroup} after ${printed} lines.`, {
        hint: `Pick up again with \`mlops logs --${opts.source} --follow\` (add --since to replay the lines before).`,
        details: { logGroup, printed, action: 'stopped-following' },
      })
    }
    throw err
  }
}

function missingGroup(source: LogSource, name: string, logGroup: string): UserError {
  const what = source === 'endpoint' ? `endpoint ${name}` : `function ${name}`
  return new UserError('LogGroupNotFound', `No log group ${logGroup}: the ${what} has not logged yet, or does not exist.`, {
    hint:
      source === 'endpoint'
        ? 'Deploy it with `mlops deploy` (its containers log once InService); `mlops status` shows what exists.'
        : 'Create it with `mlops lambda-setup`, then invoke it once (`mlops invoke <image> --lambda`); `mlops status` shows what exists.',
  })
}

/** One event as a line: `2026-11-22T10:00:01.000Z [stream] message`. */
export function formatLogEvent(e: LogEventView): string {
  return `${e.timestamp} [${e.stream}] ${e.message}`
}

/** Human text of the result: the lines (non-follow), or nothing (follow printed them already). */
export function renderServiceLogs(r: ServiceLogsResult): string {
  if (r.followed !== undefined) return ''
  const lines = r.events.map(formatLogEvent)
  if (!lines.length) lines.push(`No lines in ${r.logGroup} since ${r.since}${r.filterPattern ? ` matching ${JSON.stringify(r.filterPattern)}` : ''}.`)
  if (r.truncated) lines.push('(more lines than one read returns: narrow --since or add --filter)')
  return lines.join('\n')
}
