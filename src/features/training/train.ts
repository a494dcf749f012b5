import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import {
  buildTrainingJobRequest,
  debuggerNotices,
  defaultWaitSeconds,
  trainingImage,
  trainingImageNotice,
  estimateTrainingCost,
  trainingDistribution,
  trainingSettings,
  type CostEstimate,
  type TrainingOverrides,
  type TrainingRequestPlan,
  type TrainingSettings,
  type Channels,
} from './request.js'
import { trainingSummaryLines } from './render.js'
import { trainBudget, withTrainBudget, type TrainBudget } from './budget.js'
import { AbortError, UserError } from '../../shared/errors.js'
import { resourceNames, uniqueName } from '../../shared/naming.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { trainingQuotaNeeds, type QuotaNeed } from '../../shared/preflight.js'
import { formatUsd } from '../../shared/pricing.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import { getAccountId } from '../../aws/sts/account.js'
import type { AwsClients } from '../../aws/clients.js'
import { executionRoleArnFor } from '../../shared/roles/execution-role.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { getProductsInput, instancePriceQuery } from '../../aws/pricing/products.js'
import { checkChannels, planLaunchPrerequisites, prepareCode, prepareLaunch, trainingChannels, type PreparedCode } from './launch.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { trainingJobConsoleUrl, trainingLogsConsoleUrl } from '../../aws/console-links.js'
import { failUnlessCompleted, followTrainingJob, recordTrainingResult, summarizeTrainingJob, type TrainingResult } from './follow.js'
import { createTrainingJob } from '../../aws/sagemaker/training-job.js'
import { DEFAULT_POLL_MS, describeTrainingJob } from '../../aws/sagemaker/training-wait.js'
import type { InterruptChoice } from './interrupt.js'
import { checkScriptHyperparameters } from '../../shared/hyperparameters.js'
import { destinationsOf, type NotifyDestination, type NotifyRun } from '../../shared/notify-spec.js'
import { armRunNotify, notifyRunOf, planRunNotify } from './notify-run.js'

/**
 * `mlops train`: package the code, check the data, show what will run and what it may cost,
 * create the execution role once, launch one CreateTrainingJob and follow it to the real end.
 */

export interface TrainOptions {
  readonly overrides: TrainingOverrides
  /** false with --no-wait. */
  readonly wait: boolean
  /** --timeout in seconds; default: the job's own limit plus a margin. */
  readonly timeoutSeconds?: number
  /** Ctrl-C while waiting: stop the job or detach. */
  readonly decideInterrupt: (jobName: string) => Promise<InterruptChoice>
  /** Poll interval override (tests). */
  readonly intervalMs?: number
  /** --budget in USD: derives MaxRuntimeInSeconds (and MaxWaitTimeInSeconds with spot). */
  readonly budgetUsd?: number
  /** --notify: replaces the config's notify destinations. */
  readonly notify?: readonly NotifyDestination[]
}

/** What `train --dry-run --json` prints beside `dryRun` and `operations`. */
export interface TrainPlanDetails {
  readonly jobName: string
  readonly distribution: { readonly mode: string; readonly reason: string }
  readonly estimatedCost: CostEstimate
  readonly timeoutSeconds: number
  /** With --budget: the arithmetic behind the limits. */
  readonly budget?: TrainBudget
}

export type TrainOutcome = Outcome<TrainingResult, TrainPlanDetails>

/** Everything about the job that is known before any AWS call. */
interface Prepared {
  readonly cfg: MlopsConfig
  readonly settings: TrainingSettings
  readonly region: string
  readonly jobName: string
  readonly timeoutSeconds: number
  readonly estimatedCost: CostEstimate
  readonly budget?: TrainBudget
  readonly code: PreparedCode
  readonly channels: Channels
  readonly build: (roleArn: string) => TrainingRequestPlan
  readonly notify: readonly NotifyDestination[]
  readonly notifyRun: NotifyRun
}

type TrainClients = Pick<AwsClients, 'sagemaker' | 's3' | 'iam' | 'sts' | 'logs'>

export async function runTrain(ctx: CommandContext, opts: TrainOptions): Promise<TrainOutcome> {
  const p = await prepareTrain(ctx, opts)
  const plan = planTrain(p, opts, ctx.preflightPlan(quotaNeeds(p)))
  if (ctx.dryRun) return plan
  const clients = await ctx.clients(['sagemaker', 's3', 'iam', 'sts', 'logs'], p.cfg)
  await ctx.preflight('train', { quotas: quotaNeeds(p), operations: plan.plan.operations }, p.cfg)
  const launched = await launchTrain(ctx, clients, p)
  if (!opts.wait) return done(launched.result)
  return done(await waitForTrain(ctx, clients, opts, p, launched))
}

