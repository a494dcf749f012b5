import type { CreateTrainingJobRequest } from '@aws-sdk/client-sagemaker'
import type { MlopsConfig } from '../../config/schema.js'
import { UserError } from '../../shared/errors.js'
import { isReservedHyperparameter, mergeHyperparameters } from '../../shared/hyperparameters.js'
import { projectTags } from '../../shared/naming.js'
import { estimateCost, hourlyPrice, TABLE_PRICES, type PriceBook } from '../../shared/pricing.js'
import { debuggerRuleImageUri, imageLineOf, trainingImageLine, trainingImageUri } from '../../aws/sagemaker/images.js'
import { metricDefinitions } from '../../shared/metrics.js'
import { DEBUGGER_CLOSED_TO_NEW_CUSTOMERS, endOfPatchWarning } from '../../aws/lifecycle.js'
import { decideDistribution, type DistributionPlan, type DistributionSetting } from './distribution.js'

/**
 * CreateTrainingJob exactly as the SageMaker Python SDK's v2 PyTorch estimator sends it
 * (shared/reference/sagemaker.md 1.1-1.3): JSON-encoded hyperparameters, the five script-mode
 * `sagemaker_*` keys, File-mode S3Prefix channels, and the optional spot, checkpoint and Debugger
 * parts. Pure: no AWS calls, so --dry-run and the real run send the very same object.
 */

export type HyperparameterValue = string | number | boolean

/** Where SageMaker syncs /opt/ml/checkpoints to and from S3 (spot training resumes from it). */
export const CHECKPOINT_LOCAL_PATH = '/opt/ml/checkpoints'
/** Python logging.INFO, the SDK's default container log level. */
export const CONTAINER_LOG_LEVEL = 20
/** Added to the job's own limit for the CLI's wait: provisioning, image pull, data download, upload. */
export const WAIT_MARGIN_SECONDS = 30 * 60

/** What a run of `train` (or a tuning job's children) uses, after flags are merged over the config. */
export interface TrainingSettings {
  readonly instanceType: string
  readonly instanceCount: number
  readonly spot: boolean
  readonly maxRuntimeSeconds: number
  /** Spot only: capacity wait plus run time (SageMaker's MaxWaitTimeInSeconds). */
  readonly maxWaitSeconds: number
  readonly volumeSizeGb: number
  /** The training line's PyTorch version (aws/lifecycle.ts), resolved from training.frameworkVersion or the default. */
  readonly frameworkVersion: string
  readonly pyVersion?: string
  readonly image?: string
  readonly entryPoint: string
  readonly distribution: DistributionSetting
  readonly dataDistribution: 'FullyReplicated' | 'ShardedByS3Key'
  /** AlgorithmSpecification.TrainingInputMode. */
  readonly inputMode: 'File' | 'FastFile'
  /** Warm pool: ResourceConfig.KeepAlivePeriodInSeconds; unset: no warm pool. */
  readonly keepAliveSeconds?: number
  readonly hyperparameters: Readonly<Record<string, HyperparameterValue>>
}

/** Flag overrides for `train` / `tune` (undefined: take the config's value). */
export interface TrainingOverrides {
  readonly instanceType?: string
  readonly instanceCount?: number
  readonly spot?: boolean
  readonly hyperparameters?: Readonly<Record<string, HyperparameterValue>>
}

