import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { decideDistribution, gpusPerInstance } from '../../src/features/training/distribution.js'
import {
  buildTrainingJobRequest,
  decodeHyperparameter,
  defaultWaitSeconds,
  encodeHyperparameters,
  estimateTrainingCost,
  parseHyperparameterFlag,
  trainingDistribution,
  trainingSettings,
} from '../../src/features/training/request.js'
import { buildTuningJobRequest, tuningSettings } from '../../src/features/training/tuning-request.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

const cfgOf = (training: string) => parseConfigText(minimalConfig(`  prefix: data\ntraining:\n${training}`), 'mlops.config.yaml')
const channels = { train: 's3://dogs-data/data/train', valid: 's3://dogs-data/data/valid', test: 's3://dogs-data/data/test' }
const base = {
  jobName: 'dogs-train-x',
  region: 'us-east-1',
  roleArn: 'arn:aws:iam::1:role/r',
  codeUri: 's3://dogs-data/dogs/code/abc/sourcedir.tar.gz',
  channels,
}

describe('distribution mode', () => {
  const d = (instanceType: string, instanceCount: number, setting = 'auto' as const, frameworkVersion = '2.8.0') =>
    decideDistribution({ instanceType, instanceCount, frameworkVersion, setting })

  it('auto: torch_distributed on GPU types with a supported version, native on CPU, none for one device', () => {
    expect(d('ml.g4dn.xlarge', 4)).toMatchObject({
      mode: 'torch_distributed',
      worldSize: 4,
      hyperparameters: { sagemaker_torch_distributed_enabled: 'true', sagemaker_instance_type: '"ml.g4dn.xlarge"' },
    })
    expect(d('ml.g4dn.xlarge', 4).reason).toContain("SageMaker's torchrun launcher: 4 hosts × 1 process = 4 processes")
    expect(d('ml.c5.2xlarge', 4)).toMatchObject({ mode: 'native', worldSize: 4, hyperparameters: {} })
    expect(d('ml.c5.2xlarge', 4).reason).toContain('gloo process group from SM_HOSTS')
    expect(d('ml.g4dn.xlarge', 1)).toMatchObject({ mode: 'none', worldSize: 1, hyperparameters: {} })
    // One instance with 4 GPUs still has something to distribute.
    expect(d('ml.g4dn.12xlarge', 1)).toMatchObject({ mode: 'torch_distributed', worldSize: 4 })
    expect(d('ml.p3.16xlarge', 2).worldSize).toBe(16)
    expect(gpusPerInstance('ml.m5.large')).toBe(0)
  })

  it('auto falls back to native for a version outside the torch_distributed list; explicit torch_distributed is refused', () => {
    expect(d('ml.g5.xlarge', 2, 'auto', '1.12.1')).toMatchObject({ mode: 'native' })
    expect(d('ml.g5.xlarge', 2, 'auto', '1.12.1').reason).toContain("not on SageMaker's torch_distributed list")
    expect(() => d('ml.g5.xlarge', 2, 'torch_distributed' as never, '1.12.1')).toThrow(/not 1\.12\.1/)
    expect(() => d('ml.m5.xlarge', 2, 'torch_distributed' as never)).toThrow(/needs a GPU instance type; ml\.m5\.xlarge is CPU only/)
  })

  it('explicit native and none send no SageMaker flag; none with several hosts warns', () => {
    expect(d('ml.g4dn.xlarge', 2, 'native' as never)).toMatchObject({ mode: 'native', hyperparameters: {} })
    expect(d('ml.g4dn.xlarge', 2, 'none' as never).warning).toContain('behaves like native')
    expect(d('ml.g4dn.xlarge', 1, 'none' as never).warning).toBeUndefined()
  })
})

describe('hyperparameters', () => {
  it('are JSON-encoded like the SDK, and decoded back like the training toolkit', () => {
    expect(encodeHyperparameters({ epochs: 10, lr: 0.001, arch: 'resnet50', 'freeze-backbone': false })).toEqual({
      epochs: '10',
      lr: '0.001',
      arch: '"resnet50"',
      'freeze-backbone': 'false',
    })
    expect(decodeHyperparameter('"resnet50"')).toBe('resnet50')
    expect(decodeHyperparameter('0.5')).toBe(0.5)
    expect(decodeHyperparameter('not json')).toBe('not json')
  })

  it('--hyperparameter keeps numbers and booleans typed and replaces the config key in either spelling', () => {
    expect(parseHyperparameterFlag('lr=1e-4')).toEqual(['lr', 0.0001])
    expect(parseHyperparameterFlag('freeze-backbone=true')).toEqual(['freeze-backbone', true])
    expect(parseHyperparameterFlag('arch=resnet50')).toEqual(['arch', 'resnet50'])
    expect(parseHyperparameterFlag('note=a=b')).toEqual(['note', 'a=b'])
    expect(() => parseHyperparameterFlag('=3')).toThrow(/key=value/)
    const s = trainingSettings(cfgOf('  hyperparameters: { batch-size: 64, epochs: 3 }\n'), { hyperparameters: { batch_size: 32 } })
    expect(s.hyperparameters).toEqual({ epochs: 3, batch_size: 32 })
  })
})