/** Settings, names, the code package and the request builder: no AWS call. */
async function prepareTrain(ctx: CommandContext, opts: TrainOptions): Promise<Prepared> {
  const cfg = await ctx.config()
  const configured = trainingSettings(cfg, opts.overrides)
  // One price book for the budget's arithmetic and the cost estimate (the instance type is the same).
  const prices = await ctx.prices([configured.instanceType], 'training', cfg)
  const budget = opts.budgetUsd !== undefined ? trainBudget(opts.budgetUsd, configured, prices) : undefined
  const settings = budget ? withTrainBudget(configured, budget) : configured
  const region = ctx.awsSettings(cfg).region
  const jobName = uniqueName(resourceNames(cfg).trainingJobBase, new Date(ctx.clock.now()))
  const source = resolveTrainingSourceDir(cfg, ctx.projectDir)
  await checkScriptHyperparameters(
    { ui: ctx.ui, yes: Boolean(ctx.globals.yes), dryRun: ctx.dryRun },
    source.dir,
    cfg.training.hyperparameters,
    opts.overrides.hyperparameters,
  )
  const code = await prepareCode(cfg, source)
  const channels = trainingChannels(cfg)
  const distribution = trainingDistribution(settings)
  for (const notice of debuggerNotices(cfg, settings, distribution, ctx.clock.now())) ctx.ui.warn(notice)
  const imageNotice = trainingImageNotice(trainingImage(settings, region), ctx.clock.now())
  if (imageNotice) ctx.ui.warn(imageNotice)
  const estimatedCost = estimateTrainingCost(settings, 1, prices)
  return {
    cfg,
    settings,
    region,
    jobName,
    timeoutSeconds: opts.timeoutSeconds ?? defaultWaitSeconds(settings),
    estimatedCost,
    ...(budget ? { budget } : {}),
    code,
    channels,
    build: (roleArn) => buildTrainingJobRequest({ cfg, settings, distribution, jobName, region, roleArn, codeUri: code.uri, channels }),
    notify: destinationsOf(cfg.notify, opts.notify),
    notifyRun: notifyRunOf('training', resourceNames(cfg).trainingJobBase, settings.instanceType, estimatedCost.hourlyUsd),
  }
}

function summaryLines(p: Prepared, plan: TrainingRequestPlan): string[] {
  return trainingSummaryLines({
    ...p,
    distribution: plan.distribution,
    request: plan.request,
    codeUri: p.code.uri,
    codeSource: p.code.source.description,
    ...(p.budget ? { budgetLine: p.budget.arithmetic } : {}),
  })
}

/** The Service Quotas this job needs: its instances (spot or on-demand) and its warm pool. */
function quotaNeeds(p: Prepared): QuotaNeed[] {
  return trainingQuotaNeeds(p.settings)
}

/** --dry-run (and the preflight's list of operations): the requests with a placeholder account, and the summary as notes. */
function planTrain(p: Prepared, opts: TrainOptions, preflight: readonly PlannedOperation[]) {
  const plan = p.build(executionRoleArnFor(p.cfg, roleTarget(PLACEHOLDER.accountId, p.region, [])))
  const operations: PlannedOperation[] = [
    ...preflight,
    {
      service: 'pricing',
      operation: 'GetProducts',
      input: getProductsInput(instancePriceQuery(p.settings.instanceType, p.region, 'training')),
      note: 'the list price, unless cached in the last week or MLOPS_PRICE_LIST=off',
    },
    ...planLaunchPrerequisites(p.cfg, p.region, p.channels, p.code),
    ...planRunNotify(p.cfg, p.notify, p.notifyRun, p.region),
    { service: 'sagemaker', operation: 'CreateTrainingJob', input: plan.request },
    ...(opts.wait ? waitPlan(p.jobName, p.timeoutSeconds) : []),
  ]
  return planned({
    title: 'mlops train',
    operations,
    notes: summaryLines(p, plan),
    details: {
      jobName: p.jobName,
      distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
      estimatedCost: p.estimatedCost,
      timeoutSeconds: p.timeoutSeconds,
      ...(p.budget ? { budget: p.budget } : {}),
    },
  })
}

interface Launched {
  readonly result: TrainingResult
  readonly extra: Partial<TrainingResult>
  readonly createdAt: string
}

