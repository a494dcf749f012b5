import { FilterLogEventsCommand, type CloudWatchLogsClient, type FilterLogEventsCommandInput } from '@aws-sdk/client-cloudwatch-logs'
import { callAws, isNotFound } from '../error-translation.js'

/**
 * Reads one log group across all its streams with FilterLogEvents (the call `sam logs` and
 * `aws logs tail` use): events in a time window, optionally matching a CloudWatch filter pattern.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html
 */

export interface GroupLogEvent {
  readonly eventId: string
  readonly timestamp: number
  readonly stream: string
  readonly message: string
}

export interface FilterLogEventsOptions {
  readonly logGroupName: string
  /** Epoch milliseconds, inclusive. */
  readonly startTime: number
  /** Epoch milliseconds, inclusive. @default now (no bound) */
  readonly endTime?: number
  /** A CloudWatch Logs filter pattern (`ERROR`, `"timed out"`, `{ $.level = "error" }`). */
  readonly filterPattern?: string
  /** Only the streams whose names start with this (a training job's `<job>/`). */
  readonly logStreamNamePrefix?: string
  /** Most pages read in one call, so a very chatty group cannot stall a poll. @default 50 */
  readonly maxPages?: number
}

/** The request FilterLogEvents is sent (also what --dry-run shows). */
export function filterLogEventsInput(o: FilterLogEventsOptions): FilterLogEventsCommandInput {
  return {
    logGroupName: o.logGroupName,
    startTime: o.startTime,
    ...(o.endTime !== undefined ? { endTime: o.endTime } : {}),
    ...(o.filterPattern ? { filterPattern: o.filterPattern } : {}),
    ...(o.logStreamNamePrefix ? { logStreamNamePrefix: o.logStreamNamePrefix } : {}),
  }
}

/**
 * Every matching event in the window (following nextToken, at most `maxPages` pages), sorted by
 * time across streams; `undefined` when the log group does not exist. `truncated` says pages were left.
 */
export async function filterLogEvents(
  logs: CloudWatchLogsClient,
  o: FilterLogEventsOptions,
): Promise<{ events: GroupLogEvent[]; truncated: boolean } | undefined> {
  const input = filterLogEventsInput(o)
  const events: GroupLogEvent[] = []
  let nextToken: string | undefined
  const maxPages = o.maxPages ?? 50
  for (let page = 0; page < maxPages; page++) {
    const res = await callAws({ service: 'logs', operation: 'FilterLogEvents', resource: o.logGroupName }, async () => {
      try {
        return await logs.send(new FilterLogEventsCommand({ ...input, ...(nextToken ? { nextToken } : {}) }))
      } catch (err) {
        if (isNotFound(err)) return undefined
        throw err
      }
    })
    if (!res) return undefined
    for (const e of res.events ?? []) {
      events.push({
        eventId: e.eventId ?? `${e.logStreamName ?? ''}:${e.timestamp ?? 0}:${e.message ?? ''}`,
        timestamp: e.timestamp ?? 0,
        stream: e.logStreamName ?? '',
        message: (e.message ?? '').replace(/\r?\n$/, ''),
      })
    }
    // A token equal to the one sent means the end (as with GetLogEvents); no token means the end.
    if (!res.nextToken || res.nextToken === nextToken) return { events: sortByTime(events), truncated: false }
    nextToken = res.nextToken
  }
  return { events: sortByTime(events), truncated: true }
}

function sortByTime(events: GroupLogEvent[]): GroupLogEvent[] {
  // Stable: events of one timestamp keep the order CloudWatch gave them.
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timestamp - b.e.timestamp || a.i - b.i)
    .map(({ e }) => e)
}
