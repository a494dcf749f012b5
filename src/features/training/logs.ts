import type { DescribeTrainingJobResponse, SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { CommandContext } from '../../context.js'
import { WAIT_MARGIN_SECONDS } from './request.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateRecord } from '../../shared/state.js'
import type { AwsClients } from '../../aws/clients.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { failUnlessCompleted, followTrainingJob, recordTrainingResult, summarizeTrainingJob, type TrainingResult } from './follow.js'
import { describeTrainingJob, stopTrainingJob } from '../../aws/sagemaker/training-wait.js'
import { describeTuningJob, stopTuningJob } from '../../aws/sagemaker/tuning-job.js'
import { followTuningJob, type TuningResult } from './tune.js'
import { tuningRounds } from './tuning-request.js'
import type { InterruptChoice } from './interrupt.js'
import { isNotFound } from '../../aws/error-translation.js'

/**
 * `mlops logs [job]`: re-attach to a training job (or a tuning job) started earlier, from this
 * machine or another: replay its metric lines, follow it to the end, report and record the result
 * exactly as `train` would have. `--stop` stops it instead.
 */

export interface LogsOptions {
  /** Job name; default: the newest training or tuning job in the state file. */
  readonly jobName?: string
  readonly stop: boolean
  readonly timeoutSeconds?: number
  readonly decideInterrupt: (name: string) => Promise<InterruptChoice>
  readonly intervalMs?: number
}

/** A training job's result, or a tuning job's (it has `tuningJobName`). */
export type LogsResult = TrainingResult | TuningResult

export type LogsOutcome = Outcome<LogsResult, { readonly jobName: string }>

type LogsClients = Pick<AwsClients, 'sagemaker' | 'logs'>

export async function runLogs(ctx: CommandContext, opts: LogsOptions): Promise<LogsOutcome> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const { name, record } = await chooseJob(ctx, opts.jobName)
  if (ctx.dryRun) return planLogs(name, opts.stop)
  const clients = await ctx.clients(['sagemaker', 'logs'], cfg)
  const job = record?.kind === 'tuning-job' ? undefined : await describeTrainingOrTuning(ctx, clients.sagemaker, name)
  if (!job) return done(await attachTuningJob(ctx, clients.sagemaker, name, region, opts))
  return done(await attachTrainingJob(ctx, clients, job, record, region, opts))
}

/** The named job, or the newest one in the state file. */
async function chooseJob(ctx: CommandContext, jobName: string | undefined): Promise<{ name: string; record?: StateRecord }> {
  const state = ctx.state()
  const recorded = [...(await state.list('training-job')), ...(await state.list('tuning-job'))].sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  const name = jobName ?? recorded.at(-1)?.name
  if (!name) {
    throw new UserError('NoJobName', 'Which job? No training or tuning job is recorded in this project yet.', {
      hint: 'Pass the job name: `mlops logs <job-name>` (the name `mlops train` printed).',
    })
  }
  const record = recorded.filter((r) => r.name === name).at(-1)
  return { name, ...(record ? { record } : {}) }
}

function planLogs(name: string, stop: boolean): LogsOutcome {
  const operations: PlannedOperation[] = [
    { service: 'sagemaker', operation: 'DescribeTrainingJob', input: { TrainingJobName: name }, note: 'status, then until it ends' },
    ...(stop ? [{ service: 'sagemaker', operation: 'StopTrainingJob', input: { TrainingJobName: name } }] : []),
    {
      service: 'logs',
      operation: 'DescribeLogStreams',
      input: { logGroupName: TRAINING_LOG_GROUP, logStreamNamePrefix: `${name}/` },
      note: 'then GetLogEvents per host stream',
    },
  ]
  return planned({ title: 'mlops logs', operations, details: { jobName: name } })
}

