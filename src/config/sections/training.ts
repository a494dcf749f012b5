import { z } from 'zod'
import { atMost, duration, positiveInt, roleArn, s3Prefix, sagemakerInstanceType } from '../common.js'

const hyperparameterValue = z.union([z.string(), z.number(), z.boolean()], {
  error: 'expected a string, number or boolean hyperparameter value',
})

const ContinuousRange = z.strictObject({
  type: z.literal('continuous'),
  min: z.number(),
  max: z.number(),
  /** @default 'Auto' */
  scaling: z.enum(['Auto', 'Linear', 'Logarithmic', 'ReverseLogarithmic']).default('Auto'),
})
const IntegerRange = z.strictObject({
  type: z.literal('integer'),
  min: z.number().int(),
  max: z.number().int(),
  scaling: z.enum(['Auto', 'Linear', 'Logarithmic', 'ReverseLogarithmic']).default('Auto'),
})
const CategoricalRange = z.strictObject({
  type: z.literal('categorical'),
  values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1, 'list at least one value'),
})

export const ParameterRangeSchema = z
  .discriminatedUnion('type', [ContinuousRange, IntegerRange, CategoricalRange], {
    error: 'expected type: continuous, integer or categorical',
  })
  .refine((r) => r.type === 'categorical' || r.min < r.max, { message: 'min must be less than max' })

/** ResourceConfig.KeepAlivePeriodInSeconds' upper bound in the SageMaker API model. */
export const WARM_POOL_MAX_SECONDS = 21_600

/** SageMaker's tuning strategies: the one list (the config field and `tune --strategy` both use it). */
export const TUNING_STRATEGIES = ['Bayesian', 'Random', 'Hyperband', 'Grid'] as const
export const TuningStrategySchema = z.enum(TUNING_STRATEGIES)

/** `training.tuning`: hyperparameter tuning (`mlops tune`). */
export const TuningSchema = z
  .strictObject({
    /** Metric printed by train.py: val_accuracy, val_loss, test_accuracy, ... */
    objective: z.strictObject({
      metric: z.enum(['val_accuracy', 'val_loss', 'train_loss', 'test_accuracy', 'test_loss'], {
        error: 'expected one of the metrics train.py prints: val_accuracy, val_loss, train_loss, test_accuracy, test_loss',
      }),
      /** Unset: follows the metric (Maximize accuracies, Minimize losses). */
      type: z.enum(['Maximize', 'Minimize']).optional(),
    }),
    /** @default 'Bayesian' */
    strategy: TuningStrategySchema.default('Bayesian'),
    /**
     * ResourceLimits.MaxNumberOfTrainingJobs. The API sets only a minimum (1); 500 is the bound
     * `tune --max-jobs` always had, now one rule for the flag and this field. @default 4
     */
    maxJobs: positiveInt('tuning jobs').max(500, atMost(500, 'tuning jobs')).default(4),
    /** ResourceLimits.MaxParallelTrainingJobs; 100 as `tune --max-parallel` had. @default 2 */
    maxParallelJobs: positiveInt('parallel tuning jobs').max(100, atMost(100, 'parallel tuning jobs')).default(2),
    /** @default 'Auto' (Hyperband always runs with 'Off': it stops jobs itself) */
    earlyStopping: z.enum(['Auto', 'Off']).default('Auto'),
    /**
     * Hyperband only: the resource it allocates is epochs. Unset maxResource: the numeric `epochs`
     * hyperparameter. @default { minResource: 1 }
     */
    hyperband: z
      .strictObject({
        /** @default 1 */
        minResource: positiveInt('epochs').default(1),
        maxResource: positiveInt('epochs').optional(),
      })
      .optional(),
    ranges: z.record(z.string(), ParameterRangeSchema).refine((r) => Object.keys(r).length > 0, 'give at least one range'),
  })
  .refine((t) => t.maxParallelJobs <= t.maxJobs, { message: 'maxParallelJobs must not exceed maxJobs', path: ['maxParallelJobs'] })

