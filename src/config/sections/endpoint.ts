import { z } from 'zod'
import { atMost, duration, nonNegativeInt, positiveInt, resourceName, sagemakerInstanceType } from '../common.js'

/**
 * The highest autoscaling target mlops accepts: a million invocations per instance per minute (about
 * 16,700 requests/s, far beyond any one SageMaker instance). Above it a typo (`1e308`) would reach
 * AWS as a non-finite TargetValue.
 */
export const MAX_TARGET_INVOCATIONS_PER_MINUTE = 1_000_000

/** `endpoint.autoscaling`: target tracking on SageMakerVariantInvocationsPerInstance. */
export const AutoscalingSchema = z
  .strictObject({
    /**
     * RegisterScalableTarget's MinCapacity: at least 1 for an endpoint variant. No upper bound in the
     * API (`mlops scale --min` and this field alike): the account's instance quota is the limit. @default 1
     */
    minCapacity: positiveInt('instances').default(1),
    /** RegisterScalableTarget's MaxCapacity; no API upper bound (the account quota is). @default 2 */
    maxCapacity: positiveInt('instances').default(2),
    /** Invocations per instance per MINUTE (not a CPU percentage). AWS's start: max RPS x 0.5 x 60. @default 70 */
    targetInvocationsPerInstance: z
      .number({ error: 'expected a number (invocations per instance per minute)' })
      .positive('must be more than 0 invocations per instance per minute')
      .max(MAX_TARGET_INVOCATIONS_PER_MINUTE, `must be at most ${MAX_TARGET_INVOCATIONS_PER_MINUTE} invocations per instance per minute`)
      .default(70),
    /** Seconds. @default 300 */
    scaleInCooldown: nonNegativeInt('seconds').max(3600, atMost(3600, 'seconds')).default(300),
    /** Seconds. @default 60 */
    scaleOutCooldown: nonNegativeInt('seconds').max(3600, atMost(3600, 'seconds')).default(60),
  })
  .refine((a) => a.minCapacity <= a.maxCapacity, { message: 'minCapacity must not exceed maxCapacity', path: ['minCapacity'] })

/**
 * `mlops scale --target-rps`: the target as requests per SECOND per instance (x 60 is
 * targetInvocationsPerInstance, so its limit is that field's over 60).
 */
export const TargetRpsSchema = z
  .number({ error: 'must be a number of requests per second per instance' })
  .positive('must be more than 0 requests per second per instance')
  .max(
    MAX_TARGET_INVOCATIONS_PER_MINUTE / 60,
    `must be at most ${Math.floor(MAX_TARGET_INVOCATIONS_PER_MINUTE / 60)} requests per second per instance (${MAX_TARGET_INVOCATIONS_PER_MINUTE} per minute)`,
  )

/** What `endpoint.autoscaling: {}` parses to: the defaults `mlops scale` and a deploy's scaling restore fall back on. */
export const AUTOSCALING_DEFAULTS = AutoscalingSchema.parse({})

/**
 * `endpoint.batching`: dynamic batching in the predictor (Ray Serve's `@serve.batch`): requests that
 * arrive together are answered by one forward pass. Written to config.yaml's user_config on deploy;
 * `mlops serve` uses the same values.
 */
export const BatchingSchema = z.strictObject({
  /** Most requests one forward pass answers. @default 8 */
  maxBatchSize: positiveInt('requests per batch').max(256, 'must be at most 256 requests per batch').default(8),
  /** Milliseconds a batch waits for more requests after its first one (the added latency at low load). @default 10 */
  batchWaitTimeoutMs: z
    .number({ error: 'expected a number of milliseconds' })
    .min(0, 'must be 0 or more milliseconds')
    .max(10_000, 'must be at most 10000 milliseconds')
    .default(10),
})

/** What `endpoint.batching: {}` parses to. */
export const BATCHING_DEFAULTS = BatchingSchema.parse({})

/**
 * Requests one replica takes at once: two batches' worth (at least 5), or a batch could never fill.
 * The deployed Ray Serve application's max_ongoing_requests, and `mlops serve`'s default --max-concurrency.
 */
export function requestsPerReplica(maxBatchSize: number): number {
  return Math.max(5, 2 * maxBatchSize)
}

