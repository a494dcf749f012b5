import { destinationsOf, type NotifyDestination, type NotifyRun, type NotifySummary } from '../../shared/notify-spec.js'
import { armRunNotify, notifyRunOf, planRunNotify } from './notify-run.js'
import { trainingQuotaNeeds, type QuotaNeed } from '../../shared/preflight.js'
import { tuningJobConsoleUrl } from '../../aws/console-links.js'
import type { CreateTrainingJobRequest, DescribeHyperParameterTuningJobResponse, SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import { trainingSummaryLines } from './render.js'
import {
  decodeHyperparameter,
  defaultWaitSeconds,
  estimateTrainingCost,
  trainingImage,
  trainingImageNotice,
  trainingSettings,
  type Channels,
  type CostEstimate,
  type TrainingOverrides,
  type TrainingSettings,
} from './request.js'
import { buildTuningJobRequest, tuningRounds, tuningSettings, type TuningOverrides, type TuningRequestPlan, type TuningSettings } from './tuning-request.js'
import { AbortError, InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { resourceNames, shortTimestamp, uniqueName } from '../../shared/naming.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { formatUsd } from '../../shared/pricing.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import type { StateStore } from '../../shared/state.js'
import { pollUntil } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { getAccountId } from '../../aws/sts/account.js'
import { getProductsInput, instancePriceQuery } from '../../aws/pricing/products.js'
import type { AwsClients } from '../../aws/clients.js'
import { executionRoleArnFor } from '../../shared/roles/execution-role.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { checkChannels, planLaunchPrerequisites, prepareCode, prepareLaunch, trainingChannels, type PreparedCode } from './launch.js'
import { credentialsLapsedDuringWait, recordTrainingResult, summarizeTrainingJob } from './follow.js'
import { describeTrainingJob } from '../../aws/sagemaker/training-wait.js'
import { createTuningJob, describeTuningJob } from '../../aws/sagemaker/tuning-job.js'
import { interruptTuningWait, type InterruptChoice } from './interrupt.js'
import { tuneBudget, type TuneBudget } from './budget.js'
import { checkScriptHyperparameters } from '../../shared/hyperparameters.js'

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
  /** --budget in USD: derives the number of training jobs. */
  readonly budgetUsd?: number
  /** --notify: replaces the config's notify destinations. */
  readonly notify?: readonly NotifyDestination[]
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
  /** With --notify (or notify: in the config): where the tuning job's end is told. */
  readonly notifications?: NotifySummary
  /** The tuning job's page in the AWS console. */
  readonly consoleUrl?: string
}

/** What `tune --dry-run --json` prints beside `dryRun` and `operations`. */
export interface TunePlanDetails {
  readonly tuningJobName: string
  readonly objective: { readonly metric: string; readonly type: string }
  readonly strategy: string
  readonly distribution: { readonly mode: string; readonly reason: string }
  readonly estimatedCost: CostEstimate
  readonly timeoutSeconds: number
  /** With --budget: the arithmetic behind the number of jobs. */
  readonly budget?: TuneBudget
}

export type TuneOutcome = Outcome<TuningResult, TunePlanDetails>

/** How many training jobs the tuning job may run (Grid: every combination). */
export function plannedJobs(t: TuningSettings): number {
  if (t.strategy !== 'Grid') return t.maxJobs
  return Object.values(t.ranges).reduce((n, r) => n * (r.type === 'categorical' ? r.values.length : 1), 1)
}

/** Everything about the tuning job that is known before any AWS call. */
interface PreparedTune {
  readonly cfg: MlopsConfig
  readonly training: TrainingSettings
  readonly tuning: TuningSettings
  readonly region: string
  readonly jobName: string
  readonly jobs: number
  readonly budget?: TuneBudget
  readonly estimatedCost: CostEstimate
  readonly timeoutSeconds: number
  readonly code: PreparedCode
  readonly channels: Channels
  readonly build: (roleArn: string) => TuningRequestPlan
  readonly notify: readonly NotifyDestination[]
  readonly notifyRun: NotifyRun
}

type TuneClients = Pick<AwsClients, 'sagemaker' | 's3' | 'iam' | 'sts' | 'logs'>

export async function runTune(ctx: CommandContext, opts: TuneOptions): Promise<TuneOutcome> {
  const p = await prepareTune(ctx, opts)
  const plan = planTune(p, opts, ctx.preflightPlan(tuneQuotaNeeds(p)))
  if (ctx.dryRun) return plan
  const clients = await ctx.clients(['sagemaker', 's3', 'iam', 'sts', 'logs'], p.cfg)
  await ctx.preflight('tune', { quotas: tuneQuotaNeeds(p), operations: plan.plan.operations }, p.cfg)
  const base = await launchTune(ctx, clients, p)
  if (!opts.wait) return done(base)
  return done(
    await followTuningJob(ctx, clients.sagemaker, p.jobName, {
      timeoutSeconds: p.timeoutSeconds,
      decideInterrupt: opts.decideInterrupt,
      intervalMs: opts.intervalMs,
      base,
    }),
  )
}

async function prepareTune(ctx: CommandContext, opts: TuneOptions): Promise<PreparedTune> {
  const cfg = await ctx.config()
  const training = trainingSettings(cfg, opts.training)
  // One price book for the budget's arithmetic and the cost estimate, as train has.
  const prices = await ctx.prices([training.instanceType], 'training', cfg)
  const budget = opts.budgetUsd !== undefined ? tuneBudget(opts.budgetUsd, training, opts.tuning.maxJobs, prices) : undefined
  const tuning = tuningSettings(cfg, budget ? budgetedTuning(cfg, opts.tuning, budget) : opts.tuning, training)
  const region = ctx.awsSettings(cfg).region
  const imageNotice = trainingImageNotice(trainingImage(training, region), ctx.clock.now())
  if (imageNotice) ctx.ui.warn(imageNotice)
  const jobName = uniqueName(resourceNames(cfg).tuningJobBase, new Date(ctx.clock.now()), 32, shortTimestamp)
  const jobs = plannedJobs(tuning)
  if (budget && jobs > budget.jobs) {
    throw new UserError(
      'BudgetTooSmall',
      `--budget ${formatUsd(budget.budgetUsd)} covers ${budget.jobs} jobs, but the Grid strategy runs all ${jobs} combinations.`,
      {
        hint: `Raise --budget to ${formatUsd(Math.ceil(budget.perJobUsd * jobs * 100) / 100)}, or list fewer categorical values.`,
      },
    )
  }
  // plannedJobs is maxJobs except for Grid, which runs every combination.
  const timeoutSeconds = opts.timeoutSeconds ?? defaultWaitSeconds(training, tuningRounds(jobs, tuning.maxParallelJobs))
  const source = resolveTrainingSourceDir(cfg, ctx.projectDir)
  await checkScriptHyperparameters(
    { ui: ctx.ui, yes: Boolean(ctx.globals.yes), dryRun: ctx.dryRun },
    source.dir,
    cfg.training.hyperparameters,
    opts.training.hyperparameters,
    tuning.ranges,
  )
  const code = await prepareCode(cfg, source)
  const channels = trainingChannels(cfg)
  const estimatedCost = estimateTrainingCost(training, jobs, prices)
  return {
    cfg,
    training,
    tuning,
    region,
    jobName,
    jobs,
    ...(budget ? { budget } : {}),
    estimatedCost,
    timeoutSeconds,
    code,
    channels,
    build: (roleArn) => buildTuningJobRequest({ cfg, training, tuning, jobName, region, roleArn, codeUri: code.uri, channels }),
    notify: destinationsOf(cfg.notify, opts.notify),
    notifyRun: notifyRunOf('tuning', resourceNames(cfg).tuningJobBase, training.instanceType, estimatedCost.hourlyUsd),
  }
}

/** The budget's job count as the tuning overrides; the parallel jobs never exceed it. */
function budgetedTuning(cfg: MlopsConfig, o: TuningOverrides, budget: TuneBudget): TuningOverrides {
  const parallel = o.maxParallelJobs ?? cfg.training.tuning?.maxParallelJobs
  return { ...o, maxJobs: budget.jobs, ...(parallel !== undefined ? { maxParallelJobs: Math.min(parallel, budget.jobs) } : {}) }
}

function tuneSummaryLines(p: PreparedTune, plan: TuningRequestPlan): string[] {
  const { tuning } = p
  return [
    ...trainingSummaryLines({
      cfg: p.cfg,
      settings: p.training,
      jobName: p.jobName,
      region: p.region,
      timeoutSeconds: p.timeoutSeconds,
      estimatedCost: p.estimatedCost,
      distribution: plan.distribution,
      codeUri: p.code.uri,
      codeSource: p.code.source.description,
      jobs: p.jobs,
      ...(p.budget ? { budgetLine: p.budget.arithmetic } : {}),
      request: {
        ...plan.request.TrainingJobDefinition,
        AlgorithmSpecification: plan.request.TrainingJobDefinition?.AlgorithmSpecification,
      } as CreateTrainingJobRequest,
    }),
    `  ${'objective'.padEnd(14)} ${tuning.objective.type} ${tuning.objective.metric} (regex ${tuning.objective.regex})`,
    `  ${'strategy'.padEnd(14)} ${tuning.strategy}, ${p.jobs} jobs, ${tuning.maxParallelJobs} in parallel, early stopping ${plan.request.HyperParameterTuningJobConfig?.TrainingJobEarlyStoppingType}`,
    `  ${'ranges'.padEnd(14)} ${Object.entries(tuning.ranges)
      .map(([k, r]) => `${k} ${r.type === 'categorical' ? `[${r.values.join(', ')}]` : `${r.min}..${r.max}${r.scaling !== 'Auto' ? ` ${r.scaling}` : ''}`}`)
      .join('; ')}`,
  ]
}

/** The training instance quota for every job that may run at once (MaxParallelTrainingJobs × instances each). */
function tuneQuotaNeeds(p: PreparedTune): QuotaNeed[] {
  return trainingQuotaNeeds({ ...p.training, parallel: Math.min(p.tuning.maxParallelJobs, p.jobs) })
}

function planTune(p: PreparedTune, opts: TuneOptions, preflight: readonly PlannedOperation[]) {
  const plan = p.build(executionRoleArnFor(p.cfg, roleTarget(PLACEHOLDER.accountId, p.region, [])))
  const operations: PlannedOperation[] = [
    ...preflight,
    {
      service: 'pricing',
      operation: 'GetProducts',
      input: getProductsInput(instancePriceQuery(p.training.instanceType, p.region, 'training')),
      note: 'the list price, unless cached in the last week or MLOPS_PRICE_LIST=off',
    },
    ...planLaunchPrerequisites(p.cfg, p.region, p.channels, p.code),
    ...planRunNotify(p.cfg, p.notify, p.notifyRun, p.region),
    { service: 'sagemaker', operation: 'CreateHyperParameterTuningJob', input: plan.request },
    ...(opts.wait
      ? [
          {
            service: 'sagemaker',
            operation: 'DescribeHyperParameterTuningJob',
            input: { HyperParameterTuningJobName: p.jobName },
            note: `every ${TUNING_POLL_MS / 1000}s until it ends (wait deadline ${p.timeoutSeconds}s)`,
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
  return planned({
    title: 'mlops tune',
    operations,
    notes: tuneSummaryLines(p, plan),
    details: {
      tuningJobName: p.jobName,
      objective: { metric: p.tuning.objective.metric, type: p.tuning.objective.type },
      strategy: p.tuning.strategy,
      distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
      estimatedCost: p.estimatedCost,
      timeoutSeconds: p.timeoutSeconds,
      ...(p.budget ? { budget: p.budget } : {}),
    },
  })
}

/** Checks the data, shows the summary, asks, converges role and code, creates the tuning job. */
async function launchTune(ctx: CommandContext, clients: TuneClients, p: PreparedTune): Promise<TuningResult> {
  const { ui } = ctx
  const { cfg, region, jobName, training, tuning } = p
  await checkChannels(clients.s3, p.channels)
  const accountId = cfg.training.roleArn ? undefined : await getAccountId(clients.sts)
  const plannedRole = cfg.training.roleArn ?? executionRoleArnFor(cfg, roleTarget(accountId!, region, []))
  const plan = p.build(plannedRole)
  for (const line of tuneSummaryLines(p, plan)) ui.info(line)
  if (!(await ui.confirm(`Start tuning job ${jobName} (${p.jobs} training jobs, up to ${formatUsd(p.estimatedCost.maxUsd)})?`))) throw new AbortError()

  const state = ctx.state()
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const { roleArn } = await prepareLaunch(ctx, clients, cfg, region, p.code, accountId, { state, createdAt })
  const request = roleArn === plannedRole ? plan.request : p.build(roleArn).request
  const notifications = await armRunNotify(ctx, cfg, p.notify, p.notifyRun)
  await createTuningJob(clients.sagemaker, request, ctx.clock, ctx.signal)
  ui.success(`Started tuning job ${jobName}: ${p.jobs} jobs on ${training.instanceCount} × ${training.instanceType}, ${tuning.maxParallelJobs} at a time`)
  const base: TuningResult = {
    tuningJobName: jobName,
    status: 'InProgress',
    strategy: tuning.strategy,
    objective: { metric: tuning.objective.metric, type: tuning.objective.type },
    distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
    estimatedCost: p.estimatedCost,
    region,
    ...(notifications ? { notifications } : {}),
    consoleUrl: tuningJobConsoleUrl(region, jobName),
  }
  await recordTuning(state, base, createdAt)
  return base
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
    if (err instanceof InterruptedError && ctx.signal.aborted) return interruptTuningWait(sagemaker, jobName, o.decideInterrupt, ctx.clock)
    if (err instanceof OperationError && err.code === 'DeadlineReached') {
      throw new OperationError('DeadlineReached', `Tuning job ${jobName} is still running after the ${formatDuration(o.timeoutSeconds)} wait deadline.`, {
        hint: `It keeps running (and billing) on AWS. Re-attach with \`mlops logs ${jobName}\`, or stop it with \`mlops logs ${jobName} --stop\`.`,
        details: { tuningJobName: jobName },
      })
    }
    throw credentialsLapsedDuringWait(err, 'Tuning job', jobName)
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
    consoleUrl: tuningJobConsoleUrl(region, name),
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