/** Checks the data, shows the summary, asks, converges role and code, and creates the job. */
async function launchTrain(ctx: CommandContext, clients: TrainClients, p: Prepared): Promise<Launched> {
  const { ui } = ctx
  const { cfg, settings, region, jobName } = p
  await checkChannels(clients.s3, p.channels)
  const accountId = cfg.training.roleArn ? undefined : await getAccountId(clients.sts)
  const plannedRole = cfg.training.roleArn ?? executionRoleArnFor(cfg, roleTarget(accountId!, region, []))
  const plan = p.build(plannedRole)
  for (const line of summaryLines(p, plan)) ui.info(line)
  if (plan.distribution.warning) ui.warn(plan.distribution.warning)
  const question = `Start training job ${jobName} (up to ${formatUsd(p.estimatedCost.maxUsd)})?`
  if (!(await ui.confirm(question))) throw new AbortError()
  const state = ctx.state()
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const { roleArn, code: uploaded } = await prepareLaunch(ctx, clients, cfg, region, p.code, accountId, { state, createdAt })
  const request = roleArn === plannedRole ? plan.request : p.build(roleArn).request
  const notifications = await armRunNotify(ctx, cfg, p.notify, p.notifyRun)
  await createTrainingJob(clients.sagemaker, request, ctx.clock, ctx.signal, (m) => ui.debug(m))
  ui.success(`Started training job ${jobName} on ${settings.instanceCount} × ${settings.instanceType}${settings.spot ? ' (spot)' : ''}`)
  const extra = {
    jobName,
    distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
    estimatedCost: p.estimatedCost,
    codeUri: uploaded.uri,
    codeUploaded: uploaded.uploaded,
    roleArn,
    instanceType: settings.instanceType,
    instanceCount: settings.instanceCount,
    spot: settings.spot,
    ...(notifications ? { notifications } : {}),
  }
  const result = inProgressResult(p, extra)
  await recordTrainingResult(state, result, createdAt)
  return { result, extra, createdAt }
}

/** Follows the job to its end, records and reports it; Failed and Stopped end in exit 1. */
async function waitForTrain(ctx: CommandContext, clients: TrainClients, opts: TrainOptions, p: Prepared, launched: Launched): Promise<TrainingResult> {
  const watched = await followTrainingJob(clients, {
    ui: ctx.ui,
    jobName: p.jobName,
    timeoutSeconds: p.timeoutSeconds,
    clock: ctx.clock,
    signal: ctx.signal,
    showAll: Boolean(ctx.globals.debug),
    decideInterrupt: opts.decideInterrupt,
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
  })
  const reused = await warmPoolReusedBy(ctx, clients.sagemaker, p)
  const result = summarizeTrainingJob(watched.job, p.region, watched.logMetrics, {
    ...launched.extra,
    logStreams: watched.logStreams,
    epochs: watched.epochs,
    ...(reused ? { warmPool: { reusedFrom: reused } } : {}),
  })
  await recordTrainingResult(ctx.state(), result, launched.createdAt)
  failUnlessCompleted(result, ctx.ui)
  return result
}

/**
 * With a warm pool: the earlier job whose pool this one started on. SageMaker marks the earlier
 * job (WarmPoolStatus Reused, ReusedByJob = this job), not the new one, so look at the newest
 * job this project recorded before.
 */
async function warmPoolReusedBy(ctx: CommandContext, sagemaker: TrainClients['sagemaker'], p: Prepared): Promise<string | undefined> {
  if (!p.settings.keepAliveSeconds) return undefined
  const earlier = (await ctx.state().list('training-job'))
    .filter((r) => r.name !== p.jobName)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .at(-1)
  if (!earlier) return undefined
  try {
    const job = await describeTrainingJob(sagemaker, earlier.name, { clock: ctx.clock, signal: ctx.signal })
    return job.WarmPoolStatus?.ReusedByJob === p.jobName ? earlier.name : undefined
  } catch (err) {
    if (err instanceof UserError && err.code === 'TrainingJobNotFound') return undefined
    throw err
  }
}

function inProgressResult(p: Prepared, extra: Partial<TrainingResult> & Pick<TrainingResult, 'distribution'>): TrainingResult {
  return {
    jobName: p.jobName,
    status: 'InProgress',
    metrics: {},
    distribution: extra.distribution,
    estimatedCost: p.estimatedCost,
    instanceType: p.settings.instanceType,
    instanceCount: p.settings.instanceCount,
    spot: p.settings.spot,
    region: p.region,
    hyperparameters: { ...p.settings.hyperparameters },
    consoleUrl: trainingJobConsoleUrl(p.region, p.jobName),
    logsConsoleUrl: trainingLogsConsoleUrl(p.region, p.jobName),
    ...(extra.codeUri ? { codeUri: extra.codeUri, codeUploaded: extra.codeUploaded } : {}),
    ...(extra.roleArn ? { roleArn: extra.roleArn } : {}),
    ...(extra.notifications ? { notifications: extra.notifications } : {}),
  }
}

/** The polling a wait does, for --dry-run. */
function waitPlan(jobName: string, timeoutSeconds: number): PlannedOperation[] {
  return [
    {
      service: 'sagemaker',
      operation: 'DescribeTrainingJob',
      input: { TrainingJobName: jobName },
      note: `every ${DEFAULT_POLL_MS / 1000}s until Completed, Failed or Stopped (wait deadline ${timeoutSeconds}s)`,
    },
    {
      service: 'logs',
      operation: 'DescribeLogStreams',
      input: { logGroupName: TRAINING_LOG_GROUP, logStreamNamePrefix: `${jobName}/` },
      note: 'then GetLogEvents (startFromHead, nextForwardToken) on each host stream for the live view',
    },
  ]
}
