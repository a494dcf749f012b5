import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker'
import type { ChalkInstance } from 'chalk'
import type { MlopsConfig } from '../../config/schema.js'
import { formatUsd } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import { epochSummaryLines, formatMetrics, type Metrics } from '../../shared/metrics.js'
import type { DistributionPlan } from './distribution.js'
import type { CostEstimate, TrainingSettings } from './request.js'

/** Human text for `train`, `logs` and `tune`. Pure: strings in, strings out. */

export interface SummaryInput {
  readonly cfg: MlopsConfig
  readonly settings: TrainingSettings
  readonly jobName: string
  readonly region: string
  readonly timeoutSeconds: number
  readonly estimatedCost: CostEstimate
  readonly distribution: DistributionPlan
  readonly request: CreateTrainingJobRequest
  readonly codeUri: string
  /** Where the code came from (training.sourceDir or the bundled scripts). */
  readonly codeSource?: string
  /** --budget: the arithmetic behind the limits (train) or the number of jobs (tune). */
  readonly budgetLine?: string
  /** Tuning: how many jobs the estimate covers. */
  readonly jobs?: number
}

const row = (k: string, v: string) => `  ${k.padEnd(14)} ${v}`

/** What will run and what it may cost, printed before the confirmation. */
export function trainingSummaryLines(s: SummaryInput): string[] {
  const st = s.settings
  const cost = s.estimatedCost
  const jobs = s.jobs ?? 1
  const costText =
    cost.maxUsd === undefined
      ? `price unknown for ${st.instanceType} (not in the built-in table)`
      : `up to ${formatUsd(cost.maxUsd)} = ${formatUsd(cost.hourlyUsd)}/h × ${st.instanceCount} instance${st.instanceCount === 1 ? '' : 's'} × ${formatDuration(st.maxRuntimeSeconds)} max runtime${jobs > 1 ? ` × ${jobs} jobs` : ''}`
  const channels = (s.request.InputDataConfig ?? []).map((c) => `${c.ChannelName} ${c.DataSource?.S3DataSource?.S3Uri}`).join(', ')
  const hp = Object.entries(st.hyperparameters)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ')
  const lines = [
    `${s.jobs !== undefined ? 'Tuning job' : 'Training job'} ${s.jobName} (${s.region})${s.jobs !== undefined ? `: ${jobs} training jobs, each:` : ''}`,
    row(
      'instances',
      `${st.instanceCount} × ${st.instanceType}${st.spot ? `, managed spot (max wait ${formatDuration(st.maxWaitSeconds)}, resumes from checkpoints)` : ', on-demand'}`,
    ),
    row('distribution', `${s.distribution.mode}: ${s.distribution.reason}`),
    row('image', s.request.AlgorithmSpecification?.TrainingImage ?? ''),
    row('code', s.codeUri),
    ...(s.codeSource ? [row('', `from ${s.codeSource}`)] : []),
    row('data', `${channels} (${st.dataDistribution})`),
    row('output', s.request.OutputDataConfig?.S3OutputPath ?? ''),
    ...(hp ? [row('hyperparams', hp)] : []),
    row('input', `${st.inputMode}${st.inputMode === 'FastFile' ? ' (streamed from S3 on first read)' : ' (copied to the instance before the first step)'}`),
    ...(st.keepAliveSeconds
      ? [
          row(
            'warm pool',
            `instances kept ${formatDuration(st.keepAliveSeconds)} after the job for the next train to reuse; they bill while kept (up to ${cost.hourlyUsd === undefined ? 'the instance rate' : formatUsd((cost.hourlyUsd * st.instanceCount * st.keepAliveSeconds) / 3600)})`,
          ),
        ]
      : []),
    row('max runtime', `${formatDuration(st.maxRuntimeSeconds)} (SageMaker stops the job after this)`),
    row('cost', costText),
    ...(s.budgetLine ? [row('budget', s.budgetLine)] : []),
    row('', cost.note),
    row('wait', `${formatDuration(s.timeoutSeconds)} (--timeout); the job keeps running if the CLI stops waiting`),
  ]
  const rules = [...(s.request.DebugRuleConfigurations ?? []), ...(s.request.ProfilerRuleConfigurations ?? [])].map((r) => r.RuleConfigurationName)
  if (rules.length) lines.push(row('debugger', rules.join(', ')))
  return lines
}

export interface TrainingResultView {
  readonly jobName: string
  readonly status: string
  readonly secondaryStatus?: string
  readonly failureReason?: string
  readonly billableSeconds?: number
  readonly modelArtifact?: string
  readonly metrics: Metrics
  readonly costUsd?: number
  readonly distribution: { readonly mode: string; readonly reason: string }
  readonly debugger?: readonly { rule: string; status: string; detail?: string }[]
  readonly warmPool?: WarmPoolView
  /** Per-epoch metrics, when the command followed the job's metric lines. */
  readonly epochs?: readonly Metrics[]
  readonly consoleUrl?: string
  readonly logsConsoleUrl?: string
}

export interface WarmPoolView {
  /** This job's own pool: Available (kept, billing), InUse, Reused or Terminated. */
  readonly status?: string
  /** The earlier job whose warm pool this job started on. */
  readonly reusedFrom?: string
  readonly retainedBillableSeconds?: number
}

