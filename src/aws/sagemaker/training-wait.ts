import { DescribeTrainingJobCommand, StopTrainingJobCommand, type DescribeTrainingJobResponse, type SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import type { Metrics } from '../../shared/metrics.js'
import { InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../errors.js'
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

export type InterruptChoice = 'stop' | 'detach'

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

export interface WatchResult {
  readonly job: DescribeTrainingJobResponse
  /** Latest value of each metric from the job's log lines. */
  readonly logMetrics: Metrics
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

/** Polls the job and its logs until it ends. Throws OperationError 'DeadlineReached' or InterruptedError. */
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
    return { job, logMetrics: tailer.metrics(), logStreams: tailer.streams }
  } catch (err) {
    if (err instanceof OperationError && err.code === 'DeadlineReached') {
      const status = lastJob?.SecondaryStatus ?? lastJob?.TrainingJobStatus ?? 'unknown'
      throw new OperationError(
        'DeadlineReached',
        `Training job ${opts.jobName} is still running (${status}) after the ${formatDuration(opts.timeoutSeconds)} wait deadline.`,
        {
          hint: `It keeps running (and billing) on AWS. Re-attach with \`mlops logs ${opts.jobName}\`, or stop it with \`mlops logs ${opts.jobName} --stop\`.`,
          details: { jobName: opts.jobName, status: lastJob?.TrainingJobStatus, secondaryStatus: lastJob?.SecondaryStatus, logMetrics: tailer.metrics() },
        },
      )
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

/**
 * What Ctrl-C during a wait does: ask (or take the flag's answer), then stop the job or detach.
 * Always ends in InterruptedError (exit 130) that says what is still running.
 */
export async function interruptTrainingWait(
  sagemaker: SageMakerClient,
  jobName: string,
  decide: (jobName: string) => Promise<InterruptChoice>,
  clock: Clock,
): Promise<never> {
  let choice: InterruptChoice
  try {
    choice = await decide(jobName)
  } catch {
    choice = 'detach'
  }
  if (choice === 'stop') {
    const status = await stopTrainingJob(sagemaker, jobName, clock)
    throw new InterruptedError(`Interrupted: stopped training job ${jobName} (${status}). SageMaker releases its instances; nothing else is left running.`, {
      hint: `Its final status and any partial output: \`mlops logs ${jobName}\`.`,
      details: { jobName, status, action: 'stopped' },
    })
  }
  throw new InterruptedError(`Interrupted: detached from training job ${jobName}; it is still running (and billing) on AWS.`, {
    hint: `Re-attach with \`mlops logs ${jobName}\`; stop it with \`mlops logs ${jobName} --stop\`.`,
    details: { jobName, action: 'detached' },
  })
}

/**
 * The Ctrl-C policy: `--stop-on-interrupt` stops the job; on a terminal a person is asked
 * ("Stop the training job? [y/N]", default no); anywhere else (CI, pipes) the safe default is to
 * detach, because stopping throws away the run and detaching loses nothing. --yes does not stop a
 * job: it answers launch confirmations, not this question.
 */
export function interruptDecider(o: {
  readonly stopOnInterrupt: boolean
  /** Present only when a person can answer (stdin is a terminal). */
  readonly ask?: (question: string) => Promise<string>
  readonly info: (message: string) => void
  /** "training job" or "tuning job". @default 'training job' */
  readonly what?: string
}): (name: string) => Promise<InterruptChoice> {
  const what = o.what ?? 'training job'
  return async (name) => {
    if (o.stopOnInterrupt) return 'stop'
    if (o.ask) {
      const answer = (await o.ask(`Stop the ${what} ${name}? [y/N] `)).trim().toLowerCase()
      return answer === 'y' || answer === 'yes' ? 'stop' : 'detach'
    }
    o.info(`No terminal to ask on: detaching from ${name} (pass --stop-on-interrupt to stop it instead).`)
    return 'detach'
  }
}