describe('CreateTrainingJob request', () => {
  it('matches the SDK wire format: script-mode keys, File channels, output path, stop condition, tags, metrics', () => {
    const cfg = cfgOf('  hyperparameters: { epochs: 3 }\n')
    const settings = trainingSettings(cfg)
    const { request } = buildTrainingJobRequest({ cfg, settings, distribution: trainingDistribution(settings), ...base })
    expect(request).toEqual({
      TrainingJobName: 'dogs-train-x',
      RoleArn: 'arn:aws:iam::1:role/r',
      AlgorithmSpecification: {
        TrainingImage: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker',
        TrainingInputMode: 'File',
        MetricDefinitions: expect.arrayContaining([
          { Name: 'val_accuracy', Regex: expect.any(String) },
          { Name: 'test_loss', Regex: expect.any(String) },
        ]),
        EnableSageMakerMetricsTimeSeries: true,
      },
      HyperParameters: {
        epochs: '3',
        sagemaker_program: '"train.py"',
        sagemaker_submit_directory: '"s3://dogs-data/dogs/code/abc/sourcedir.tar.gz"',
        sagemaker_container_log_level: '20',
        sagemaker_job_name: '"dogs-train-x"',
        sagemaker_region: '"us-east-1"',
      },
      InputDataConfig: ['train', 'valid', 'test'].map((n) => ({
        ChannelName: n,
        DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: `s3://dogs-data/data/${n}`, S3DataDistributionType: 'FullyReplicated' } },
      })),
      OutputDataConfig: { S3OutputPath: 's3://dogs-data/output/' },
      ResourceConfig: { InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
      Tags: [
        { Key: 'mlops:project', Value: 'dogs' },
        { Key: 'mlops:managed-by', Value: 'mlops' },
      ],
    })
  })

  it("spot sets EnableManagedSpotTraining, MaxWaitTimeInSeconds, a per-job CheckpointConfig and the script's checkpoint dir", () => {
    const cfg = cfgOf('  maxRuntime: 1h\n  maxWait: 3h\n  dataDistribution: ShardedByS3Key\n')
    const settings = trainingSettings(cfg, { spot: true })
    const { request } = buildTrainingJobRequest({ cfg, settings, distribution: trainingDistribution(settings), ...base })
    expect(request).toMatchObject({
      EnableManagedSpotTraining: true,
      StoppingCondition: { MaxRuntimeInSeconds: 3600, MaxWaitTimeInSeconds: 10800 },
      CheckpointConfig: { S3Uri: 's3://dogs-data/dogs/checkpoints/dogs-train-x/', LocalPath: '/opt/ml/checkpoints' },
      HyperParameters: expect.objectContaining({ 'checkpoint-dir': '"/opt/ml/checkpoints"' }),
    })
    expect(request.InputDataConfig![0].DataSource!.S3DataSource!.S3DataDistributionType).toBe('ShardedByS3Key')
    expect(() => trainingSettings(cfgOf('  maxRuntime: 5h\n  maxWait: 2h\n'), { spot: true })).toThrow(/maxWait .* must be at least/)
  })

  it("Debugger rules and the profiler report use the region's rule image and the rules' collections", () => {
    const cfg = cfgOf(
      '  debugger:\n    rules: [VanishingGradient, Overfit, Overtraining, PoorWeightInitialization, LossNotDecreasing]\n    profilerReport: true\n',
    )
    const settings = trainingSettings(cfg)
    const { request } = buildTrainingJobRequest({ cfg, settings, distribution: trainingDistribution(settings), ...base, region: 'eu-west-1' })
    const image = '929884845733.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-debugger-rules:latest'
    expect(request.DebugHookConfig).toEqual({
      S3OutputPath: 's3://dogs-data/output/',
      CollectionConfigurations: [
        { CollectionName: 'gradients', CollectionParameters: { save_interval: '500' } },
        { CollectionName: 'relu_input', CollectionParameters: { include_regex: '.*relu_input', save_interval: '500' } },
        { CollectionName: 'losses', CollectionParameters: { save_interval: '500' } },
      ],
    })
    expect(request.DebugRuleConfigurations).toContainEqual({
      RuleConfigurationName: 'LossNotDecreasing',
      RuleEvaluatorImage: image,
      RuleParameters: { rule_to_invoke: 'LossNotDecreasing', mode: 'TRAIN' },
    })
    expect(request.DebugRuleConfigurations).toHaveLength(5)
    expect(request.ProfilerRuleConfigurations).toEqual([
      { RuleConfigurationName: 'ProfilerReport', RuleEvaluatorImage: image, RuleParameters: { rule_to_invoke: 'ProfilerReport' } },
    ])
    expect(request.ProfilerConfig).toEqual({ S3OutputPath: 's3://dogs-data/output/', ProfilingIntervalInMilliseconds: 500 })
  })

  it('estimates the most a job can cost and waits for its limit plus a margin', () => {
    expect(estimateTrainingCost({ instanceType: 'ml.g4dn.xlarge', instanceCount: 4, maxRuntimeSeconds: 7200, spot: false })).toMatchObject({
      hourlyUsd: 0.736,
      maxUsd: 5.89,
    })
    expect(estimateTrainingCost({ instanceType: 'ml.x9.huge' as never, instanceCount: 1, maxRuntimeSeconds: 60, spot: false }).maxUsd).toBeUndefined()
    expect(defaultWaitSeconds({ spot: false, maxRuntimeSeconds: 3600, maxWaitSeconds: 7200 })).toBe(3600 + 1800)
    expect(defaultWaitSeconds({ spot: true, maxRuntimeSeconds: 3600, maxWaitSeconds: 7200 })).toBe(7200 + 1800)
  })
})

