import { DescribeTrainingJobCommand, StopTrainingJobCommand, type DescribeTrainingJobResponse, type SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { OperationError, UserError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../error-translation.js'
import { TrainingLogTailer, type LogLine } from '../logs/training-logs.js'
import { withRetry } from '../retry.js'

/**
 * Waiting for a training job: DescribeTrainingJob for the status (Starting, Downloading,
 * Training, Uploading, ...) and the job's CloudWatch streams for the live view, until the job ends,
 * the CLI's deadline passes, or Ctrl-C. Reaching the end of a wait is not success: the caller
 * looks at the real final status.
 */

export const TERMINAL_STATUSES = ['Completed', 'Failed', 'Stopped'] as const
/** How often to look. SageMaker's own SDK polls every 30 s (5 s for logs); 15 s keeps the view live. */
export const DEFAULT_POLL_MS = 15_000

export interface JobStatusView {
  readonly status: string
  readonly secondaryStatus?: string
  readonly message?: string
  readonly elapsedMs: number
}

export interface WatchOptions {
  readonly jobName: string
  /** The CLI's deadline for this wait, in seconds. */
  readonly timeoutSeconds: number
  readonly clock: Clock
  readonly signal?: AbortSignal
  /** @default DEFAULT_POLL_MS */
  readonly intervalMs?: number
  readonly onStatus?: (view: JobStatusView) => void
  readonly onLog?: (line: LogLine) => void
  readonly onRetry?: (message: string) => void
}

/**
 * How a wait ended: the job reached a terminal status (`ended`), or the deadline passed first
 * (`job` is then the last description seen, if any). Log lines are raw; the caller parses them.
 */
export type WatchResult =
  | { readonly ended: true; readonly job: DescribeTrainingJobResponse; readonly logLines: readonly string[]; readonly logStreams: readonly string[] }
  | {
      readonly ended: false
      readonly job?: DescribeTrainingJobResponse
      readonly logLines: readonly string[]
      readonly logStreams: readonly string[]
    }

/** DescribeTrainingJob with bounded retries on throttling; a missing job is the user's typo (exit 2). */
export async function describeTrainingJob(
  sagemaker: SageMakerClient,
  jobName: string,
  opts: { clock: Clock; signal?: AbortSignal; onRetry?: (message: string) => void },
): Promise<DescribeTrainingJobResponse> {
  return callAws({ service: 'sagemaker', operation: 'DescribeTrainingJob', resource: jobName }, async () => {
    try {
      return await withRetry(() => sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: jobName })), {
        clock: opts.clock,
        signal: opts.signal,
        onRetry: (n, err, delay) =>
          opts.onRetry?.(`DescribeTrainingJob ${(err as Error).name ?? 'error'}; retrying in ${Math.round(delay / 1000)}s (attempt ${n + 1})`),
      })
    } catch (err) {
      if (isNotFound(err)) {
        throw new UserError('TrainingJobNotFound', `There is no training job named ${jobName} in this account and region.`, {
          hint: 'Check the name and --region; `mlops status` lists the jobs mlops started.',
          cause: err,
        })
      }
      throw err
    }
  })
}

function isTerminal(status: string | undefined): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status ?? '')
}

/** Polls the job and its logs until it ends or the deadline passes. Throws InterruptedError on the signal. */
export async function watchTrainingJob(clients: { sagemaker: SageMakerClient; logs: CloudWatchLogsClient }, opts: WatchOptions): Promise<WatchResult> {
  const tailer = new TrainingLogTailer(clients.logs, opts.jobName)
  const start = opts.clock.now()
  const forward = (lines: LogLine[]) => {
    for (const l of lines) opts.onLog?.(l)
  }
  let lastKey = ''
  let lastJob: DescribeTrainingJobResponse | undefined
  try {
    const job = await pollUntil({
      clock: opts.clock,
      signal: opts.signal,
      timeoutMs: opts.timeoutSeconds * 1000,
      intervalMs: opts.intervalMs ?? DEFAULT_POLL_MS,
      what: `training job ${opts.jobName}`,
      check: async () => {
        const job = await describeTrainingJob(clients.sagemaker, opts.jobName, { clock: opts.clock, signal: opts.signal, onRetry: opts.onRetry })
        lastJob = job
        const view: JobStatusView = {
          status: job.TrainingJobStatus ?? 'Unknown',
          secondaryStatus: job.SecondaryStatus,
          message: job.SecondaryStatusTransitions?.at(-1)?.StatusMessage,
          elapsedMs: opts.clock.now() - start,
        }
        const key = `${view.status}/${view.secondaryStatus}/${view.message}`
        if (key !== lastKey) {
          lastKey = key
          opts.onStatus?.(view)
        }
        forward(await tailer.poll())
        return { done: isTerminal(job.TrainingJobStatus), value: job, status: job.SecondaryStatus ?? job.TrainingJobStatus }
      },
    })
    // CloudWatch delivers the last lines a little after the status flips: one more read.
    forward(await tailer.poll())
    return { ended: true, job, logLines: tailer.messages, logStreams: tailer.streams }
  } catch (err) {
    if (err instanceof OperationError && err.code === 'DeadlineReached') {
      return { ended: false, ...(lastJob ? { job: lastJob } : {}), logLines: tailer.messages, logStreams: tailer.streams }
    }
    throw err
  }
}

/**
 * StopTrainingJob, then a short bounded wait until SageMaker says Stopping or Stopped (it uploads
 * what is in /opt/ml/model and releases the instances). Runs after Ctrl-C, so it does not listen to
 * the (already aborted) signal. Returns the status seen last.
 */
export async function stopTrainingJob(sagemaker: SageMakerClient, jobName: string, clock: Clock, onRetry?: (m: string) => void): Promise<string> {
  await callAws({ service: 'sagemaker', operation: 'StopTrainingJob', resource: jobName }, async () => {
    try {
      await withRetry(() => sagemaker.send(new StopTrainingJobCommand({ TrainingJobName: jobName })), { clock, attempts: 4 })
    } catch (err) {
      // Already finished or stopping: nothing left to stop.
      if (isAwsErrorNamed(err, 'ValidationException') && !isNotFound(err)) return
      throw err
    }
  })
  let status = 'Stopping'
  for (let i = 0; i < 20; i++) {
    const job = await describeTrainingJob(sagemaker, jobName, { clock, onRetry })
    status = job.TrainingJobStatus ?? status
    if (status === 'Stopping' || isTerminal(status)) return status
    await clock.sleep(3000)
  }
  return status
}