/** The training job of that name; undefined when there is none but a tuning job has the name. */
async function describeTrainingOrTuning(ctx: CommandContext, sagemaker: SageMakerClient, name: string): Promise<DescribeTrainingJobResponse | undefined> {
  try {
    return await describeTrainingJob(sagemaker, name, { clock: ctx.clock, signal: ctx.signal, onRetry: (m) => ctx.ui.debug(m) })
  } catch (err) {
    const tuning =
      err instanceof UserError && err.code === 'TrainingJobNotFound' && name.length <= 32
        ? await describeTuningJob(sagemaker, name, ctx.clock, ctx.signal).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)))
        : undefined
    if (!tuning) throw err
    return undefined
  }
}

async function attachTuningJob(ctx: CommandContext, sagemaker: SageMakerClient, name: string, region: string, opts: LogsOptions): Promise<TuningResult> {
  if (opts.stop) {
    await stopTuningJob(sagemaker, name, ctx.clock)
    ctx.ui.success(`Asked SageMaker to stop tuning job ${name} and its training jobs.`)
    return { tuningJobName: name, status: 'Stopping', region }
  }
  const t = await describeTuningJob(sagemaker, name, ctx.clock, ctx.signal)
  const maxRuntime = t.TrainingJobDefinition?.StoppingCondition?.MaxRuntimeInSeconds ?? 86_400
  const limits = t.HyperParameterTuningJobConfig?.ResourceLimits
  const rounds = tuningRounds(limits?.MaxNumberOfTrainingJobs ?? 1, limits?.MaxParallelTrainingJobs ?? 1)
  const timeoutSeconds = opts.timeoutSeconds ?? remainingSeconds(ctx.clock.now(), t.CreationTime, maxRuntime * rounds)
  return followTuningJob(ctx, sagemaker, name, { timeoutSeconds, decideInterrupt: opts.decideInterrupt, intervalMs: opts.intervalMs })
}

async function attachTrainingJob(
  ctx: CommandContext,
  clients: LogsClients,
  job: DescribeTrainingJobResponse,
  record: StateRecord | undefined,
  region: string,
  opts: LogsOptions,
): Promise<TrainingResult> {
  const name = job.TrainingJobName!
  const state = ctx.state()
  const createdAt = record?.createdAt ?? (job.CreationTime ? new Date(job.CreationTime).toISOString() : new Date(ctx.clock.now()).toISOString())
  if (opts.stop) {
    const status = await stopTrainingJob(clients.sagemaker, name, ctx.clock, (m) => ctx.ui.debug(m))
    ctx.ui.success(`Asked SageMaker to stop training job ${name} (${status}).`)
    const result = summarizeTrainingJob({ ...job, TrainingJobStatus: status as never }, region)
    await recordTrainingResult(state, result, createdAt)
    return result
  }
  const limit = job.StoppingCondition?.MaxWaitTimeInSeconds ?? job.StoppingCondition?.MaxRuntimeInSeconds ?? 86_400
  const timeoutSeconds = opts.timeoutSeconds ?? remainingSeconds(ctx.clock.now(), job.CreationTime, limit)
  const watched = await followTrainingJob(clients, {
    ui: ctx.ui,
    jobName: name,
    timeoutSeconds,
    clock: ctx.clock,
    signal: ctx.signal,
    showAll: Boolean(ctx.globals.debug),
    decideInterrupt: opts.decideInterrupt,
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
  })
  const result = summarizeTrainingJob(watched.job, region, watched.logMetrics, { logStreams: watched.logStreams, epochs: watched.epochs })
  await recordTrainingResult(state, result, createdAt)
  failUnlessCompleted(result, ctx.ui)
  return result
}

/** What is left of the job's own limit (plus the margin), at least 10 minutes. */
function remainingSeconds(nowMs: number, created: Date | undefined, limitSeconds: number): number {
  const elapsed = created ? (nowMs - new Date(created).getTime()) / 1000 : 0
  return Math.max(600, Math.round(limitSeconds - elapsed + WAIT_MARGIN_SECONDS))
}