/** Memory sizes a serverless endpoint takes (MB). */
export const SERVERLESS_MEMORY_SIZES = [1024, 2048, 3072, 4096, 5120, 6144] as const

/** `endpoint`: the real-time (or serverless) endpoint `mlops deploy` manages. */
export const EndpointSchema = z.strictObject({
  /** Unset: `<project>-endpoint`. */
  name: resourceName.optional(),
  /** @default 'ml.m5.large' */
  instanceType: sagemakerInstanceType.default('ml.m5.large'),
  /**
   * InitialInstanceCount: at least 1, and no upper bound in the SageMaker API (the account's
   * per-instance-type endpoint quota is the limit; AWS refuses more with ResourceLimitExceeded).
   * `mlops deploy --instance-count` is checked by this field too. @default 1
   */
  instanceCount: positiveInt('endpoint instances').default(1),
  /** Serverless inference instead of instances: zero cost when idle. */
  serverless: z
    .strictObject({
      /** 1024-6144 in steps of 1024. @default 2048 */
      memoryMb: z
        .number({ error: 'expected a number (MB)' })
        .int('expected a whole number (MB)')
        .refine(
          (m) => (SERVERLESS_MEMORY_SIZES as readonly number[]).includes(m),
          `expected ${SERVERLESS_MEMORY_SIZES.slice(0, -1).join(', ')} or ${SERVERLESS_MEMORY_SIZES.at(-1)}`,
        )
        .default(2048),
      /** ServerlessConfig.MaxConcurrency: 1-200 in the SageMaker API. @default 5 */
      maxConcurrency: positiveInt('concurrent invocations').max(200, atMost(200, 'concurrent invocations')).default(5),
    })
    .optional(),
  /**
   * Retired: endpoints serve on the Ray Serve SageMaker image, which has no PyTorch version to pick.
   * Setting it is refused with the reason (the TorchServe `pytorch-inference` images ended patching 2026-06-30).
   */
  frameworkVersion: z.string().optional(),
  /** Retired with `frameworkVersion`. */
  pyVersion: z.string().optional(),
  /** Override the serving container image URI (unset: the region's Ray Serve SageMaker image, CPU or CUDA by instance type). */
  image: z.string().min(1).optional(),
  /** Old endpoint configs and models kept for rollback. @default 2 */
  keepVersions: positiveInt('versions').default(2),
  /** CloudWatch alarms that roll an update back. */
  autoRollbackAlarms: z.array(z.string().min(1)).default([]),
  /** Longest to wait for InService. @default '30m' */
  waitTimeout: duration.default(1800),
  autoscaling: AutoscalingSchema.optional(),
  /**
   * The predictor inside training.sourceDir: a Ray Serve module (a `@serve.deployment` class and
   * `app = <Class>.bind()`), shipped at the model archive's root with the local modules it imports;
   * config.yaml imports `<module>:app`. Missing there: the one bundled with mlops. @default 'deployment.py'
   */
  entryPoint: z
    .string()
    .regex(/^[A-Za-z_]\w*\.py$/, 'expected a Python module file name such as deployment.py')
    .default('deployment.py'),
  /** Ray Serve replicas of the predictor on each instance (each takes one GPU on a GPU instance). @default 1 */
  replicas: positiveInt('replicas per instance').max(64, 'must be at most 64 replicas per instance').default(1),
  batching: BatchingSchema.default(BATCHING_DEFAULTS),
  /** Image the post-deploy smoke test sends (relative to this file). Unset: the sample bundled with mlops. */
  smokeTestImage: z.string().min(1).optional(),
  /**
   * With autoRollbackAlarms: how long SageMaker keeps the old fleet and watches the alarms after
   * shifting traffic, before the update counts as done (TerminationWaitInSeconds). @default '5m'
   */
  bakeTime: duration.refine((s) => s <= 3600, 'at most 1h (SageMaker limit)').default(300),
  /**
   * Delete the endpoint after this long without an invocation (a CloudWatch alarm and a small
   * reaper Lambda; the config and model stay, so `mlops deploy` restores it). Unset: never. 5m to 24h.
   */
  idleStop: duration.refine((s) => s >= 300 && s <= 86_400, 'between 5m and 24h').optional(),
})