describe('CreateHyperParameterTuningJob request', () => {
  const tuningCfg = (extra = '', objective = 'val_loss') =>
    cfgOf(`  hyperparameters: { epochs: 6, arch: resnet18, lr: 0.01 }
  tuning:
    objective: { metric: ${objective} }
    ranges:
      lr: { type: continuous, min: 0.001, max: 0.1 }
      batch-size: { type: categorical, values: [32, "64"] }
${extra}`)

  it('follows the metric for the direction, never a blind default', () => {
    const cfg = tuningCfg()
    const s = trainingSettings(cfg)
    expect(tuningSettings(cfg, {}, s).objective.type).toBe('Minimize')
    expect(tuningSettings(tuningCfg('', 'val_accuracy'), {}, s).objective.type).toBe('Maximize')
    const wrong = cfgOf('  tuning:\n    objective: { metric: val_loss, type: Maximize }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n')
    expect(() => tuningSettings(wrong, {}, trainingSettings(wrong))).toThrow(/objective.type is Maximize, but val_loss is a loss/)
  })

  it('removes tuned keys from the static set and JSON-encodes categorical values', () => {
    const cfg = tuningCfg()
    const s = trainingSettings(cfg)
    const { request } = buildTuningJobRequest({
      cfg,
      training: s,
      tuning: tuningSettings(cfg, { maxJobs: 8, maxParallelJobs: 4 }, s),
      ...base,
      jobName: 'dogs-261122-1030',
    })
    expect(request.HyperParameterTuningJobConfig).toEqual({
      Strategy: 'Bayesian',
      ResourceLimits: { MaxNumberOfTrainingJobs: 8, MaxParallelTrainingJobs: 4 },
      TrainingJobEarlyStoppingType: 'Auto',
      HyperParameterTuningJobObjective: { Type: 'Minimize', MetricName: 'val_loss' },
      ParameterRanges: {
        ContinuousParameterRanges: [{ Name: 'lr', MinValue: '0.001', MaxValue: '0.1', ScalingType: 'Auto' }],
        IntegerParameterRanges: [],
        CategoricalParameterRanges: [{ Name: 'batch-size', Values: ['32', '"64"'] }],
      },
    })
    expect(request.TrainingJobDefinition?.StaticHyperParameters).toEqual({
      epochs: '6',
      arch: '"resnet18"',
      sagemaker_program: '"train.py"',
      sagemaker_submit_directory: '"s3://dogs-data/dogs/code/abc/sourcedir.tar.gz"',
      sagemaker_container_log_level: '20',
      sagemaker_job_name: '"dogs-261122-1030"',
      sagemaker_region: '"us-east-1"',
      sagemaker_estimator_class_name: '"PyTorch"',
      sagemaker_estimator_module: '"sagemaker.pytorch.estimator"',
    })
    expect(request.Tags).toEqual([
      { Key: 'mlops:project', Value: 'dogs' },
      { Key: 'mlops:managed-by', Value: 'mlops' },
    ])
  })

  it('Hyperband gets its resource from epochs and runs with early stopping off; Grid takes only categorical ranges', () => {
    const cfg = tuningCfg()
    const s = trainingSettings(cfg)
    const t = tuningSettings(cfg, { strategy: 'Hyperband' }, s)
    const { request } = buildTuningJobRequest({ cfg, training: s, tuning: t, ...base })
    expect(request.HyperParameterTuningJobConfig).toMatchObject({
      Strategy: 'Hyperband',
      StrategyConfig: { HyperbandStrategyConfig: { MinResource: 1, MaxResource: 6 } },
      TrainingJobEarlyStoppingType: 'Off',
    })
    expect(() => tuningSettings(cfg, { strategy: 'Grid' }, s)).toThrow(/Grid strategy only takes categorical ranges/)
    expect(() => tuningSettings(cfg, { maxJobs: 2, maxParallelJobs: 3 }, s)).toThrow(/--max-parallel \(3\) must not exceed --max-jobs \(2\)/)
  })
})