/** Merges flags over `training` and validates the combination. */
export function trainingSettings(cfg: MlopsConfig, o: TrainingOverrides = {}): TrainingSettings {
  const t = cfg.training
  const spot = o.spot ?? t.spot
  const hyperparameters: Record<string, HyperparameterValue> = mergeHyperparameters(t.hyperparameters, o.hyperparameters)
  for (const k of Object.keys(hyperparameters)) {
    if (isReservedHyperparameter(k)) {
      throw new UserError('ReservedHyperparameter', `Hyperparameter "${k}" is reserved for SageMaker's own settings.`, {
        hint: 'Remove it from training.hyperparameters / --hyperparameter; mlops sets the sagemaker_* keys itself.',
      })
    }
  }
  if (spot && t.maxWait < t.maxRuntime) {
    throw new UserError('InvalidSpotWait', `training.maxWait (${t.maxWait}s) must be at least training.maxRuntime (${t.maxRuntime}s) for spot training.`, {
      hint: 'maxWait covers waiting for spot capacity plus the run itself; for example maxRuntime: 2h, maxWait: 4h.',
    })
  }
  if (spot && hyperparameters['checkpoint-dir'] === undefined && hyperparameters.checkpoint_dir === undefined) {
    // train.py resumes from here; SageMaker syncs it with CheckpointConfig.S3Uri across interruptions.
    hyperparameters['checkpoint-dir'] = CHECKPOINT_LOCAL_PATH
  }
  const keepAliveSeconds = t.keepAlive
  if (spot && keepAliveSeconds) {
    throw new UserError(
      'WarmPoolWithSpot',
      'training.keepAlive (a warm pool) cannot be combined with spot training: SageMaker keeps no warm pool for spot jobs.',
      {
        hint: 'Remove training.keepAlive, or train on-demand (--no-spot).',
      },
    )
  }
  return {
    instanceType: o.instanceType ?? t.instanceType,
    instanceCount: o.instanceCount ?? t.instanceCount,
    spot,
    maxRuntimeSeconds: t.maxRuntime,
    maxWaitSeconds: t.maxWait,
    volumeSizeGb: t.volumeSizeGb,
    // With training.image the line only informs the distribution choice; without it, it is the image.
    frameworkVersion: t.image ? (t.frameworkVersion ?? trainingImageLine().version) : trainingImageLine(t.frameworkVersion, t.pyVersion).version,
    ...(t.pyVersion ? { pyVersion: t.pyVersion } : {}),
    ...(t.image ? { image: t.image } : {}),
    entryPoint: t.entryPoint,
    distribution: t.distribution,
    dataDistribution: t.dataDistribution,
    inputMode: t.inputMode,
    ...(keepAliveSeconds ? { keepAliveSeconds } : {}),
    hyperparameters,
  }
}

/** `--hyperparameter lr=0.01`: numbers and true/false keep their type (as in the SDK's dict). */
export function parseHyperparameterFlag(text: string): [string, HyperparameterValue] {
  const eq = text.indexOf('=')
  const key = eq > 0 ? text.slice(0, eq).trim() : ''
  if (!key || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
    throw new UserError('InvalidFlag', `--hyperparameter expects key=value, got "${text}".`, {
      hint: 'For example: --hyperparameter lr=0.01 --hyperparameter epochs=5',
    })
  }
  const raw = text.slice(eq + 1).trim()
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) return [key, Number(raw)]
  if (raw === 'true' || raw === 'false') return [key, raw === 'true']
  return [key, raw]
}

/** The SDK JSON-encodes every value (`json.dumps`), so strings carry their quotes on the wire. */
export function encodeHyperparameters(hp: Readonly<Record<string, HyperparameterValue>>): Record<string, string> {
  return Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, JSON.stringify(v)]))
}

/** Reads a wire value back the way the training toolkit does: JSON when it parses, else the raw text. */
export function decodeHyperparameter(v: string): HyperparameterValue {
  try {
    const parsed = JSON.parse(v) as unknown
    return typeof parsed === 'string' || typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : v
  } catch {
    return v
  }
}

export interface ScriptModeInput {
  readonly entryPoint: string
  readonly codeUri: string
  readonly jobName: string
  readonly region: string
}

/** The five script-mode keys `fit()` adds (sagemaker.md 1.1), JSON-encoded. */
export function scriptModeHyperparameters(i: ScriptModeInput): Record<string, string> {
  return {
    sagemaker_program: JSON.stringify(i.entryPoint),
    sagemaker_submit_directory: JSON.stringify(i.codeUri),
    sagemaker_container_log_level: JSON.stringify(CONTAINER_LOG_LEVEL),
    sagemaker_job_name: JSON.stringify(i.jobName),
    sagemaker_region: JSON.stringify(i.region),
  }
}

