import type { CommandContext } from '../../context.js'
import { WAIT_MARGIN_SECONDS } from './request.js'
import { UserError } from '../../shared/errors.js'
import { planToJson, type PlannedOperation } from '../../shared/plan.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { failUnlessCompleted, followTrainingJob, recordTrainingResult, summarizeTrainingJob, type TrainingResult } from './follow.js'
import { describeTrainingJob, stopTrainingJob, type InterruptChoice } from '../../aws/sagemaker/training-wait.js'
import { describeTuningJob, followTuningJob, stopTuningJob, type TuningResult } from './tune.js'
import { isNotFound } from '../../aws/errors.js'

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

export type LogsOutcome =
  | { readonly kind: 'dry-run'; readonly result: Record<string, unknown>; readonly plan: PlannedOperation[] }
  | { readonly kind: 'training'; readonly result: TrainingResult }
  | { readonly kind: 'tuning'; readonly result: TuningResult }

export async function runLogs(ctx: CommandContext, opts: LogsOptions): Promise<LogsOutcome> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const state = ctx.state()
  const recorded = [...(await state.list('training-job')), ...(await state.list('tuning-job'))].sort((a, b) => a.createdAt.localeCompare(b.createdAt))
  const name = opts.jobName ?? recorded.at(-1)?.name
  if (!name) {
    throw new UserError('NoJobName', 'Which job? No training or tuning job is recorded in this project yet.', {
      hint: 'Pass the job name: `mlops logs <job-name>` (the name `mlops train` printed).',
    })
  }
  const record = recorded.filter((r) => r.name === name).at(-1)

  if (ctx.dryRun) {
    const plan: PlannedOperation[] = [
      { service: 'sagemaker', operation: 'DescribeTrainingJob', input: { TrainingJobName: name }, note: 'status, then until it ends' },
      ...(opts.stop ? [{ service: 'sagemaker', operation: 'StopTrainingJob', input: { TrainingJobName: name } }] : []),
      {
        service: 'logs',
        operation: 'DescribeLogStreams',
        input: { logGroupName: TRAINING_LOG_GROUP, logStreamNamePrefix: `${name}/` },
        note: 'then GetLogEvents per host stream',
      },
    ]
    return { kind: 'dry-run', plan, result: { dryRun: true, jobName: name, operations: planToJson(plan) } }
  }

  const clients = await ctx.clients(['sagemaker', 'logs'], cfg)
  let job
  if (record?.kind !== 'tuning-job') {
    try {
      job = await describeTrainingJob(clients.sagemaker, name, { clock: ctx.clock, signal: ctx.signal, onRetry: (m) => ctx.ui.debug(m) })
    } catch (err) {
      const tuning =
        err instanceof UserError && err.code === 'TrainingJobNotFound' && name.length <= 32
          ? await describeTuningJob(clients.sagemaker, name, ctx.clock, ctx.signal).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)))
          : undefined
      if (!tuning) throw err
    }
  }

  if (!job) {
    // A tuning job.
    if (opts.stop) {
      await stopTuningJob(clients.sagemaker, name, ctx.clock)
      ctx.ui.success(`Asked SageMaker to stop tuning job ${name} and its training jobs.`)
      return { kind: 'tuning', result: { tuningJobName: name, status: 'Stopping', region } }
    }
    const t = await describeTuningJob(clients.sagemaker, name, ctx.clock, ctx.signal)
    const maxRuntime = t.TrainingJobDefinition?.StoppingCondition?.MaxRuntimeInSeconds ?? 86_400
    const limits = t.HyperParameterTuningJobConfig?.ResourceLimits
    const rounds = Math.ceil((limits?.MaxNumberOfTrainingJobs ?? 1) / (limits?.MaxParallelTrainingJobs ?? 1))
    const timeoutSeconds = opts.timeoutSeconds ?? remainingSeconds(ctx.clock.now(), t.CreationTime, maxRuntime * rounds)
    const result = await followTuningJob(ctx, clients.sagemaker, name, { timeoutSeconds, decideInterrupt: opts.decideInterrupt, intervalMs: opts.intervalMs })
    return { kind: 'tuning', result }
  }

  const createdAt = record?.createdAt ?? (job.CreationTime ? new Date(job.CreationTime).toISOString() : new Date(ctx.clock.now()).toISOString())
  if (opts.stop) {
    const status = await stopTrainingJob(clients.sagemaker, name, ctx.clock, (m) => ctx.ui.debug(m))
    ctx.ui.success(`Asked SageMaker to stop training job ${name} (${status}).`)
    const result = summarizeTrainingJob({ ...job, TrainingJobStatus: status as never }, region)
    await recordTrainingResult(state, result, createdAt)
    return { kind: 'training', result }
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
  const result = summarizeTrainingJob(watched.job, region, watched.logMetrics, { logStreams: watched.logStreams })
  await recordTrainingResult(state, result, createdAt)
  failUnlessCompleted(result, ctx.ui)
  return { kind: 'training', result }
}

/** What is left of the job's own limit (plus the margin), at least 10 minutes. */
function remainingSeconds(nowMs: number, created: Date | undefined, limitSeconds: number): number {
  const elapsed = created ? (nowMs - new Date(created).getTime()) / 1000 : 0
  return Math.max(600, Math.round(limitSeconds - elapsed + WAIT_MARGIN_SECONDS))
}
