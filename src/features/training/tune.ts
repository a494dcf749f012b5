import {
  CreateHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommand,
  StopHyperParameterTuningJobCommand,
  type CreateTrainingJobRequest,
  type DescribeHyperParameterTuningJobResponse,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import type { CommandContext } from '../../context.js'
import { trainingSummaryLines } from './render.js'
import { decodeHyperparameter, estimateTrainingCost, trainingSettings, WAIT_MARGIN_SECONDS, type CostEstimate, type TrainingOverrides } from './request.js'
import { buildTuningJobRequest, tuningRounds, tuningSettings, type TuningOverrides, type TuningSettings } from './tuning.js'
import { AbortError, InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { resourceNames, shortTimestamp, uniqueName } from '../../shared/naming.js'
import { PLACEHOLDER, planToJson, type PlannedOperation } from '../../shared/plan.js'
import { formatUsd } from '../../shared/pricing.js'
import type { StateStore } from '../../shared/state.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { getAccountId } from '../../aws/sts/account.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../../aws/errors.js'
import { executionRoleArnFor } from '../../shared/roles/execution-role.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { retryWhileIamPropagates } from '../../aws/iam/roles.js'
import { checkChannels, planLaunchPrerequisites, prepareCode, prepareLaunch, trainingChannels } from './launch.js'
import { recordTrainingResult, summarizeTrainingJob } from './follow.js'
import { isThrottling, withRetry } from '../../aws/retry.js'
import { describeTrainingJob, type InterruptChoice } from '../../aws/sagemaker/training-wait.js'

/**
 * `mlops tune`: one CreateHyperParameterTuningJob with the ranges and objective from the config,
 * a wait with progress (jobs done, best so far), then the best training job, its hyperparameters
 * and its model recorded for `deploy`.
 */

/** Tuning jobs change slowly (each child takes minutes): look every 30 s, like the SDK. */
export const TUNING_POLL_MS = 30_000

export interface TuneOptions {
  readonly training: TrainingOverrides
  readonly tuning: TuningOverrides
  readonly wait: boolean
  readonly timeoutSeconds?: number
  readonly decideInterrupt: (name: string) => Promise<InterruptChoice>
  readonly intervalMs?: number
}

export interface BestJob {
  readonly trainingJobName: string
  readonly status?: string
  readonly objective?: { readonly metric?: string; readonly value?: number }
  readonly hyperparameters: Record<string, string | number | boolean>
  readonly modelArtifact?: string
}

export interface TuningResult {
  readonly tuningJobName: string
  readonly status: string
  readonly failureReason?: string
  readonly strategy?: string
  readonly objective?: { readonly metric?: string; readonly type?: string }
  readonly jobs?: { readonly completed: number; readonly inProgress: number; readonly failed: number; readonly stopped: number }
  readonly bestTrainingJob?: BestJob
  readonly distribution?: { readonly mode: string; readonly reason: string }
  readonly estimatedCost?: CostEstimate
  readonly region: string
}

export type TuneOutcome =
  | { readonly kind: 'dry-run'; readonly result: Record<string, unknown>; readonly plan: PlannedOperation[]; readonly notes: string[] }
  | { readonly kind: 'done'; readonly result: TuningResult }

/** How many training jobs the tuning job may run (Grid: every combination). */
export function plannedJobs(t: TuningSettings): number {
  if (t.strategy !== 'Grid') return t.maxJobs
  return Object.values(t.ranges).reduce((n, r) => n * (r.type === 'categorical' ? r.values.length : 1), 1)
}

export async function runTune(ctx: CommandContext, opts: TuneOptions): Promise<TuneOutcome> {
  const cfg = await ctx.config()
  const training = trainingSettings(cfg, opts.training)
  const tuning = tuningSettings(cfg, opts.tuning, training)
  const region = ctx.awsSettings(cfg).region
  const jobName = uniqueName(resourceNames(cfg).tuningJobBase, new Date(ctx.clock.now()), 32, shortTimestamp)
  const jobs = plannedJobs(tuning)
  const estimatedCost = estimateTrainingCost(training, jobs)
  const rounds = tuning.strategy === 'Grid' ? Math.ceil(jobs / tuning.maxParallelJobs) : tuningRounds(tuning)
  const timeoutSeconds = opts.timeoutSeconds ?? (training.spot ? training.maxWaitSeconds : training.maxRuntimeSeconds) * rounds + WAIT_MARGIN_SECONDS
  const code = await prepareCode(cfg, (x) => ctx.resolvePath(x))
  const channels = trainingChannels(cfg)
  const build = (roleArn: string) => buildTuningJobRequest({ cfg, training, tuning, jobName, region, roleArn, codeUri: code.uri, channels })
  const summary = (plan: ReturnType<typeof build>) => [
    ...trainingSummaryLines({
      cfg,
      settings: training,
      jobName,
      region,
      timeoutSeconds,
      estimatedCost,
      distribution: plan.distribution,
      codeUri: code.uri,
      jobs,
      request: {
        ...plan.request.TrainingJobDefinition,
        AlgorithmSpecification: plan.request.TrainingJobDefinition?.AlgorithmSpecification,
      } as CreateTrainingJobRequest,
    }),
    `  ${'objective'.padEnd(14)} ${tuning.objective.type} ${tuning.objective.metric} (regex ${tuning.objective.regex})`,
    `  ${'strategy'.padEnd(14)} ${tuning.strategy}, ${jobs} jobs, ${tuning.maxParallelJobs} in parallel, early stopping ${plan.request.HyperParameterTuningJobConfig?.TrainingJobEarlyStoppingType}`,
    `  ${'ranges'.padEnd(14)} ${Object.entries(tuning.ranges)
      .map(([k, r]) => `${k} ${r.type === 'categorical' ? `[${r.values.join(', ')}]` : `${r.min}..${r.max}${r.scaling !== 'Auto' ? ` ${r.scaling}` : ''}`}`)
      .join('; ')}`,
  ]

  if (ctx.dryRun) {
    const plan = build(executionRoleArnFor(cfg, roleTarget(PLACEHOLDER.accountId, region)))
    const operations: PlannedOperation[] = [
      ...planLaunchPrerequisites(cfg, region, channels, code),
      { service: 'sagemaker', operation: 'CreateHyperParameterTuningJob', input: plan.request },
      ...(opts.wait
        ? [
            {
              service: 'sagemaker',
              operation: 'DescribeHyperParameterTuningJob',
              input: { HyperParameterTuningJobName: jobName },
              note: `every ${TUNING_POLL_MS / 1000}s until it ends (wait deadline ${timeoutSeconds}s)`,
            },
            {
              service: 'sagemaker',
              operation: 'DescribeTrainingJob',
              input: { TrainingJobName: '<best-training-job>' },
              note: 'the best job: its hyperparameters and model artifact',
            },
          ]
        : []),
    ]
    return {
      kind: 'dry-run',
      plan: operations,
      notes: summary(plan),
      result: {
        dryRun: true,
        tuningJobName: jobName,
        objective: { metric: tuning.objective.metric, type: tuning.objective.type },
        strategy: tuning.strategy,
        distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
        estimatedCost,
        timeoutSeconds,
        operations: planToJson(operations),
      },
    }
  }

  const { ui } = ctx
  const clients = await ctx.clients(['sagemaker', 's3', 'iam', 'sts', 'logs'], cfg)
  await checkChannels(clients.s3, channels)
  const accountId = cfg.training.roleArn ? undefined : await getAccountId(clients.sts)
  const plannedRole = cfg.training.roleArn ?? executionRoleArnFor(cfg, roleTarget(accountId!, region))
  const plan = build(plannedRole)
  for (const line of summary(plan)) ui.info(line)
  if (!(await ui.confirm(`Start tuning job ${jobName} (${jobs} training jobs, up to ${formatUsd(estimatedCost.maxUsd)})?`))) throw new AbortError()

  const state = ctx.state()
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const { roleArn } = await prepareLaunch(ctx, clients, cfg, region, code, accountId, { state, createdAt })
  const request = roleArn === plannedRole ? plan.request : build(roleArn).request
  await retryWhileIamPropagates(
    () =>
      callAws({ service: 'sagemaker', operation: 'CreateHyperParameterTuningJob', resource: jobName }, async () => {
        try {
          return await withRetry(() => clients.sagemaker.send(new CreateHyperParameterTuningJobCommand(request)), {
            clock: ctx.clock,
            signal: ctx.signal,
            retryable: isThrottling,
          })
        } catch (err) {
          if (isAwsErrorNamed(err, 'ResourceInUse', 'ResourceInUseException') || /already exists/i.test((err as Error).message ?? '')) {
            throw new UserError('TuningJobExists', `A tuning job named ${jobName} already exists (names carry the minute, and are limited to 32 characters).`, {
              hint: 'Wait a minute and run `mlops tune` again.',
              cause: err,
            })
          }
          throw err
        }
      }),
    { clock: ctx.clock, signal: ctx.signal },
  )
  ui.success(`Started tuning job ${jobName}: ${jobs} jobs on ${training.instanceCount} × ${training.instanceType}, ${tuning.maxParallelJobs} at a time`)
  const base: TuningResult = {
    tuningJobName: jobName,
    status: 'InProgress',
    strategy: tuning.strategy,
    objective: { metric: tuning.objective.metric, type: tuning.objective.type },
    distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
    estimatedCost,
    region,
  }
  await recordTuning(state, base, createdAt)
  if (!opts.wait) return { kind: 'done', result: base }
  const result = await followTuningJob(ctx, clients.sagemaker, jobName, {
    timeoutSeconds,
    decideInterrupt: opts.decideInterrupt,
    intervalMs: opts.intervalMs,
    base,
  })
  return { kind: 'done', result }
}

function counts(d: DescribeHyperParameterTuningJobResponse) {
  const c = d.TrainingJobStatusCounters ?? {}
  return {
    completed: c.Completed ?? 0,
    inProgress: c.InProgress ?? 0,
    failed: (c.RetryableError ?? 0) + (c.NonRetryableError ?? 0),
    stopped: c.Stopped ?? 0,
  }
}

export async function describeTuningJob(
  sagemaker: SageMakerClient,
  name: string,
  clock: Clock,
  signal?: AbortSignal,
): Promise<DescribeHyperParameterTuningJobResponse> {
  return callAws({ service: 'sagemaker', operation: 'DescribeHyperParameterTuningJob', resource: name }, () =>
    withRetry(() => sagemaker.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })), { clock, signal }),
  )
}