export interface Channels {
  readonly train: string
  readonly valid: string
  readonly test: string
}

/** File-mode S3Prefix channels (TrainingInput defaults), FullyReplicated unless sharding was asked for. */
export function inputDataConfig(
  channels: Channels,
  distribution: 'FullyReplicated' | 'ShardedByS3Key',
): NonNullable<CreateTrainingJobRequest['InputDataConfig']> {
  return (['train', 'valid', 'test'] as const).map((name) => ({
    ChannelName: name,
    DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: channels[name], S3DataDistributionType: distribution } },
  }))
}

/** `s3://<bucket>/<outputPrefix>/`: artifacts land at `<that><job>/output/model.tar.gz`. */
export function outputPath(cfg: Pick<MlopsConfig, 'data' | 'training'>): string {
  return `s3://${cfg.data.bucket}/${cfg.training.outputPrefix}/`
}

/** Spot checkpoints: one folder per job, under the prefix the execution role may write. */
export function checkpointUri(cfg: Pick<MlopsConfig, 'data' | 'project'>, jobName: string): string {
  return `s3://${cfg.data.bucket}/${cfg.project.name}/checkpoints/${jobName}/`
}

export function trainingImage(s: TrainingSettings, region: string): string {
  return (
    s.image ??
    trainingImageUri({ region, frameworkVersion: s.frameworkVersion, ...(s.pyVersion ? { pyVersion: s.pyVersion } : {}), instanceType: s.instanceType })
  )
}

/** The end-of-patch warning for the image a job would run (overrides of a known DLC tag included); undefined while patched. */
export function trainingImageNotice(image: string, nowMs: number): string | undefined {
  const line = imageLineOf(image)
  return line ? endOfPatchWarning(line, nowMs) : undefined
}

// SageMaker Debugger built-in rules (smdebug_rulesconfig ruleConfigs.json); the rule images: aws/sagemaker/images.ts.
const RULE_COLLECTIONS: Record<string, { CollectionName: string; CollectionParameters: Record<string, string> } | undefined> = {
  VanishingGradient: { CollectionName: 'gradients', CollectionParameters: { save_interval: '500' } },
  LossNotDecreasing: { CollectionName: 'losses', CollectionParameters: { save_interval: '500' } },
  PoorWeightInitialization: { CollectionName: 'relu_input', CollectionParameters: { include_regex: '.*relu_input', save_interval: '500' } },
  Overfit: undefined,
  Overtraining: undefined,
}
const RULE_PARAMETERS: Record<string, Record<string, string>> = { LossNotDecreasing: { mode: 'TRAIN' } }

export function debuggerRuleImage(region: string): string {
  const image = debuggerRuleImageUri(region)
  if (!image) {
    throw new UserError('DebuggerUnavailable', `SageMaker Debugger rules have no image in ${region}.`, {
      hint: 'Remove training.debugger from the config, or train in a region that has Debugger (us-east-1, eu-west-1, ...).',
    })
  }
  return image
}

/**
 * The SDK drops the hook (not the rules) when checkpointing is combined with distributed training:
 * smdebug does not support that combination (Estimator._validate_and_set_debugger_configs:
 * checkpoint_s3_uri and (instance_count > 1 or distribution)).
 */
export function debugHookDropped(s: Pick<TrainingSettings, 'spot' | 'instanceCount'>, distribution: Pick<DistributionPlan, 'hyperparameters'>): boolean {
  const checkpointing = s.spot
  const distributed = s.instanceCount > 1 || Object.keys(distribution.hyperparameters).length > 0
  return checkpointing && distributed
}

/**
 * What to tell the user about training.debugger before launching: Debugger is closed to new
 * customers (aws/lifecycle.ts), and the hook is left out with checkpoints + distributed training.
 */
