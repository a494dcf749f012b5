import { CreateLogGroupCommand, GetLogEventsCommand, PutRetentionPolicyCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  SendCommandCommand,
  type GetCommandInvocationCommandOutput,
  type SendCommandCommandInput,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { OperationError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import { isTransient, withRetry } from '../retry.js'

/**
 * Run Command on one instance: wait for the agent, send the training command, stream its output
 * from CloudWatch Logs while polling its status. GetCommandInvocation alone keeps only the first
 * 24,000 characters of output, so it is the fallback, not the source.
 */

/** GetCommandInvocation's StandardOutputContent limit. */
export const INLINE_OUTPUT_LIMIT = 24_000
/** Days CloudWatch keeps command output. */
export const LOG_RETENTION_DAYS = 30
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled'])
/** Transient errors in a row tolerated while following a command (about 5 minutes at the default interval). */
const MAX_CONSECUTIVE_BLIPS = 60

/** The log streams Run Command writes for AWS-RunShellScript: `<command-id>/<instance-id>/aws-runShellScript/stdout|stderr`. */
export function commandLogStreams(commandId: string, instanceId: string): { stdout: string; stderr: string } {
  const base = `${commandId}/${instanceId}/aws-runShellScript`
  return { stdout: `${base}/stdout`, stderr: `${base}/stderr` }
}

export interface AgentWaitOptions {
  readonly clock: Clock
  readonly signal?: AbortSignal
  readonly timeoutMs: number
  /** @default 10000 (the interval AWS samples use) */
  readonly intervalMs?: number
  readonly onStatus?: (status: string, elapsedMs: number) => void
  /** Called every few polls; throws when the instance has ended, so the wait stops early. */
  readonly checkInstance?: () => Promise<void>
}

/**
 * Polls DescribeInstanceInformation until the agent pings Online. "running" is not enough: a
 * command sent before the agent registers fails with an ambiguous InvalidInstanceId.
 */
export async function waitForAgentOnline(ssm: SSMClient, instanceId: string, opts: AgentWaitOptions): Promise<void> {
  let polls = 0
  await pollUntil({
    what: `the SSM agent on ${instanceId} to come online`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 10_000,
    onStatus: opts.onStatus,
    check: async () => {
      if (opts.checkInstance && ++polls % 3 === 0) await opts.checkInstance()
      const out = await callAws({ service: 'ssm', operation: 'DescribeInstanceInformation', resource: instanceId }, () =>
        ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [instanceId] }] })),
      )
      const ping = out.InstanceInformationList?.find((i) => i.InstanceId === instanceId)?.PingStatus
      return { done: ping === 'Online', value: undefined, status: ping ? `agent ${ping}` : 'agent not registered yet' }
    },
  })
}

/** Creates the output log group with a retention (so logs do not pile up forever); fine when it exists. */
export async function ensureLogGroup(logs: CloudWatchLogsClient, name: string, tags: Record<string, string>): Promise<{ created: boolean }> {
  const created = await callAws({ service: 'logs', operation: 'CreateLogGroup', resource: name }, async () => {
    try {
      await logs.send(new CreateLogGroupCommand({ logGroupName: name, tags }))
      return true
    } catch (e) {
      if (isAwsErrorNamed(e, 'ResourceAlreadyExistsException')) return false
      throw e
    }
  })
  if (created) {
    await callAws({ service: 'logs', operation: 'PutRetentionPolicy', resource: name }, () =>
      logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: LOG_RETENTION_DAYS })),
    )
  }
  return { created }
}

/** SendCommand, retried (bounded) while SSM still calls a just-registered instance invalid. */
export async function sendCommand(
  ssm: SSMClient,
  input: SendCommandCommandInput,
  opts: { clock: Clock; signal?: AbortSignal; attempts?: number },
): Promise<string> {
  const send = async () => {
    const out = await callAws({ service: 'ssm', operation: 'SendCommand', resource: input.InstanceIds?.join(',') }, () =>
      ssm.send(new SendCommandCommand(input)),
    )
    const id = out.Command?.CommandId
    if (!id) throw new OperationError('SendCommandFailed', 'SSM accepted the command but returned no command id.')
    return id
  }
  // A steady 5 s between tries (base = cap), so 6 tries give a just-registered instance about 25 s.
  return withRetry(send, {
    clock: opts.clock,
    signal: opts.signal,
    attempts: opts.attempts ?? 6,
    baseDelayMs: 5000,
    maxDelayMs: 5000,
    retryable: (e) => isAwsErrorNamed(e, 'InvalidInstanceId'),
  })
}

/** Reads a CloudWatch stream forward from where it left off. Missing stream (not written yet) = no lines. */
class LogTail {
  private token?: string
  denied = false
  constructor(
    private readonly logs: CloudWatchLogsClient,
    private readonly group: string,
    private readonly stream: string,
  ) {}

  async drain(): Promise<string[]> {
    if (this.denied) return []
    const lines: string[] = []
    // Bounded: at most 50 pages (of up to 10,000 events) per poll; the next poll continues.
    for (let page = 0; page < 50; page++) {
      let out
      try {
        out = await this.logs.send(
          new GetLogEventsCommand({ logGroupName: this.group, logStreamName: this.stream, startFromHead: true, nextToken: this.token }),
        )
      } catch (e) {
        if (isAwsErrorNamed(e, 'ResourceNotFoundException')) return lines
        if (isAwsErrorNamed(e, 'AccessDeniedException', 'AccessDenied')) {
          this.denied = true
          return lines
        }
        throw translateAwsError(e, { service: 'logs', operation: 'GetLogEvents', resource: `${this.group}:${this.stream}` })
      }
      // The agent batches output: one event may hold several lines.
      for (const ev of out.events ?? []) lines.push(...(ev.message ?? '').replace(/\r?\n$/, '').split(/\r?\n/))
      const same = out.nextForwardToken === undefined || out.nextForwardToken === this.token
      this.token = out.nextForwardToken ?? this.token
      if (same || (out.events ?? []).length === 0) break
    }
    return lines
  }
}