/** Waits for a tuning job (new or re-attached), then reports and records its best training job. */
export async function followTuningJob(
  ctx: CommandContext,
  sagemaker: SageMakerClient,
  jobName: string,
  o: { timeoutSeconds: number; decideInterrupt: (name: string) => Promise<InterruptChoice>; intervalMs?: number; base?: Partial<TuningResult> },
): Promise<TuningResult> {
  const { ui } = ctx
  const region = ctx.awsSettings(await ctx.config()).region
  ui.step(`Waiting for tuning job ${jobName} (deadline ${formatDuration(o.timeoutSeconds)}). Ctrl-C to stop it or detach.`)
  const spin = ui.spinner(`${jobName}: waiting for status`)
  let desc: DescribeHyperParameterTuningJobResponse
  try {
    desc = await pollUntil({
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: o.timeoutSeconds * 1000,
      intervalMs: o.intervalMs ?? TUNING_POLL_MS,
      what: `tuning job ${jobName}`,
      rerunHint: `Re-attach with \`mlops logs ${jobName}\`.`,
      check: async () => {
        const d = await describeTuningJob(sagemaker, jobName, ctx.clock, ctx.signal)
        const n = counts(d)
        const best = d.BestTrainingJob?.FinalHyperParameterTuningJobObjectiveMetric
        const status = `${jobName}: ${d.HyperParameterTuningJobStatus} — ${n.completed} done, ${n.inProgress} running, ${n.failed} failed${best ? `; best ${best.MetricName}=${best.Value}` : ''}`
        spin.update(status)
        return { done: ['Completed', 'Failed', 'Stopped'].includes(d.HyperParameterTuningJobStatus ?? ''), value: d, status }
      },
    })
  } catch (err) {
    spin.stop()
    if (err instanceof InterruptedError && ctx.signal.aborted) return interruptTuning(sagemaker, jobName, o.decideInterrupt, ctx.clock)
    if (err instanceof OperationError && err.code === 'DeadlineReached') {
      throw new OperationError('DeadlineReached', `Tuning job ${jobName} is still running after the ${formatDuration(o.timeoutSeconds)} wait deadline.`, {
        hint: `It keeps running (and billing) on AWS. Re-attach with \`mlops logs ${jobName}\`, or stop it with \`mlops logs ${jobName} --stop\`.`,
        details: { tuningJobName: jobName },
      })
    }
    throw err
  } finally {
    spin.stop()
  }
  const result = await finishTuningJob(ctx, sagemaker, desc, region, o.base ?? {})
  return result
}