export function debuggerNotices(
  cfg: Pick<MlopsConfig, 'training'>,
  s: Pick<TrainingSettings, 'spot' | 'instanceCount'>,
  distribution: Pick<DistributionPlan, 'hyperparameters'>,
  nowMs: number,
): string[] {
  const d = cfg.training.debugger
  if (!d || (d.rules.length === 0 && !d.profilerReport)) return []
  const closed = DEBUGGER_CLOSED_TO_NEW_CUSTOMERS
  const notices = [
    nowMs >= Date.parse(closed)
      ? `SageMaker Debugger is closed to new customers since ${closed}: an account that never used it cannot start now, and its rule jobs will not run. Remove training.debugger if this account is new to Debugger.`
      : `SageMaker Debugger closes to new customers on ${closed}: accounts that have not used it by then cannot start.`,
  ]
  if (debugHookDropped(s, distribution)) {
    notices.push(
      'training.debugger: the debug hook (DebugHookConfig) is left out, as the SageMaker SDK does, because spot checkpoints and distributed training are combined (smdebug does not support it); the rules that need saved tensors will report no data.',
    )
  }
  return notices
}

/** DebugHookConfig/DebugRuleConfigurations/ProfilerConfig/ProfilerRuleConfigurations from training.debugger. */
export function debuggerConfig(cfg: Pick<MlopsConfig, 'data' | 'training'>, region: string, dropHook = false): Partial<CreateTrainingJobRequest> {
  const d = cfg.training.debugger
  if (!d || (d.rules.length === 0 && !d.profilerReport)) return {}
  const image = debuggerRuleImage(region)
  const out: Partial<CreateTrainingJobRequest> = {}
  if (d.rules.length > 0) {
    const collections = d.rules.map((r) => RULE_COLLECTIONS[r]).filter((c): c is NonNullable<typeof c> => c !== undefined)
    const unique = collections.filter((c, i) => collections.findIndex((x) => x.CollectionName === c.CollectionName) === i)
    if (!dropHook) out.DebugHookConfig = { S3OutputPath: outputPath(cfg), ...(unique.length ? { CollectionConfigurations: unique } : {}) }
    out.DebugRuleConfigurations = d.rules.map((rule) => ({
      RuleConfigurationName: rule,
      RuleEvaluatorImage: image,
      RuleParameters: { rule_to_invoke: rule, ...(RULE_PARAMETERS[rule] ?? {}) },
    }))
  }
  if (d.profilerReport) {
    out.ProfilerConfig = { S3OutputPath: outputPath(cfg), ProfilingIntervalInMilliseconds: 500 }
    out.ProfilerRuleConfigurations = [
      { RuleConfigurationName: 'ProfilerReport', RuleEvaluatorImage: image, RuleParameters: { rule_to_invoke: 'ProfilerReport' } },
    ]
  }
  return out
}

export interface TrainingRequestInput {
  readonly cfg: MlopsConfig
  readonly settings: TrainingSettings
  /** trainingDistribution(settings), decided once by the caller (train also warns with it). */
  readonly distribution: DistributionPlan
  readonly jobName: string
  readonly region: string
  readonly roleArn: string
  readonly codeUri: string
  readonly channels: Channels
}

export interface TrainingRequestPlan {
  readonly request: CreateTrainingJobRequest
  readonly distribution: DistributionPlan
  readonly image: string
}

/** The distribution mode for these settings (UserError, exit 2, for a combination SageMaker would reject). */
export function trainingDistribution(s: Pick<TrainingSettings, 'instanceType' | 'instanceCount' | 'frameworkVersion' | 'distribution'>): DistributionPlan {
  return decideDistribution({ instanceType: s.instanceType, instanceCount: s.instanceCount, frameworkVersion: s.frameworkVersion, setting: s.distribution })
}

