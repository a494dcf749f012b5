import { CreateTrainingJobCommand, type CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker'
import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import {
  buildTrainingJobRequest,
  defaultWaitSeconds,
  estimateTrainingCost,
  trainingSettings,
  type CostEstimate,
  type TrainingOverrides,
  type TrainingSettings,
} from './request.js'
import type { DistributionPlan } from './distribution.js'
import { trainingSummaryLines } from './render.js'
import { AbortError } from '../../shared/errors.js'
import { resourceNames, uniqueName } from '../../shared/naming.js'
import { PLACEHOLDER, planToJson, type PlannedOperation } from '../../shared/plan.js'
import { formatUsd } from '../../shared/pricing.js'
import type { Clock } from '../../shared/clock.js'
import { getAccountId } from '../../aws/sts/account.js'
import { callAws } from '../../aws/errors.js'
import { executionRoleArnFor } from '../../shared/roles/execution-role.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { retryWhileIamPropagates } from '../../aws/iam/roles.js'
import { checkChannels, planLaunchPrerequisites, prepareCode, prepareLaunch, trainingChannels } from './launch.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { failUnlessCompleted, followTrainingJob, recordTrainingResult, summarizeTrainingJob, type TrainingResult } from './follow.js'
import { isThrottling, withRetry } from '../../aws/retry.js'
import { DEFAULT_POLL_MS, type InterruptChoice } from '../../aws/sagemaker/training-wait.js'
import type { SageMakerClient } from '@aws-sdk/client-sagemaker'

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
}

export interface TrainDryRun {
  readonly dryRun: true
  readonly jobName: string
  readonly distribution: { readonly mode: string; readonly reason: string }
  readonly estimatedCost: CostEstimate
  readonly timeoutSeconds: number
  readonly operations: ReturnType<typeof planToJson>
}

export type TrainOutcome =
  | { readonly kind: 'dry-run'; readonly result: TrainDryRun; readonly plan: PlannedOperation[]; readonly notes: string[] }
  | { readonly kind: 'done'; readonly result: TrainingResult }

/** Everything about the job that is known before any AWS call. */
interface Prepared {
  readonly cfg: MlopsConfig
  readonly settings: TrainingSettings
  readonly region: string
  readonly jobName: string
  readonly timeoutSeconds: number
  readonly estimatedCost: CostEstimate
}

export async function runTrain(ctx: CommandContext, opts: TrainOptions): Promise<TrainOutcome> {
  const cfg = await ctx.config()
  const settings = trainingSettings(cfg, opts.overrides)
  const region = ctx.awsSettings(cfg).region
  const jobName = uniqueName(resourceNames(cfg).trainingJobBase, new Date(ctx.clock.now()))
  const p: Prepared = {
    cfg,
    settings,
    region,
    jobName,
    timeoutSeconds: opts.timeoutSeconds ?? defaultWaitSeconds(settings),
    estimatedCost: estimateTrainingCost(settings),
  }
  const code = await prepareCode(cfg, (x) => ctx.resolvePath(x))
  const channels = trainingChannels(cfg)
  const build = (roleArn: string) => buildTrainingJobRequest({ cfg, settings, jobName, region, roleArn, codeUri: code.uri, channels })

  if (ctx.dryRun) {
    const plan = build(executionRoleArnFor(cfg, roleTarget(PLACEHOLDER.accountId, region)))
    const operations: PlannedOperation[] = [
      ...planLaunchPrerequisites(cfg, region, channels, code),
      { service: 'sagemaker', operation: 'CreateTrainingJob', input: plan.request },
      ...(opts.wait ? waitPlan(jobName, p.timeoutSeconds) : []),
    ]
    return {
      kind: 'dry-run',
      plan: operations,
      notes: trainingSummaryLines({ ...p, distribution: plan.distribution, request: plan.request, codeUri: code.uri }),
      result: {
        dryRun: true,
        jobName,
        distribution: { mode: plan.distribution.mode, reason: plan.distribution.reason },
        estimatedCost: p.estimatedCost,
        timeoutSeconds: p.timeoutSeconds,
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
  for (const line of trainingSummaryLines({ ...p, distribution: plan.distribution, request: plan.request, codeUri: code.uri })) ui.info(line)
  if (plan.distribution.warning) ui.warn(plan.distribution.warning)
  const question = `Start training job ${jobName} (up to ${formatUsd(p.estimatedCost.maxUsd)})?`
  if (!(await ui.confirm(question))) throw new AbortError()

  const state = ctx.state()
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const { roleArn, code: uploaded } = await prepareLaunch(ctx, clients, cfg, region, code, accountId, { state, createdAt })
  const request = roleArn === plannedRole ? plan.request : build(roleArn).request
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
  }
  const launched = inProgressResult(p, plan.distribution, extra)
  await recordTrainingResult(state, launched, createdAt)
  if (!opts.wait) return { kind: 'done', result: launched }

  const watched = await followTrainingJob(clients, {
    ui,
    jobName,
    timeoutSeconds: p.timeoutSeconds,
    clock: ctx.clock,
    signal: ctx.signal,
    showAll: Boolean(ctx.globals.debug),
    decideInterrupt: opts.decideInterrupt,
    ...(opts.intervalMs ? { intervalMs: opts.intervalMs } : {}),
  })
  const result = summarizeTrainingJob(watched.job, region, watched.logMetrics, { ...extra, logStreams: watched.logStreams })
  await recordTrainingResult(state, result, createdAt)
  failUnlessCompleted(result, ctx.ui)
  return { kind: 'done', result }
}

/** CreateTrainingJob: throttling retried (nothing was created), and a fresh role given time to propagate. */
export async function createTrainingJob(
  sagemaker: SageMakerClient,
  request: CreateTrainingJobRequest,
  clock: Clock,
  signal: AbortSignal,
  onRetry: (m: string) => void,
): Promise<void> {
  await retryWhileIamPropagates(
    () =>
      callAws({ service: 'sagemaker', operation: 'CreateTrainingJob', resource: request.TrainingJobName }, () =>
        withRetry(() => sagemaker.send(new CreateTrainingJobCommand(request)), {
          clock,
          signal,
          retryable: isThrottling,
          onRetry: (n, _e, d) => onRetry(`CreateTrainingJob throttled; retrying in ${Math.round(d / 1000)}s (attempt ${n + 1})`),
        }),
      ),
    { clock, signal, onRetry: (n) => onRetry(`the new execution role is not visible to SageMaker yet; retrying (attempt ${n + 1})`) },
  )
}

function inProgressResult(p: Prepared, d: DistributionPlan, extra: Partial<TrainingResult>): TrainingResult {
  return {
    jobName: p.jobName,
    status: 'InProgress',
    metrics: {},
    distribution: { mode: d.mode, reason: d.reason },
    estimatedCost: p.estimatedCost,
    instanceType: p.settings.instanceType,
    instanceCount: p.settings.instanceCount,
    spot: p.settings.spot,
    region: p.region,
    hyperparameters: { ...p.settings.hyperparameters },
    ...(extra.codeUri ? { codeUri: extra.codeUri, codeUploaded: extra.codeUploaded } : {}),
    ...(extra.roleArn ? { roleArn: extra.roleArn } : {}),
  }
}

/** The polling a wait does, for --dry-run. */
export function waitPlan(jobName: string, timeoutSeconds: number): PlannedOperation[] {
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