export interface FollowOptions {
  readonly commandId: string
  readonly instanceId: string
  readonly logGroupName: string
  readonly clock: Clock
  readonly signal?: AbortSignal
  /** Client-side deadline (the command's executionTimeout plus a margin). */
  readonly timeoutMs: number
  /** @default 5000 */
  readonly intervalMs?: number
  /** Each output line as it arrives. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  readonly onStatus?: (status: string, elapsedMs: number) => void
  /** Once, when the caller may not read the output log (output then comes from GetCommandInvocation). */
  readonly onLogsUnavailable?: (reason: string) => void
  /** Called every few polls; throws when the instance has ended (spot reclaimed, dead-man switch). */
  readonly checkInstance?: () => Promise<void>
}

export interface CommandOutcome {
  /** Success | Failed | TimedOut | Cancelled. */
  readonly status: string
  readonly statusDetails?: string
  /** The script's exit code (-1: it never started). */
  readonly responseCode?: number
  /** Every stdout line, in order. */
  readonly stdout: readonly string[]
  /** Last lines of output (stdout and stderr), for error messages. */
  readonly tail: readonly string[]
  /** Whether output came live from CloudWatch Logs (false: from GetCommandInvocation only). */
  readonly streamed: boolean
  /** True when the only output available was GetCommandInvocation's, cut at 24,000 characters. */
  readonly truncated: boolean
}

/** Streams the command's output and polls its status until it ends, the deadline passes or the user aborts. */
export async function followCommand(ssm: SSMClient, logs: CloudWatchLogsClient, opts: FollowOptions): Promise<CommandOutcome> {
  const streams = commandLogStreams(opts.commandId, opts.instanceId)
  const tails = { stdout: new LogTail(logs, opts.logGroupName, streams.stdout), stderr: new LogTail(logs, opts.logGroupName, streams.stderr) }
  const stdoutLines: string[] = []
  let stderrCount = 0
  const tail: string[] = []
  let warned = false
  const take = (line: string, stream: 'stdout' | 'stderr') => {
    if (stream === 'stdout') stdoutLines.push(line)
    else stderrCount++
    tail.push(line)
    if (tail.length > 40) tail.shift()
    opts.onLine?.(line, stream)
  }
  const drain = async () => {
    for (const stream of ['stdout', 'stderr'] as const) for (const line of await tails[stream].drain()) take(line, stream)
    if (!warned && tails.stdout.denied) {
      warned = true
      opts.onLogsUnavailable?.(`not allowed to read ${opts.logGroupName} (logs:GetLogEvents)`)
    }
  }
  const ctx = { service: 'ssm', operation: 'GetCommandInvocation', resource: `${opts.commandId}/${opts.instanceId}` }
  let polls = 0
  let blips = 0
  const invocation = await pollUntil<GetCommandInvocationCommandOutput | undefined>({
    what: `training command ${opts.commandId} on ${opts.instanceId}`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 5000,
    onStatus: opts.onStatus,
    check: async () => {
      let inv: GetCommandInvocationCommandOutput | undefined
      try {
        await drain()
        if (opts.checkInstance && ++polls % 6 === 0) await opts.checkInstance()
        inv = await callAws(ctx, async () => {
          try {
            return await ssm.send(new GetCommandInvocationCommand({ CommandId: opts.commandId, InstanceId: opts.instanceId }))
          } catch (e) {
            if (isAwsErrorNamed(e, 'InvocationDoesNotExist')) return undefined // right after SendCommand
            throw e
          }
        })
      } catch (e) {
        // A throttled call or a network blip on this side must not end hours of training (and its box):
        // keep polling, within limits, since the command runs on regardless.
        if (!isTransient(e) || ++blips > MAX_CONSECUTIVE_BLIPS) throw e
        return { done: false, value: undefined, status: `retrying after: ${(e as Error).message}` }
      }
      blips = 0
      const status = inv?.Status ?? 'Pending'
      return { done: TERMINAL.has(status), value: inv, status }
    },
  })
  // CloudWatch lags the agent by a few seconds: one more look before reporting.
  await opts.clock.sleep(opts.intervalMs ?? 5000, opts.signal)
  await drain()

  const streamed = stdoutLines.length > 0
  let truncated = false
  if (!streamed) {
    // No live output (not written, or not allowed to read it): fall back to the inline copy.
    const inline = invocation?.StandardOutputContent ?? ''
    truncated = inline.length >= INLINE_OUTPUT_LIMIT
    for (const line of inline.split(/\r?\n/).filter(Boolean)) take(line, 'stdout')
  }
  if (stderrCount === 0) for (const line of (invocation?.StandardErrorContent ?? '').split(/\r?\n/).filter(Boolean)) take(line, 'stderr')
  return {
    status: invocation?.Status ?? 'Pending',
    ...(invocation?.StatusDetails ? { statusDetails: invocation.StatusDetails } : {}),
    ...(invocation?.ResponseCode !== undefined ? { responseCode: invocation.ResponseCode } : {}),
    stdout: stdoutLines,
    tail,
    streamed,
    truncated,
  }
}