/** The CreateTrainingJob request, field for field. */
export function buildTrainingJobRequest(i: TrainingRequestInput): TrainingRequestPlan {
  const s = i.settings
  const distribution = i.distribution
  const image = trainingImage(s, i.region)
  const request: CreateTrainingJobRequest = {
    TrainingJobName: i.jobName,
    RoleArn: i.roleArn,
    AlgorithmSpecification: {
      TrainingImage: image,
      TrainingInputMode: s.inputMode,
      MetricDefinitions: metricDefinitions(),
      EnableSageMakerMetricsTimeSeries: true,
    },
    HyperParameters: {
      ...encodeHyperparameters(s.hyperparameters),
      ...scriptModeHyperparameters({ entryPoint: s.entryPoint, codeUri: i.codeUri, jobName: i.jobName, region: i.region }),
      ...distribution.hyperparameters,
    },
    InputDataConfig: inputDataConfig(i.channels, s.dataDistribution),
    OutputDataConfig: { S3OutputPath: outputPath(i.cfg) },
    ResourceConfig: {
      InstanceCount: s.instanceCount,
      InstanceType: s.instanceType as never,
      VolumeSizeInGB: s.volumeSizeGb,
      ...(s.keepAliveSeconds ? { KeepAlivePeriodInSeconds: s.keepAliveSeconds } : {}),
    },
    StoppingCondition: {
      MaxRuntimeInSeconds: s.maxRuntimeSeconds,
      ...(s.spot ? { MaxWaitTimeInSeconds: s.maxWaitSeconds } : {}),
    },
    ...(s.spot ? { EnableManagedSpotTraining: true, CheckpointConfig: { S3Uri: checkpointUri(i.cfg, i.jobName), LocalPath: CHECKPOINT_LOCAL_PATH } } : {}),
    ...debuggerConfig(i.cfg, i.region, debugHookDropped(s, distribution)),
    Tags: projectTags(i.cfg.project.name),
  }
  return { request, distribution, image }
}

export interface CostEstimate {
  /** On-demand USD per instance-hour; undefined when the type is not in the table. */
  readonly hourlyUsd?: number
  readonly instances: number
  readonly maxRuntimeSeconds: number
  /** Upper bound: price x instances x maximum runtime (x jobs for tuning). */
  readonly maxUsd?: number
  readonly note: string
}

/** The most a job (or `jobs` jobs) can cost at on-demand prices. */
export function estimateTrainingCost(
  s: Pick<TrainingSettings, 'instanceType' | 'instanceCount' | 'maxRuntimeSeconds' | 'spot'>,
  jobs = 1,
  prices: PriceBook = TABLE_PRICES,
): CostEstimate {
  const perJob = estimateCost(s.instanceType, s.instanceCount, s.maxRuntimeSeconds, prices)
  const spotNote = s.spot ? ' Spot capacity usually bills well below this on-demand ceiling.' : ''
  const hourly = hourlyPrice(s.instanceType, prices)
  return {
    ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    instances: s.instanceCount,
    maxRuntimeSeconds: s.maxRuntimeSeconds,
    ...(perJob !== undefined ? { maxUsd: Math.round(perJob * jobs * 100) / 100 } : {}),
    note: prices.note([s.instanceType]) + spotNote,
  }
}

/** What SageMaker bills for a finished job: BillableTimeInSeconds x instances x hourly price (spot savings are already in the billable time). */
export function actualCost(instanceType: string, instanceCount: number, billableSeconds: number | undefined): number | undefined {
  if (billableSeconds === undefined) return undefined
  const c = estimateCost(instanceType, instanceCount, billableSeconds)
  return c === undefined ? undefined : Math.round(c * 100) / 100
}

/** Default for the CLI's wait: SageMaker's own limit for a job, times the rounds of jobs (a tuning job's), plus a margin. */
export function defaultWaitSeconds(s: Pick<TrainingSettings, 'spot' | 'maxRuntimeSeconds' | 'maxWaitSeconds'>, rounds = 1): number {
  return (s.spot ? s.maxWaitSeconds : s.maxRuntimeSeconds) * rounds + WAIT_MARGIN_SECONDS
}
