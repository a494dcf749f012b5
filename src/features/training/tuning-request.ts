import type { CreateHyperParameterTuningJobRequest, HyperParameterTuningJobStrategyType } from '@aws-sdk/client-sagemaker'
import type { MlopsConfig } from '../../config/schema.js'
import { UserError } from '../../shared/errors.js'
import { hyperparameterKey } from '../../shared/hyperparameters.js'
import type { TUNING_STRATEGIES } from '../../config/sections/training.js'
import { projectTags } from '../../shared/naming.js'
import { metricDefinitions, metricRegex, objectiveDirection, type MetricName } from '../../shared/metrics.js'
import type { DistributionPlan } from './distribution.js'
import {
  encodeHyperparameters,
  inputDataConfig,
  outputPath,
  scriptModeHyperparameters,
  trainingDistribution,
  trainingImage,
  type Channels,
  type TrainingSettings,
} from './request.js'

/**
 * CreateHyperParameterTuningJob as the SDK's HyperparameterTuner sends it (sagemaker.md 1.8):
 * ranges as strings, categorical values JSON-encoded, tuned keys removed from the static set,
 * the objective's direction taken from the metric (a loss is minimised, an accuracy maximised).
 */

export type TuningStrategy = (typeof TUNING_STRATEGIES)[number]

export type TuningConfig = NonNullable<MlopsConfig['training']['tuning']>

export interface TuningOverrides {
  readonly maxJobs?: number
  readonly maxParallelJobs?: number
  readonly strategy?: TuningStrategy
}

export interface TuningSettings {
  readonly strategy: TuningStrategy
  readonly maxJobs: number
  readonly maxParallelJobs: number
  readonly earlyStopping: 'Auto' | 'Off'
  readonly objective: { readonly metric: MetricName; readonly type: 'Maximize' | 'Minimize'; readonly regex: string }
  readonly ranges: TuningConfig['ranges']
  readonly hyperband?: { readonly minResource: number; readonly maxResource: number }
}

/** `training.tuning` with flags over it, validated. UserError when tuning is not configured. */
export function tuningSettings(cfg: MlopsConfig, o: TuningOverrides, training: TrainingSettings): TuningSettings {
  const t = cfg.training.tuning
  if (!t) {
    throw new UserError('TuningNotConfigured', 'training.tuning is not set in the config, so there is nothing to tune.', {
      hint: 'Add for example:\n  training:\n    tuning:\n      objective: { metric: val_accuracy }\n      ranges:\n        lr: { type: continuous, min: 0.0001, max: 0.1, scaling: Logarithmic }',
    })
  }
  const strategy = o.strategy ?? t.strategy
  const maxJobs = o.maxJobs ?? t.maxJobs
  const maxParallelJobs = o.maxParallelJobs ?? t.maxParallelJobs
  if (maxParallelJobs > maxJobs) {
    throw new UserError('InvalidFlag', `--max-parallel (${maxParallelJobs}) must not exceed --max-jobs (${maxJobs}).`, {
      hint: `For example: --max-jobs ${maxJobs} --max-parallel ${Math.min(2, maxJobs)}`,
    })
  }
  const metric = t.objective.metric
  const direction = objectiveDirection(metric)
  if (t.objective.type && t.objective.type !== direction) {
    throw new UserError(
      'ObjectiveDirectionMismatch',
      `training.tuning.objective.type is ${t.objective.type}, but ${metric} is ${direction === 'Minimize' ? 'a loss: lower is better' : 'better when higher'}.`,
      {
        hint: `Remove objective.type (it follows the metric) or set it to ${direction}.`,
      },
    )
  }
  const rangeNames = Object.keys(t.ranges)
  if (strategy === 'Grid' && rangeNames.some((n) => t.ranges[n].type !== 'categorical')) {
    throw new UserError('GridNeedsCategorical', 'The Grid strategy only takes categorical ranges.', {
      hint: `Make every range in training.tuning.ranges categorical (values: [...]), or use --strategy Bayesian. Non-categorical: ${rangeNames.filter((n) => t.ranges[n].type !== 'categorical').join(', ')}.`,
    })
  }
  let hyperband: TuningSettings['hyperband']
  if (strategy === 'Hyperband') {
    const epochs = training.hyperparameters.epochs
    const maxResource = t.hyperband?.maxResource ?? (typeof epochs === 'number' ? epochs : undefined)
    if (maxResource === undefined) {
      throw new UserError('HyperbandNeedsEpochs', 'Hyperband needs the number of epochs it may give the best jobs.', {
        hint: 'Set training.hyperparameters.epochs to a number, or training.tuning.hyperband.maxResource.',
      })
    }
    const minResource = t.hyperband?.minResource ?? 1
    if (minResource >= maxResource) {
      throw new UserError('InvalidHyperband', `training.tuning.hyperband.minResource (${minResource}) must be below maxResource (${maxResource}).`)
    }
    if (rangeNames.includes('epochs')) {
      throw new UserError('InvalidHyperband', 'Hyperband decides the epochs itself: remove epochs from training.tuning.ranges.')
    }
    hyperband = { minResource, maxResource }
  }
  return {
    strategy,
    maxJobs,
    maxParallelJobs,
    earlyStopping: t.earlyStopping,
    objective: { metric, type: direction, regex: metricRegex(metric) },
    ranges: t.ranges,
    ...(hyperband ? { hyperband } : {}),
  }
}