describe('--dry-run offline (no credentials, no endpoint)', () => {
  const config = minimalConfig(`  prefix: data
training:
  sourceDir: code
  instanceCount: 4
  tuning:
    objective: { metric: val_accuracy }
    ranges:
      lr: { type: continuous, min: 0.001, max: 0.1, scaling: Logarithmic }
`)

  it('train prints the CreateTrainingJob request with placeholders and the distribution choice', async () => {
    const dir = await tempProject(config, { 'code/train.py': 'print(1)\n' })
    const r = await runMlops(['train', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    expect(out).toMatchObject({ dryRun: true, distribution: { mode: 'torch_distributed' }, estimatedCost: { maxUsd: 5.89 } })
    const ops = out.operations.map((o: { operation: string }) => o.operation)
    expect(ops).toEqual([
      'GetProducts',
      'GetCallerIdentity',
      'GetRole',
      'CreateRole',
      'UpdateAssumeRolePolicy',
      'TagRole',
      'ListRolePolicies',
      'GetRolePolicy',
      'PutRolePolicy',
      'DeleteRolePolicy',
      'ListAttachedRolePolicies',
      'DetachRolePolicy',
      'ListObjectsV2',
      'ListObjectsV2',
      'ListObjectsV2',
      'HeadObject',
      'PutObject',
      'CreateTrainingJob',
      'DescribeTrainingJob',
      'DescribeLogStreams',
    ])
    const create = out.operations.find((o: { operation: string }) => o.operation === 'CreateTrainingJob').input
    expect(create.RoleArn).toBe('arn:aws:iam::<account-id>:role/dogs-sagemaker')
    expect(create.ResourceConfig.InstanceCount).toBe(4)
    expect(create.HyperParameters.sagemaker_torch_distributed_enabled).toBe('true')
    const human = await runMlops(['train', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Dry run: mlops train')
    expect(human.stdout).toMatch(/distribution\s+torch_distributed: GPU instances and PyTorch 2\.13\.0/)
    expect(human.stdout).toContain('up to $5.89 = $0.74/h × 4 instances × 2h max runtime')
  })

  it('tune prints the CreateHyperParameterTuningJob request', async () => {
    const dir = await tempProject(config.replace('  instanceCount: 4\n', ''), { 'code/train.py': 'print(1)\n' })
    const r = await runMlops(['tune', '--dry-run', '--json', '--strategy', 'random', '--max-jobs', '3', '--max-parallel', '1'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    expect(out).toMatchObject({ dryRun: true, strategy: 'Random', objective: { metric: 'val_accuracy', type: 'Maximize' } })
    const create = out.operations.find((o: { operation: string }) => o.operation === 'CreateHyperParameterTuningJob').input
    expect(create.HyperParameterTuningJobName.length).toBeLessThanOrEqual(32)
    expect(create.HyperParameterTuningJobConfig.ResourceLimits).toEqual({ MaxNumberOfTrainingJobs: 3, MaxParallelTrainingJobs: 1 })
    expect(create.TrainingJobDefinition.RoleArn).toBe('arn:aws:iam::<account-id>:role/dogs-sagemaker')
    const bad = await runMlops(['tune', '--dry-run', '--strategy', 'Annealing'], { cwd: dir, env: OFFLINE_ENV })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--strategy: must be one of Bayesian, Random, Hyperband, Grid, got "Annealing".')
  })

  it('tune without training.tuning says what to add', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  sourceDir: code\n`), { 'code/train.py': '' })
    const r = await runMlops(['tune', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('training.tuning is not set')
  })
})