/** Reads the best training job, records it for `deploy`, and fails (exit 1) for a failed or fruitless tuning job. */
async function finishTuningJob(
  ctx: CommandContext,
  sagemaker: SageMakerClient,
  d: DescribeHyperParameterTuningJobResponse,
  region: string,
  base: Partial<TuningResult>,
): Promise<TuningResult> {
  const name = d.HyperParameterTuningJobName!
  const cfgObjective = d.HyperParameterTuningJobConfig?.HyperParameterTuningJobObjective
  const b = d.BestTrainingJob
  let best: BestJob | undefined
  if (b?.TrainingJobName) {
    let modelArtifact: string | undefined
    try {
      const job = await describeTrainingJob(sagemaker, b.TrainingJobName, { clock: ctx.clock })
      const summary = summarizeTrainingJob(job, region)
      modelArtifact = summary.modelArtifact
      await recordTrainingResult(ctx.state(), summary, new Date(ctx.clock.now()).toISOString(), 'tuning')
    } catch (err) {
      if (!(err instanceof UserError && err.code === 'TrainingJobNotFound')) throw err
      ctx.ui.warn(`SageMaker names ${b.TrainingJobName} as the best job but cannot describe it; no model recorded for deploy.`)
    }
    best = {
      trainingJobName: b.TrainingJobName,
      ...(b.TrainingJobStatus ? { status: b.TrainingJobStatus } : {}),
      objective: { metric: b.FinalHyperParameterTuningJobObjectiveMetric?.MetricName, value: b.FinalHyperParameterTuningJobObjectiveMetric?.Value },
      hyperparameters: Object.fromEntries(Object.entries(b.TunedHyperParameters ?? {}).map(([k, v]) => [k, decodeHyperparameter(v)])),
      ...(modelArtifact ? { modelArtifact } : {}),
    }
  }
  const result: TuningResult = {
    ...base,
    tuningJobName: name,
    status: d.HyperParameterTuningJobStatus ?? 'Unknown',
    ...(d.FailureReason ? { failureReason: d.FailureReason } : {}),
    strategy: d.HyperParameterTuningJobConfig?.Strategy ?? base.strategy,
    objective: { metric: cfgObjective?.MetricName, type: cfgObjective?.Type },
    jobs: counts(d),
    ...(best ? { bestTrainingJob: best } : {}),
    region,
  }
  await recordTuning(ctx.state(), result, new Date(ctx.clock.now()).toISOString())
  if (result.status === 'Failed' || result.status === 'Stopped') {
    throw new OperationError(
      result.status === 'Failed' ? 'TuningFailed' : 'TuningStopped',
      `Tuning job ${name} ${result.status === 'Failed' ? 'failed' : 'was stopped'}${d.FailureReason ? `: ${d.FailureReason}` : ''}.`,
      {
        hint: best
          ? `The best job so far is ${best.trainingJobName}.`
          : `See the children with \`aws sagemaker list-training-jobs-for-hyper-parameter-tuning-job --hyper-parameter-tuning-job-name ${name}\`.`,
        details: { ...result },
      },
    )
  }
  if (!best) {
    throw new OperationError('NoBestTrainingJob', `Tuning job ${name} finished without a best training job: no child reported ${cfgObjective?.MetricName}.`, {
      hint: 'Check that train.py prints the objective metric (for example `epoch=1 ... val_accuracy=0.5`) and that the children did not fail.',
      details: { ...result },
    })
  }
  return result
}

