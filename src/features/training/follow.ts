import type { NotifySummary } from '../../shared/notify-spec.js'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import type { DescribeTrainingJobResponse, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { epochHistory, latestMetrics, METRIC_NAMES, parseMetricLine, type Metrics } from '../../shared/metrics.js'
import { actualCost, decodeHyperparameter, estimateTrainingCost, type CostEstimate } from './request.js'
import type { DistributionMode } from './distribution.js'
import { InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import type { Spinner, Ui } from '../../shared/output.js'
import type { StateStore } from '../../shared/state.js'
import type { Clock } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { isReservedHyperparameter } from '../../shared/hyperparameters.js'
import { renderTrainingResult, type WarmPoolView } from './render.js'
import type { LogLine } from '../../aws/logs/training-logs.js'
import { watchTrainingJob } from '../../aws/sagemaker/training-wait.js'
import { trainingJobConsoleUrl, trainingLogsConsoleUrl } from '../../aws/console-links.js'
import { interruptTrainingWait, type InterruptChoice } from './interrupt.js'

/**
 * The end of a training job, shared by `train` (after launching) and `logs` (re-attaching): the
 * live view while waiting, the curated result, the state records `deploy` reads, and the exit
 * status (Failed and Stopped jobs are failures, exit 1).
 */

export interface DebuggerRuleResult {
  readonly rule: string
  readonly status: string
  readonly detail?: string
}

/** What `train --json` and `logs --json` print. */
export interface TrainingResult {
  readonly jobName: string
  /** InProgress (with --no-wait or after a detach), Completed, Failed or Stopped. */
  readonly status: string
  readonly secondaryStatus?: string
  readonly failureReason?: string
  readonly billableSeconds?: number
  readonly trainingSeconds?: number
  readonly modelArtifact?: string
  readonly metrics: Metrics
  readonly distribution: { readonly mode: DistributionMode; readonly reason: string }
  readonly estimatedCost: CostEstimate
  /** BillableTimeInSeconds x instances x hourly price, once known. */
  readonly costUsd?: number
  readonly instanceType: string
  readonly instanceCount: number
  readonly spot: boolean
  readonly region: string
  readonly hyperparameters: Record<string, string | number | boolean>
  readonly debugger?: readonly DebuggerRuleResult[]
  /** With training.keepAlive: this job's warm pool and the job whose pool it reused. */
  readonly warmPool?: WarmPoolView
  readonly logStreams?: readonly string[]
  /** Per-epoch metrics from the job's metric lines, when the command followed them. */
  readonly epochs?: readonly Metrics[]
  /** The job's page and its CloudWatch logs in the AWS console. */
  readonly consoleUrl: string
  readonly logsConsoleUrl: string
  /** Set by `train`. */
  readonly codeUri?: string
  readonly codeUploaded?: boolean
  readonly roleArn?: string
  /** With --notify (or notify: in the config): where the run's end is told. */
  readonly notifications?: NotifySummary
}

/** Final metrics: SageMaker's FinalMetricDataList (our MetricDefinitions), then the log lines for anything missing. */
export function finalMetrics(job: DescribeTrainingJobResponse, logMetrics: Metrics): Metrics {
  const out: Metrics = { ...logMetrics }
  for (const m of job.FinalMetricDataList ?? []) {
    const name = m.MetricName as (typeof METRIC_NAMES)[number]
    if ((METRIC_NAMES as readonly string[]).includes(name) && typeof m.Value === 'number') out[name] = m.Value
  }
  return out
}

/** User hyperparameters of a job, decoded (the sagemaker_* keys left out). */
export function userHyperparameters(hp: Record<string, string> | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries(
    Object.entries(hp ?? {})
      .filter(([k]) => !isReservedHyperparameter(k))
      .map(([k, v]) => [k, decodeHyperparameter(v)]),
  )
}

/** The distribution a job ran with, read back from its hyperparameters. */
export function distributionOf(job: DescribeTrainingJobResponse): { mode: DistributionMode; reason: string } {
  const hp = job.HyperParameters ?? {}
  const count = job.ResourceConfig?.InstanceCount ?? 1
  if (hp.sagemaker_torch_distributed_enabled === 'true')
    return { mode: 'torch_distributed', reason: 'SageMaker torchrun launcher (sagemaker_torch_distributed_enabled)' }
  if (count > 1) return { mode: 'native', reason: `train.py joins the ${count} hosts from SM_HOSTS` }
  return { mode: 'none', reason: 'one instance' }
}

function debuggerResults(job: DescribeTrainingJobResponse): DebuggerRuleResult[] | undefined {
  const all = [...(job.DebugRuleEvaluationStatuses ?? []), ...(job.ProfilerRuleEvaluationStatuses ?? [])]
  if (all.length === 0) return undefined
  return all.map((r) => ({
    rule: r.RuleConfigurationName ?? 'rule',
    status: r.RuleEvaluationStatus ?? 'Unknown',
    ...(r.StatusDetails ? { detail: r.StatusDetails } : {}),
  }))
}

export function summarizeTrainingJob(
  job: DescribeTrainingJobResponse,
  region: string,
  logMetrics: Metrics = {},
  extra: Partial<TrainingResult> = {},
): TrainingResult {
  const instanceType = String(job.ResourceConfig?.InstanceType ?? extra.instanceType ?? 'unknown')
  const instanceCount = job.ResourceConfig?.InstanceCount ?? extra.instanceCount ?? 1
  const spot = job.EnableManagedSpotTraining ?? extra.spot ?? false
  const maxRuntimeSeconds = job.StoppingCondition?.MaxRuntimeInSeconds ?? 0
  const status = job.TrainingJobStatus ?? 'Unknown'
  const debuggerRules = debuggerResults(job)
  const costUsd = actualCost(instanceType, instanceCount, job.BillableTimeInSeconds)
  return {
    jobName: job.TrainingJobName ?? extra.jobName ?? 'unknown',
    status,
    ...(job.SecondaryStatus ? { secondaryStatus: job.SecondaryStatus } : {}),
    ...(job.FailureReason ? { failureReason: job.FailureReason } : {}),
    ...(job.BillableTimeInSeconds !== undefined ? { billableSeconds: job.BillableTimeInSeconds } : {}),
    ...(job.TrainingTimeInSeconds !== undefined ? { trainingSeconds: job.TrainingTimeInSeconds } : {}),
    ...(status === 'Completed' && job.ModelArtifacts?.S3ModelArtifacts ? { modelArtifact: job.ModelArtifacts.S3ModelArtifacts } : {}),
    metrics: finalMetrics(job, logMetrics),
    distribution: extra.distribution ?? distributionOf(job),
    estimatedCost: extra.estimatedCost ?? estimateTrainingCost({ instanceType, instanceCount, maxRuntimeSeconds, spot }),
    ...(costUsd !== undefined ? { costUsd } : {}),
    instanceType,
    instanceCount,
    spot,
    region,
    hyperparameters: userHyperparameters(job.HyperParameters),
    ...(debuggerRules ? { debugger: debuggerRules } : {}),
    ...(job.WarmPoolStatus || extra.warmPool ? { warmPool: { ...warmPoolOf(job), ...extra.warmPool } } : {}),
    ...(extra.logStreams ? { logStreams: extra.logStreams } : {}),
    ...(extra.epochs?.length ? { epochs: extra.epochs } : {}),
    consoleUrl: trainingJobConsoleUrl(region, job.TrainingJobName ?? extra.jobName ?? ''),
    logsConsoleUrl: trainingLogsConsoleUrl(region, job.TrainingJobName ?? extra.jobName ?? ''),
    ...(extra.codeUri ? { codeUri: extra.codeUri, codeUploaded: extra.codeUploaded } : {}),
    ...(extra.roleArn ? { roleArn: extra.roleArn } : {}),
  }
}

function warmPoolOf(job: DescribeTrainingJobResponse): WarmPoolView {
  const w = job.WarmPoolStatus
  if (!w) return {}
  return {
    ...(w.Status ? { status: w.Status } : {}),
    ...(w.ResourceRetainedBillableTimeInSeconds !== undefined ? { retainedBillableSeconds: w.ResourceRetainedBillableTimeInSeconds } : {}),
  }
}

/** Records the job (any status) and, once Completed, its model artifact for `deploy`. */
export async function recordTrainingResult(
  state: StateStore,
  r: TrainingResult,
  createdAt: string,
  source: 'sagemaker' | 'tuning' = 'sagemaker',
): Promise<void> {
  await state.record({
    kind: 'training-job',
    name: r.jobName,
    region: r.region,
    createdAt,
    details: {
      status: r.status,
      ...(r.modelArtifact ? { modelArtifact: r.modelArtifact } : {}),
      ...(Object.keys(r.metrics).length ? { metrics: r.metrics } : {}),
      instanceType: r.instanceType,
      instanceCount: r.instanceCount,
      source: 'sagemaker',
    },
  })
  if (r.status === 'Completed' && r.modelArtifact) {
    await state.record({
      kind: 'model-artifact',
      name: r.modelArtifact,
      region: r.region,
      createdAt,
      details: { source, jobName: r.jobName, ...(Object.keys(r.metrics).length ? { metrics: r.metrics } : {}) },
    })
  }
}

/**
 * Failed and Stopped jobs end the command with exit 1; the whole result rides along for --json,
 * and people see the billable time and last metrics on stderr before the error.
 */
export function failUnlessCompleted(r: TrainingResult, ui?: Ui): void {
  if (r.status === 'Completed') return
  if (ui && !ui.json) ui.info(renderTrainingResult({ ...r, failureReason: undefined }, ui.c))
  if (r.status === 'Failed') {
    throw new OperationError('TrainingFailed', `Training job ${r.jobName} failed: ${r.failureReason ?? 'SageMaker gave no reason'}`, {
      hint: `The job's full log: \`mlops logs ${r.jobName} --debug\` (or CloudWatch group /aws/sagemaker/TrainingJobs).`,
      details: { ...r },
    })
  }
  if (r.status === 'Stopped') {
    const why = r.secondaryStatus && r.secondaryStatus !== 'Stopped' ? ` (${r.secondaryStatus})` : ''
    throw new OperationError(
      'TrainingStopped',
      `Training job ${r.jobName} was stopped${why}${r.failureReason ? `: ${r.failureReason}` : ''}; no model was recorded for deploy.`,
      {
        hint:
          r.secondaryStatus === 'MaxRuntimeExceeded'
            ? 'Raise training.maxRuntime, or train for fewer epochs.'
            : `Run \`mlops train\` again to start a new job.`,
        details: { ...r },
      },
    )
  }
}

export interface FollowOptions {
  readonly ui: Ui
  readonly jobName: string
  readonly timeoutSeconds: number
  readonly clock: Clock
  readonly signal: AbortSignal
  /** Every log line, not just metric lines (--debug). */
  readonly showAll: boolean
  readonly decideInterrupt: (jobName: string) => Promise<InterruptChoice>
  readonly intervalMs?: number
}

/** What a finished wait gives `train` and `logs`. */
export interface FollowedJob {
  readonly job: DescribeTrainingJobResponse
  /** Latest value of each metric from the job's log lines. */
  readonly logMetrics: Metrics
  /** One entry per epoch line seen. */
  readonly epochs: readonly Metrics[]
  readonly logStreams: readonly string[]
}

/** Whether a line belongs in the live view: metric lines always, everything with --debug. */
export function isShownLine(line: LogLine, all: boolean): boolean {
  return all || parseMetricLine(line.message) !== undefined
}

/**
 * The wait with its live view: a status line (Starting, Downloading, Training, Uploading, ...),
 * each host's metric lines, and the deadline. Ctrl-C asks to stop or detach.
 */
export async function followTrainingJob(clients: { sagemaker: SageMakerClient; logs: CloudWatchLogsClient }, o: FollowOptions): Promise<FollowedJob> {
  const { ui } = o
  const deadline = new Date(o.clock.now() + o.timeoutSeconds * 1000)
  ui.step(
    `Waiting for ${o.jobName} (deadline ${formatDuration(o.timeoutSeconds)}, at ${deadline.toISOString().slice(11, 16)} UTC). Ctrl-C to stop the job or detach.`,
  )
  let text = `${o.jobName}: waiting for status`
  let spin: Spinner = ui.spinner(text)
  const printLines = (lines: string[]) => {
    // An ora spinner redraws its line; stop it around the lines so they are not overdrawn.
    if (ui.interactive) spin.stop()
    for (const l of lines) ui.info(l)
    if (ui.interactive) spin = ui.spinner(text)
  }
  try {
    const watched = await watchTrainingJob(clients, {
      jobName: o.jobName,
      timeoutSeconds: o.timeoutSeconds,
      clock: o.clock,
      signal: o.signal,
      ...(o.intervalMs ? { intervalMs: o.intervalMs } : {}),
      onStatus: (v) => {
        text = `${o.jobName}: ${v.secondaryStatus ?? v.status}${v.message ? ` — ${v.message}` : ''} (${formatDuration(v.elapsedMs / 1000)})`
        spin.update(text)
      },
      onLog: (l: LogLine) => {
        if (isShownLine(l, o.showAll)) printLines([`  [${l.host}] ${l.message}`])
      },
      onRetry: (m) => ui.debug(m),
    })
    const logMetrics = latestMetrics(watched.logLines)
    if (!watched.ended) throw deadlineReached(o, watched.job, logMetrics)
    return { job: watched.job, logMetrics, epochs: epochHistory(watched.logLines), logStreams: watched.logStreams }
  } catch (err) {
    if (err instanceof InterruptedError && o.signal.aborted) {
      spin.stop()
      return interruptTrainingWait(clients.sagemaker, o.jobName, o.decideInterrupt, o.clock)
    }
    throw credentialsLapsedDuringWait(err, 'Training job', o.jobName)
  } finally {
    spin.stop()
  }
}

/**
 * Credentials that lapse during a long wait (an SSO session expires) are not the user's bad input:
 * the job was created and keeps running and billing. Exit 1, and say how to re-attach (issue 14
 * item 9). Any other error comes back unchanged.
 */
export function credentialsLapsedDuringWait(err: unknown, what: 'Training job' | 'Tuning job', name: string): unknown {
  if (!(err instanceof UserError && err.code === 'NoCredentials')) return err
  return new OperationError('CredentialsExpiredDuringWait', `${what} ${name} is still running on AWS, but the AWS credentials expired while waiting for it.`, {
    hint: `Refresh them (for example \`aws sso login\`), then re-attach with \`mlops logs ${name}\`; stop it with \`mlops logs ${name} --stop\`.`,
    cause: err,
    details: { [what === 'Training job' ? 'jobName' : 'tuningJobName']: name, status: 'InProgress' },
  })
}

/** The wait ran out before the job did: exit 1, and the job is still running. */
function deadlineReached(o: Pick<FollowOptions, 'jobName' | 'timeoutSeconds'>, lastJob: DescribeTrainingJobResponse | undefined, logMetrics: Metrics) {
  const status = lastJob?.SecondaryStatus ?? lastJob?.TrainingJobStatus ?? 'unknown'
  return new OperationError(
    'DeadlineReached',
    `Training job ${o.jobName} is still running (${status}) after the ${formatDuration(o.timeoutSeconds)} wait deadline.`,
    {
      hint: `It keeps running (and billing) on AWS. Re-attach with \`mlops logs ${o.jobName}\`, or stop it with \`mlops logs ${o.jobName} --stop\`.`,
      details: { jobName: o.jobName, status: lastJob?.TrainingJobStatus, secondaryStatus: lastJob?.SecondaryStatus, logMetrics },
    },
  )
}