/** `training`: SageMaker training jobs (`mlops train`, `mlops tune`). */
export const TrainingSchema = z.strictObject({
  /** Execution role; unset: mlops creates a least-privilege one for the project. */
  roleArn: roleArn.optional(),
  /** @default 'ml.g4dn.xlarge' */
  instanceType: sagemakerInstanceType.default('ml.g4dn.xlarge'),
  /** @default 1 */
  instanceCount: positiveInt('training instances').max(100, atMost(100, 'training instances')).default(1),
  /** @default 30 */
  volumeSizeGb: positiveInt('GB').max(16384).default(30),
  /** Longest the job may run; SageMaker stops it after this. @default '2h' (7200 s) */
  maxRuntime: duration.default(7200),
  /** Managed spot training (cheaper, can be interrupted; the script resumes from checkpoints). @default false */
  spot: z.boolean().default(false),
  /** Spot only: the longest to wait for capacity plus run time. @default '4h' */
  maxWait: duration.default(14400),
  /**
   * PyTorch version of the SageMaker training image. Unset: the newest maintained line (aws/lifecycle.ts
   * `IMAGE_LIFECYCLE`, today 2.13.0 on the Amazon Linux 2023 `pytorch` images). Older lines (2.6.0-2.12.1)
   * stay selectable; `train` warns when the chosen one is past its end of patch.
   */
  frameworkVersion: z
    .string()
    .regex(/^\d+\.\d+(\.\d+)?$/, 'expected a PyTorch version such as 2.13.0')
    .optional(),
  /** Python tag; checked against the chosen image's own (unset: whatever the image has). */
  pyVersion: z
    .string()
    .regex(/^py3\d+$/, 'expected a Python tag such as py312')
    .optional(),
  /** Override the training container image URI (unset: the region's SageMaker DLC for `frameworkVersion`). */
  image: z.string().min(1).optional(),
  /** @default 'train.py' */
  entryPoint: z.string().min(1).default('train.py'),
  /** Folder packaged as sourcedir.tar.gz, relative to the project. Unset: the scripts bundled with mlops. */
  sourceDir: z.string().min(1).optional(),
  /** How instances cooperate: auto picks torch_distributed on GPU, the script's own process group on CPU. @default 'auto' */
  distribution: z.enum(['auto', 'torch_distributed', 'native', 'none']).default('auto'),
  /**
   * Warm pool: keep the instances this long after the job (e.g. 10m) so the next `train` with the
   * same instance type, count and role starts in seconds instead of minutes. Kept instances bill at
   * the instance rate. Not with spot. At most 6h (KeepAlivePeriodInSeconds, 0-21600).
   */
  keepAlive: duration.pipe(z.number().max(WARM_POOL_MAX_SECONDS, 'at most 6h (SageMaker keeps a warm pool up to 21600 s)')).optional(),
  /**
   * How the data reaches the container. File (default) copies every object to the instance before
   * the first step: best for many small files read every epoch (an image folder). FastFile streams
   * from S3 on first read: it wins for large datasets of big files read once or sequentially, where
   * the copy would dominate start-up. @default 'File'
   */
  inputMode: z.enum(['File', 'FastFile']).default('File'),
  /** @default 'FullyReplicated' */
  dataDistribution: z.enum(['FullyReplicated', 'ShardedByS3Key']).default('FullyReplicated'),
  /** Passed to train.py as --key value. */
  hyperparameters: z.record(z.string(), hyperparameterValue).default({}),
  /** Key prefix for job output in data.bucket. @default 'output' */
  outputPrefix: s3Prefix.default('output'),
  /** SageMaker Debugger rules and the profiler report. */
  debugger: z
    .strictObject({
      rules: z.array(z.enum(['VanishingGradient', 'Overfit', 'Overtraining', 'PoorWeightInitialization', 'LossNotDecreasing'])).default([]),
      profilerReport: z.boolean().default(false),
    })
    .optional(),
  tuning: TuningSchema.optional(),
})
