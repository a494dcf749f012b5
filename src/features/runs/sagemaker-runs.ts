import type { DescribeHyperParameterTuningJobResponse, DescribeTrainingJobResponse, SageMakerClient, TrainingJob } from '@aws-sdk/client-sagemaker'
import { trainingJobConsoleUrl, trainingLogsConsoleUrl, tuningJobConsoleUrl } from '../../aws/console-links.js'
import { listTags } from '../../aws/sagemaker/project-resources.js'
import { describeTuningJobOnce, listTuningJobsNamed, searchTaggedTrainingJobs } from '../../aws/sagemaker/run-history.js'
import { TAG_PROJECT } from '../../shared/naming.js'
import { isProjectResource } from '../../shared/project-ownership.js'
import { runPool } from '../../shared/pool.js'
import { estimateCost, type PriceBook } from '../../shared/pricing.js'
import { decodeHyperparameters } from './run-hyperparameters.js'
import type { RunSummary } from './types.js'

/**
 * SageMaker runs of a project: the jobs whose name is one mlops generates for the project and whose
 * `mlops:project` tag is exactly the project (shared/project-ownership.ts). Training
 * jobs come whole from Search (one request per 100 jobs); tuning jobs, listed by a name filter, have
 * their tags read and are described a bounded number at a time (runPool), gentle on SageMaker's
 * per-account request rate.
 */

/** Tuning-job reads in flight at once: well under SageMaker's Describe/ListTags rates, enough to hide the round trips. */
export const DESCRIBE_CONCURRENCY = 8

/**
 * What every tuning job name of the project contains: the current base keeps up to 13 characters of the
 * project (then a hash), an older mlops's 19; the exact names and the tag then decide (isProjectResource).
 */
export function jobNameFilter(project: string): string {
  return project.slice(0, 13).replace(/-+$/, '')
}

const seconds = (a?: Date, b?: Date) => (a && b ? Math.max(0, Math.round((b.getTime() - a.getTime()) / 1000)) : undefined)

/** A training job's row: final metrics from FinalMetricDataList, cost from its billable seconds. */
export function trainingRun(job: DescribeTrainingJobResponse | TrainingJob, region: string, prices: PriceBook, now: number): RunSummary {
  const name = job.TrainingJobName ?? 'unknown'
  const instanceType = job.ResourceConfig?.InstanceType ? String(job.ResourceConfig.InstanceType) : undefined
  const instanceCount = job.ResourceConfig?.InstanceCount ?? 1
  const spot = Boolean(job.EnableManagedSpotTraining)
  const metrics: Record<string, number> = {}
  for (const m of job.FinalMetricDataList ?? []) if (m.MetricName && typeof m.Value === 'number') metrics[m.MetricName] = m.Value
  const training = job.TrainingTimeInSeconds
  const billable = job.BillableTimeInSeconds
  const end = job.TrainingEndTime ?? (job.TrainingJobStatus === 'InProgress' ? new Date(now) : job.LastModifiedTime)
  const duration = training ?? seconds(job.TrainingStartTime ?? job.CreationTime, end)
  const billed = billable ?? (job.TrainingJobStatus === 'InProgress' ? undefined : training)
  const costUsd = instanceType && billed !== undefined ? estimateCost(instanceType, instanceCount, billed, prices) : undefined
  const tuningJob = job.TuningJobArn?.split('/').at(-1)
  return {
    name,
    kind: 'training',
    where: 'sagemaker',
    status: job.TrainingJobStatus ?? 'Unknown',
    ...(job.CreationTime ? { startedAt: job.CreationTime.toISOString() } : {}),
    ...(duration !== undefined ? { durationSeconds: duration } : {}),
    instanceCount,
    ...(instanceType ? { instanceType } : {}),
    spot,
    ...(training !== undefined ? { trainingSeconds: training } : {}),
    ...(billable !== undefined ? { billableSeconds: billable } : {}),
    ...(spot && training && billable !== undefined ? { spotSavings: Math.round((1 - billable / training) * 1000) / 1000 } : {}),
    hyperparameters: decodeHyperparameters(job.HyperParameters),
    metrics,
    ...(costUsd !== undefined ? { costUsd: Math.round(costUsd * 10000) / 10000 } : {}),
    ...(tuningJob ? { tuningJob } : {}),
    ...(job.ModelArtifacts?.S3ModelArtifacts && job.TrainingJobStatus === 'Completed' ? { modelArtifact: job.ModelArtifacts.S3ModelArtifacts } : {}),
    consoleUrl: trainingJobConsoleUrl(region, name),
    logsConsoleUrl: trainingLogsConsoleUrl(region, name),
    ...(job.FailureReason ? { failureReason: job.FailureReason } : {}),
  }
}