async function recordTuning(state: StateStore, r: TuningResult, createdAt: string): Promise<void> {
  await state.record({
    kind: 'tuning-job',
    name: r.tuningJobName,
    region: r.region,
    createdAt,
    details: {
      status: r.status,
      ...(r.bestTrainingJob ? { bestTrainingJob: r.bestTrainingJob.trainingJobName } : {}),
      ...(r.bestTrainingJob?.modelArtifact ? { modelArtifact: r.bestTrainingJob.modelArtifact } : {}),
    },
  })
}

/** Ctrl-C during a tuning wait: StopHyperParameterTuningJob (stops every child) or detach. */
async function interruptTuning(sagemaker: SageMakerClient, name: string, decide: (n: string) => Promise<InterruptChoice>, clock: Clock): Promise<never> {
  const choice = await decide(name).catch(() => 'detach' as const)
  if (choice === 'stop') {
    await stopTuningJob(sagemaker, name, clock)
    throw new InterruptedError(`Interrupted: stopped tuning job ${name} and its training jobs.`, { details: { tuningJobName: name, action: 'stopped' } })
  }
  throw new InterruptedError(`Interrupted: detached from tuning job ${name}; it is still running (and billing) on AWS.`, {
    hint: `Re-attach with \`mlops logs ${name}\`; stop it with \`mlops logs ${name} --stop\`.`,
    details: { tuningJobName: name, action: 'detached' },
  })
}

export async function stopTuningJob(sagemaker: SageMakerClient, name: string, clock: Clock): Promise<void> {
  await callAws({ service: 'sagemaker', operation: 'StopHyperParameterTuningJob', resource: name }, async () => {
    try {
      await withRetry(() => sagemaker.send(new StopHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })), { clock, attempts: 4 })
    } catch (err) {
      if (isAwsErrorNamed(err, 'ValidationException') && !isNotFound(err)) return // already finished
      throw err
    }
  })
}