function warmPoolLine(w: WarmPoolView): string {
  const parts = [
    ...(w.reusedFrom ? [`reused the warm pool of ${w.reusedFrom} (no provisioning)`] : []),
    ...(w.status === 'Available' ? ['instances kept warm for the next train; they bill until the keep-alive period ends'] : []),
    ...(w.status && w.status !== 'Available' ? [`this job's pool: ${w.status}`] : []),
    ...(w.retainedBillableSeconds ? [`${w.retainedBillableSeconds}s billed while kept`] : []),
  ]
  return parts.join('; ')
}

/** The final report of `train` / `logs`. */
export function renderTrainingResult(r: TrainingResultView, c: ChalkInstance): string {
  if (r.status === 'InProgress' || r.status === 'Stopping') {
    return [
      `Training job ${c.bold(r.jobName)} is ${r.status}${r.secondaryStatus ? ` (${r.secondaryStatus})` : ''}: it keeps running on AWS.`,
      `  follow it:  mlops logs ${r.jobName}`,
      `  stop it:    mlops logs ${r.jobName} --stop`,
      ...consoleLines(r),
    ].join('\n')
  }
  const lines = [
    `${r.status === 'Completed' ? c.green('✔') : c.red('✖')} Training job ${c.bold(r.jobName)}: ${r.status}${r.secondaryStatus && r.secondaryStatus !== r.status ? ` (${r.secondaryStatus})` : ''}`,
  ]
  if (r.failureReason) lines.push(row('reason', r.failureReason))
  if (r.billableSeconds !== undefined) lines.push(row('billable', `${r.billableSeconds}s${r.costUsd !== undefined ? ` (≈ ${formatUsd(r.costUsd)})` : ''}`))
  lines.push(row('distribution', `${r.distribution.mode}: ${r.distribution.reason}`))
  if (r.warmPool && warmPoolLine(r.warmPool)) lines.push(row('warm pool', warmPoolLine(r.warmPool)))
  const m = formatMetrics(r.metrics)
  lines.push(row('metrics', m || 'none reported'))
  if (r.modelArtifact) lines.push(row('model', r.modelArtifact))
  for (const d of r.debugger ?? []) lines.push(row('rule', `${d.rule}: ${d.status}${d.detail ? ` — ${d.detail}` : ''}`))
  lines.push(...consoleLines(r))
  const epochs = epochSummaryLines(r.epochs ?? [])
  if (epochs.length) lines.push('', ...epochs)
  return lines.join('\n')
}

function consoleLines(r: Pick<TrainingResultView, 'consoleUrl' | 'logsConsoleUrl'>): string[] {
  return [...(r.consoleUrl ? [row('console', r.consoleUrl)] : []), ...(r.logsConsoleUrl ? [row('logs', r.logsConsoleUrl)] : [])]
}

export interface TuningResultView {
  readonly tuningJobName: string
  readonly status: string
  readonly failureReason?: string
  readonly objective?: { readonly metric?: string; readonly type?: string }
  readonly jobs?: { readonly completed: number; readonly inProgress: number; readonly failed: number; readonly stopped: number }
  readonly bestTrainingJob?: {
    readonly trainingJobName: string
    readonly objective?: { readonly metric?: string; readonly value?: number }
    readonly hyperparameters: Record<string, string | number | boolean>
    readonly modelArtifact?: string
  }
  readonly consoleUrl?: string
}

/** The final report of `tune` (and `logs <tuning-job>`). */
export function renderTuningResult(r: TuningResultView, c: ChalkInstance): string {
  if (r.status === 'InProgress' || r.status === 'Stopping') {
    return [
      `Tuning job ${c.bold(r.tuningJobName)} is ${r.status}: it keeps running on AWS.`,
      `  follow it:  mlops logs ${r.tuningJobName}`,
      `  stop it:    mlops logs ${r.tuningJobName} --stop`,
      ...consoleLines(r),
    ].join('\n')
  }
  const lines = [`${r.status === 'Completed' ? c.green('✔') : c.red('✖')} Tuning job ${c.bold(r.tuningJobName)}: ${r.status}`]
  if (r.failureReason) lines.push(row('reason', r.failureReason))
  if (r.objective) lines.push(row('objective', `${r.objective.type} ${r.objective.metric}`))
  if (r.jobs) lines.push(row('jobs', `${r.jobs.completed} completed, ${r.jobs.failed} failed, ${r.jobs.stopped} stopped`))
  const b = r.bestTrainingJob
  if (b) {
    lines.push(row('best job', `${b.trainingJobName}${b.objective?.value !== undefined ? ` (${b.objective.metric} ${b.objective.value})` : ''}`))
    const hp = Object.entries(b.hyperparameters)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')
    if (hp) lines.push(row('tuned', hp))
    if (b.modelArtifact) lines.push(row('model', b.modelArtifact))
  }
  lines.push(...consoleLines(r))
  return lines.join('\n')
}

/** `logs`: a tuning job's report when the result is one (it has `tuningJobName`), else a training job's. */
export function renderLogsResult(r: TrainingResultView | TuningResultView, c: ChalkInstance): string {
  return 'tuningJobName' in r ? renderTuningResult(r, c) : renderTrainingResult(r, c)
}