/** ParameterRanges: strings for bounds, JSON-encoded categorical values (CategoricalParameter.as_json_range). */
export function parameterRanges(ranges: TuningConfig['ranges']) {
  const out = {
    ContinuousParameterRanges: [] as {
      Name: string
      MinValue: string
      MaxValue: string
      ScalingType: 'Auto' | 'Linear' | 'Logarithmic' | 'ReverseLogarithmic'
    }[],
    IntegerParameterRanges: [] as { Name: string; MinValue: string; MaxValue: string; ScalingType: 'Auto' | 'Linear' | 'Logarithmic' | 'ReverseLogarithmic' }[],
    CategoricalParameterRanges: [] as { Name: string; Values: string[] }[],
  }
  for (const [Name, r] of Object.entries(ranges)) {
    if (r.type === 'continuous') out.ContinuousParameterRanges.push({ Name, MinValue: String(r.min), MaxValue: String(r.max), ScalingType: r.scaling })
    else if (r.type === 'integer') out.IntegerParameterRanges.push({ Name, MinValue: String(r.min), MaxValue: String(r.max), ScalingType: r.scaling })
    else out.CategoricalParameterRanges.push({ Name, Values: r.values.map((v) => JSON.stringify(v)) })
  }
  return out
}

export interface TuningRequestInput {
  readonly cfg: MlopsConfig
  readonly training: TrainingSettings
  readonly tuning: TuningSettings
  readonly jobName: string
  readonly region: string
  readonly roleArn: string
  readonly codeUri: string
  readonly channels: Channels
}

export interface TuningRequestPlan {
  readonly request: CreateHyperParameterTuningJobRequest
  readonly distribution: DistributionPlan
}

export function buildTuningJobRequest(i: TuningRequestInput): TuningRequestPlan {
  const s = i.training
  const t = i.tuning
  const distribution = trainingDistribution(s)
  const tuned = new Set(Object.keys(t.ranges).map(hyperparameterKey))
  const staticHp = Object.fromEntries(Object.entries(s.hyperparameters).filter(([k]) => !tuned.has(hyperparameterKey(k))))
  const request: CreateHyperParameterTuningJobRequest = {
    HyperParameterTuningJobName: i.jobName,
    HyperParameterTuningJobConfig: {
      Strategy: t.strategy as HyperParameterTuningJobStrategyType,
      ...(t.hyperband ? { StrategyConfig: { HyperbandStrategyConfig: { MinResource: t.hyperband.minResource, MaxResource: t.hyperband.maxResource } } } : {}),
      ResourceLimits: {
        // Grid runs every combination; SageMaker rejects MaxNumberOfTrainingJobs with it.
        ...(t.strategy === 'Grid' ? {} : { MaxNumberOfTrainingJobs: t.maxJobs }),
        MaxParallelTrainingJobs: t.maxParallelJobs,
      },
      // Hyperband stops weak jobs itself and requires the generic early stopping off.
      TrainingJobEarlyStoppingType: t.strategy === 'Hyperband' ? 'Off' : t.earlyStopping,
      HyperParameterTuningJobObjective: { Type: t.objective.type, MetricName: t.objective.metric },
      ParameterRanges: parameterRanges(t.ranges),
    },
    TrainingJobDefinition: {
      AlgorithmSpecification: { TrainingImage: trainingImage(s, i.region), TrainingInputMode: s.inputMode, MetricDefinitions: metricDefinitions() },
      RoleArn: i.roleArn,
      StaticHyperParameters: {
        ...encodeHyperparameters(staticHp),
        ...scriptModeHyperparameters({ entryPoint: s.entryPoint, codeUri: i.codeUri, jobName: i.jobName, region: i.region }),
        sagemaker_estimator_class_name: JSON.stringify('PyTorch'),
        sagemaker_estimator_module: JSON.stringify('sagemaker.pytorch.estimator'),
        ...distribution.hyperparameters,
      },
      InputDataConfig: inputDataConfig(i.channels, s.dataDistribution),
      OutputDataConfig: { S3OutputPath: outputPath(i.cfg) },
      ResourceConfig: { InstanceCount: s.instanceCount, InstanceType: s.instanceType as never, VolumeSizeInGB: s.volumeSizeGb },
      StoppingCondition: { MaxRuntimeInSeconds: s.maxRuntimeSeconds, ...(s.spot ? { MaxWaitTimeInSeconds: s.maxWaitSeconds } : {}) },
      // No CheckpointConfig: the children would share one S3 folder and resume from each other.
      ...(s.spot ? { EnableManagedSpotTraining: true } : {}),
    },
    Tags: projectTags(i.cfg.project.name),
  }
  return { request, distribution }
}

/** Rounds of parallel jobs a tuning job runs, for its wait: ceil(jobs / maxParallelJobs). */
export function tuningRounds(jobs: number, maxParallelJobs: number): number {
  return Math.ceil(jobs / maxParallelJobs)
}
