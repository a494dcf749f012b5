import { DescribeLogStreamsCommand, GetLogEventsCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { callAws, isNotFound } from '../error-translation.js'
import { isTransient } from '../retry.js'

/**
 * Follows a training job's CloudWatch logs the way the SDK's `logs=True` does
 * (sagemaker.md 1.11): group /aws/sagemaker/TrainingJobs, one stream per host named
 * `<job>/algo-N-<epoch>`, read forward with nextForwardToken. Streams appear only once the hosts
 * start, so "no group / no streams yet" is a normal answer, not an error.
 */

export const TRAINING_LOG_GROUP = '/aws/sagemaker/TrainingJobs'

export interface LogLine {
  /** `algo-1`, from the stream name. */
  readonly host: string
  readonly message: string
  readonly timestamp?: number
}

/** `dogs-train-.../algo-2-1700000000` -> `algo-2`. */
export function hostOfStream(stream: string): string {
  const last = stream.split('/').at(-1) ?? stream
  const m = /^(algo-\d+)/.exec(last)
  return m ? m[1] : last
}

export interface TailerOptions {
  /** Most GetLogEvents pages read per stream per poll, so one chatty host cannot stall the wait. @default 20 */
  readonly maxPagesPerStream?: number
  /** Most DescribeLogStreams pages. @default 10 */
  readonly maxStreamPages?: number
}

/** Reads new log lines of one job on each `poll()`. Keeps its place per stream. */
export class TrainingLogTailer {
  private readonly tokens = new Map<string, string | undefined>()
  private readonly lines: string[] = []
  private readonly opts: Required<TailerOptions>

  constructor(
    private readonly logs: CloudWatchLogsClient,
    readonly jobName: string,
    opts: TailerOptions = {},
  ) {
    this.opts = { maxPagesPerStream: opts.maxPagesPerStream ?? 20, maxStreamPages: opts.maxStreamPages ?? 10 }
  }

  /** Streams seen so far (one per host). */
  get streams(): string[] {
    return [...this.tokens.keys()]
  }

  /** Every line read so far, in the order read (the caller parses what it needs, e.g. metric lines). */
  get messages(): readonly string[] {
    return this.lines
  }

  /**
   * New lines since the last poll, in stream order. A throttled or failed read skips this round
   * (the next poll picks up from the same token); errors that will not heal (access denied) throw.
   */
  async poll(): Promise<LogLine[]> {
    let streams: string[]
    try {
      streams = await this.listStreams()
    } catch (err) {
      if (isTransient(err)) return []
      throw err
    }
    const out: LogLine[] = []
    for (const stream of streams) {
      if (!this.tokens.has(stream)) this.tokens.set(stream, undefined)
      try {
        out.push(...(await this.readStream(stream)))
      } catch (err) {
        if (!isTransient(err) && !isNotFound(err)) throw err
      }
    }
    for (const l of out) this.lines.push(l.message)
    return out
  }

  private async listStreams(): Promise<string[]> {
    const names: string[] = []
    let nextToken: string | undefined
    for (let page = 0; page < this.opts.maxStreamPages; page++) {
      const res = await callAws({ service: 'logs', operation: 'DescribeLogStreams', resource: `${TRAINING_LOG_GROUP}:${this.jobName}/` }, async () => {
        try {
          return await this.logs.send(
            new DescribeLogStreamsCommand({
              logGroupName: TRAINING_LOG_GROUP,
              logStreamNamePrefix: `${this.jobName}/`,
              ...(nextToken ? { nextToken } : {}),
            }),
          )
        } catch (err) {
          // The group is created by the first training job in the account and region.
          if (isNotFound(err)) return { logStreams: [], nextToken: undefined }
          throw err
        }
      })
      for (const s of res.logStreams ?? []) if (s.logStreamName) names.push(s.logStreamName)
      if (!res.nextToken || res.nextToken === nextToken) break
      nextToken = res.nextToken
    }
    return names.sort()
  }

  private async readStream(stream: string): Promise<LogLine[]> {
    const host = hostOfStream(stream)
    const out: LogLine[] = []
    for (let page = 0; page < this.opts.maxPagesPerStream; page++) {
      const token = this.tokens.get(stream)
      const res = await callAws({ service: 'logs', operation: 'GetLogEvents', resource: `${TRAINING_LOG_GROUP}:${stream}` }, () =>
        this.logs.send(
          new GetLogEventsCommand({
            logGroupName: TRAINING_LOG_GROUP,
            logStreamName: stream,
            startFromHead: true,
            ...(token ? { nextToken: token } : {}),
          }),
        ),
      )
      for (const e of res.events ?? []) {
        for (const message of (e.message ?? '').split(/\r?\n/)) {
          if (message.trim()) out.push({ host, message, ...(e.timestamp !== undefined ? { timestamp: e.timestamp } : {}) })
        }
      }
      // The forward token stays the same once the end of the stream is reached.
      const next = res.nextForwardToken
      if (next) this.tokens.set(stream, next)
      if (!next || next === token || (res.events ?? []).length === 0) break
    }
    return out
  }
}