/** A tuning job's row: its best training job's objective; cost is filled in from its listed training jobs. */
export function tuningRun(job: DescribeHyperParameterTuningJobResponse, region: string, now: number): RunSummary {
  const name = job.HyperParameterTuningJobName ?? 'unknown'
  const best = job.BestTrainingJob
  const objective = best?.FinalHyperParameterTuningJobObjectiveMetric
  const rc = job.TrainingJobDefinition?.ResourceConfig
  const end = job.HyperParameterTuningEndTime ?? (job.HyperParameterTuningJobStatus === 'InProgress' ? new Date(now) : job.LastModifiedTime)
  const duration = seconds(job.CreationTime, end)
  return {
    name,
    kind: 'tuning',
    where: 'sagemaker',
    status: job.HyperParameterTuningJobStatus ?? 'Unknown',
    ...(job.CreationTime ? { startedAt: job.CreationTime.toISOString() } : {}),
    ...(duration !== undefined ? { durationSeconds: duration } : {}),
    ...(rc?.InstanceCount ? { instanceCount: rc.InstanceCount } : {}),
    ...(rc?.InstanceType ? { instanceType: String(rc.InstanceType) } : {}),
    spot: Boolean(job.TrainingJobDefinition?.EnableManagedSpotTraining),
    hyperparameters: decodeHyperparameters(best?.TunedHyperParameters),
    metrics: objective?.MetricName && typeof objective.Value === 'number' ? { [objective.MetricName]: objective.Value } : {},
    ...(best?.TrainingJobName ? { bestTrainingJob: best.TrainingJobName } : {}),
    consoleUrl: tuningJobConsoleUrl(region, name),
    ...(job.FailureReason ? { failureReason: job.FailureReason } : {}),
  }
}

export interface SageMakerRunsOptions {
  readonly project: string
  readonly region: string
  readonly now: number
  /** Prices for the instance types found (asked once the types are known). */
  readonly prices: (instanceTypes: readonly string[]) => Promise<PriceBook>
  readonly signal?: AbortSignal
}

/**
 * Every training and tuning job of the project: training jobs in one Search per 100 (tags, metrics
 * and billable time come with them), tuning jobs listed by name and kept when tagged, then described.
 */
export async function listSageMakerRuns(client: SageMakerClient, o: SageMakerRunsOptions): Promise<RunSummary[]> {
  const [found, listedTuning] = await Promise.all([
    searchTaggedTrainingJobs(client, TAG_PROJECT, o.project),
    listTuningJobsNamed(client, jobNameFilter(o.project)),
  ])
  // Search matched the tag already; checking it again costs nothing and keeps one rule of ownership.
  const training = found.filter((j) => isProjectResource(o.project, { name: j.TrainingJobName ?? '', tags: j.Tags }, ['training-job', 'tuning-child']))
  const tuning: DescribeHyperParameterTuningJobResponse[] = []
  await runPool(
    listedTuning,
    DESCRIBE_CONCURRENCY,
    async (job) => {
      if (isProjectResource(o.project, { name: job.name, tags: await listTags(client, job.arn) }, ['tuning-job']))
        tuning.push(await describeTuningJobOnce(client, job.name))
    },
    o.signal,
  )
  const types = [
    ...new Set(
      training
        .map((j) => j.ResourceConfig?.InstanceType)
        .filter((t): t is NonNullable<typeof t> => t !== undefined)
        .map(String),
    ),
  ]
  const prices = await o.prices(types)
  const trainingRuns = training.map((j) => trainingRun(j, o.region, prices, o.now))
  const tuningRuns = tuning.map((j) => {
    const run = tuningRun(j, o.region, o.now)
    const costs = trainingRuns.filter((t) => t.tuningJob === run.name).map((c) => c.costUsd)
    return costs.length && costs.every((c) => c !== undefined) ? { ...run, costUsd: Math.round(costs.reduce((x, y) => x + y, 0) * 10000) / 10000 } : run
  })
  return [...trainingRuns, ...tuningRuns]
}
