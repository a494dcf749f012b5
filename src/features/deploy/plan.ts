import type { NotifyDestination } from '../../shared/notify-spec.js'
import type {
  CreateEndpointConfigInput,
  CreateEndpointInput,
  CreateModelInput,
  DeploymentConfig,
  ProductionVariant,
  UpdateEndpointInput,
} from '@aws-sdk/client-sagemaker'
import { buildPolicyInput, buildRegisterInput, SCALABLE_DIMENSION, SERVICE_NAMESPACE, scalingResourceId } from '../../aws/autoscaling/scaling.js'
import { AUTOSCALING_DEFAULTS } from '../../config/sections/endpoint.js'
import { executionRoleArnFor, planExecutionRole } from '../../shared/roles/execution-role.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { configuredImageUris, GPU_INFERENCE_AMI_VERSION, imageLineOf, processorFor, servingImageUri } from '../../aws/sagemaker/images.js'
import { endOfPatchWarning } from '../../aws/lifecycle.js'
import { getProductsInput, instancePriceQuery } from '../../aws/pricing/products.js'
import { modelPackageLocation, planModelPackage, SHA_PLACEHOLDER, type InferenceCode } from './model-package.js'
import type { MlopsConfig } from '../../config/schema.js'
import { UserError } from '../../shared/errors.js'
import { projectTags, resourceNames, uniqueName } from '../../shared/naming.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { hourlyPrice, type PriceBook } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import type { VariantSpec } from '../../shared/endpoint-variant.js'

/**
 * Pure deploy logic: flags merged over the config, names, and every SageMaker request `deploy`
 * sends, built without AWS clients so tests and --dry-run share them.
 */

export const VARIANT_NAME = 'AllTraffic'

/** Serverless variants cannot use GPUs; any CPU type picks the CPU image. */
const CPU_TYPE_FOR_IMAGE = 'ml.m5.large'

/**
 * Why `--serverless` is refused on the Ray Serve image (checked 2026-12-07): AWS documents and tests
 * it on real-time instances only (aws/deep-learning-containers docs/ray, test/ray/sagemaker); serverless
 * endpoints are CPU-only, cap the container image at 10 GB and memory at 6 GB, and this image starts
 * a Ray cluster (GCS, raylet, a /dev/shm object store, the Serve proxy) before the adapter answers
 * /ping, on every cold start. Shipping it there would be untested at best; the retired TorchServe
 * image is the only serverless-capable AWS PyTorch image left, and it is no longer patched.
 */
export const SERVERLESS_REFUSAL =
  'Serverless endpoints are not offered on the Ray Serve image: AWS documents and tests it on real-time instances only, and serverless endpoints (CPU only, image at most 10 GB, memory at most 6 GB) would start a Ray cluster on every cold start.'

/** Options of `mlops deploy`, parsed from its flags (numbers parsed, ranges checked). */
export interface DeployOptions {
  /** An S3 URI of a model.tar.gz, or a training (or tuning) job name. */
  readonly model?: string
  readonly instanceType?: string
  readonly instanceCount?: number
  readonly serverless?: boolean
  readonly memoryMb?: number
  readonly maxConcurrency?: number
  /** @default true */
  readonly smokeTest?: boolean
  /** Restore the previous endpoint config when the smoke test fails. @default false */
  readonly rollbackOnFailure?: boolean
  /** Overrides endpoint.waitTimeout (seconds). */
  readonly timeoutSeconds?: number
  /** --idle-stop: overrides endpoint.idleStop (seconds without an invocation before the endpoint is deleted). */
  readonly idleStopSeconds?: number
  /** --notify: replaces the config's notify destinations. */
  readonly notify?: readonly NotifyDestination[]
}

export interface DeploySettings {
  readonly project: string
  readonly region: string
  readonly endpointName: string
  readonly modelName: string
  readonly configName: string
  readonly variant: VariantSpec
  readonly image: string
  /** The handler module under code/ that the serving container imports (endpoint.entryPoint). */
  readonly entryPoint: string
  readonly waitTimeoutSeconds: number
  readonly keepVersions: number
  readonly alarms: readonly string[]
  readonly bakeSeconds: number
  readonly tags: { Key: string; Value: string }[]
}

/** Merges flags over `endpoint.*`; UserError (exit 2) for combinations that make no sense. */
export function resolveDeploySettings(cfg: MlopsConfig, flags: DeployOptions, region: string, now: Date): DeploySettings {
  const ep = cfg.endpoint
  const wantsInstances = flags.instanceType !== undefined || flags.instanceCount !== undefined
  if (flags.serverless && wantsInstances) {
    throw new UserError('ConflictingFlags', '--serverless cannot be combined with --instance-type or --instance-count.', {
      hint: 'A serverless endpoint has no instances: size it with --memory and --max-concurrency.',
    })
  }
  const serverless = Boolean(flags.serverless) || (ep.serverless !== undefined && !wantsInstances)
  if (!serverless && (flags.memoryMb !== undefined || flags.maxConcurrency !== undefined)) {
    throw new UserError('ConflictingFlags', '--memory and --max-concurrency only apply to a serverless endpoint.', {
      hint: 'Add --serverless (or set endpoint.serverless in mlops.config.yaml).',
    })
  }
  const variant: VariantSpec = serverless
    ? {
        kind: 'serverless',
        memoryMb: flags.memoryMb ?? ep.serverless?.memoryMb ?? 2048,
        maxConcurrency: flags.maxConcurrency ?? ep.serverless?.maxConcurrency ?? 5,
      }
    : { kind: 'instance', instanceType: flags.instanceType ?? ep.instanceType, instanceCount: flags.instanceCount ?? ep.instanceCount }
  if (ep.frameworkVersion !== undefined || ep.pyVersion !== undefined) {
    throw new UserError(
      'RetiredServingImage',
      'endpoint.frameworkVersion and endpoint.pyVersion picked a TorchServe pytorch-inference image; those ended patching on 2026-06-30 and no newer one exists.',
      {
        hint: 'Remove endpoint.frameworkVersion and endpoint.pyVersion: endpoints now serve on the Ray Serve SageMaker image (ray:serve-ml-sagemaker-cpu-v1 / -cuda-v1), or set endpoint.image.',
      },
    )
  }
  const image = ep.image ?? servingImageUri(region, variant.kind === 'instance' ? variant.instanceType : CPU_TYPE_FOR_IMAGE)
  if (variant.kind === 'serverless' && isRayServeImage(image)) {
    throw new UserError('ServerlessUnsupported', SERVERLESS_REFUSAL, {
      hint: 'Deploy on an instance (for example --instance-type ml.m5.large) and set endpoint.idleStop (or --idle-stop 30m) so an idle endpoint is deleted and nothing bills, or set endpoint.image to a serverless-capable image of your own.',
    })
  }
  if (variant.kind === 'serverless' && /-gpu-|-cuda-|-cu\d+-/.test(image)) {
    throw new UserError('ServerlessNeedsCpuImage', `Serverless endpoints run on CPU, but endpoint.image is a GPU image (${image}).`, {
      hint: 'Use a CPU image, or leave endpoint.image unset so mlops picks one.',
    })
  }
  const names = resourceNames(cfg)
  const configName = uniqueName(names.endpointConfigBase, now)
  if (configName === names.endpoint) {
    // The classic re-deploy collision: a config named like the endpoint can never be replaced.
    throw new UserError('ConfigNameCollision', `The endpoint config name would equal the endpoint name (${configName}).`, {
      hint: 'Choose another endpoint.name.',
    })
  }
  return {
    project: cfg.project.name,
    region,
    endpointName: names.endpoint,
    modelName: uniqueName(names.modelBase, now),
    configName,
    variant,
    image,
    entryPoint: ep.entryPoint,
    waitTimeoutSeconds: flags.timeoutSeconds ?? ep.waitTimeout,
    keepVersions: ep.keepVersions,
    alarms: ep.autoRollbackAlarms,
    bakeSeconds: ep.bakeTime,
    tags: projectTags(cfg.project.name),
  }
}

export function buildCreateModelInput(s: DeploySettings, modelDataUrl: string, executionRoleArn: string): CreateModelInput {
  return {
    ModelName: s.modelName,
    ExecutionRoleArn: executionRoleArn,
    PrimaryContainer: {
      Image: s.image,
      ModelDataUrl: modelDataUrl,
      Environment: servingEnvironment(s),
    },
    Tags: s.tags,
  }
}

/**
 * The serving container's environment, in this one place. The Ray Serve image reads everything it
 * needs from the archive (`/opt/ml/model/config.yaml`, `import_path: deployment:app`, and
 * `code/requirements.txt`), so the TorchServe variables (SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY,
 * SAGEMAKER_CONTAINER_LOG_LEVEL) are gone: the image ignores them, and naming a module there would
 * be a second place that could disagree with config.yaml. Only the region stays, for boto3 in the predictor.
 */
export function servingEnvironment(s: Pick<DeploySettings, 'region'>): Record<string, string> {
  return { SAGEMAKER_REGION: s.region }
}

export function productionVariant(s: Pick<DeploySettings, 'variant' | 'modelName'>): ProductionVariant {
  const v = s.variant
  return v.kind === 'instance'
    ? {
        VariantName: VARIANT_NAME,
        ModelName: s.modelName,
        InitialInstanceCount: v.instanceCount,
        InstanceType: v.instanceType as ProductionVariant['InstanceType'],
        InitialVariantWeight: 1,
        // The default host AMI's NVIDIA driver is too old for the CUDA image; CPU hosts need none.
        ...(processorFor(v.instanceType) === 'gpu' ? { InferenceAmiVersion: GPU_INFERENCE_AMI_VERSION } : {}),
      }
    : { VariantName: VARIANT_NAME, ModelName: s.modelName, ServerlessConfig: { MemorySizeInMB: v.memoryMb, MaxConcurrency: v.maxConcurrency } }
}

/** True for an image of the Ray Serve SageMaker repository in any region's DLC registry. */
function isRayServeImage(image: string): boolean {
  return /\/ray:serve-ml-sagemaker-/.test(image)
}

/** The end-of-patch warning for the serving image (a known DLC tag in endpoint.image included); undefined while patched. */
export function servingImageNotice(image: string, nowMs: number): string | undefined {
  const line = imageLineOf(image)
  return line ? endOfPatchWarning(line, nowMs) : undefined
}

export function buildEndpointConfigInput(s: DeploySettings): CreateEndpointConfigInput {
  return { EndpointConfigName: s.configName, ProductionVariants: [productionVariant(s)], Tags: s.tags }
}

export function buildCreateEndpointInput(s: DeploySettings): CreateEndpointInput {
  return { EndpointName: s.endpointName, EndpointConfigName: s.configName, Tags: s.tags }
}

/**
 * Blue/green all at once, watched by the configured CloudWatch alarms for `bakeSeconds` before the
 * old fleet goes; an alarm in ALARM rolls the update back. Serverless variants take no DeploymentConfig.
 */
export function deploymentConfigFor(s: Pick<DeploySettings, 'alarms' | 'bakeSeconds' | 'variant'>): DeploymentConfig | undefined {
  if (s.alarms.length === 0 || s.variant.kind === 'serverless') return undefined
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 },
      TerminationWaitInSeconds: s.bakeSeconds,
    },
    AutoRollbackConfiguration: { Alarms: s.alarms.map((AlarmName) => ({ AlarmName })) },
  }
}

/**
 * UpdateEndpoint to `configName`. `retainInstanceCount` keeps the count autoscaling chose (allowed
 * only when the instance type does not change; reference 4.1).
 */
export function buildUpdateEndpointInput(
  s: Pick<DeploySettings, 'endpointName' | 'alarms' | 'bakeSeconds' | 'variant'>,
  configName: string,
  opts: { retainInstanceCount?: boolean } = {},
): UpdateEndpointInput {
  const deploymentConfig = deploymentConfigFor(s)
  return {
    EndpointName: s.endpointName,
    EndpointConfigName: configName,
    ...(opts.retainInstanceCount ? { RetainAllVariantProperties: true } : {}),
    ...(deploymentConfig ? { DeploymentConfig: deploymentConfig } : {}),
  }
}

/** Hourly price of the variant: instances x list price; undefined for serverless (per request) or unknown types. */
export function variantHourly(v: VariantSpec, prices?: PriceBook): number | undefined {
  if (v.kind === 'serverless') return undefined
  const p = hourlyPrice(v.instanceType, prices)
  return p === undefined ? undefined : p * v.instanceCount
}

/** "ml.m5.large x 2" / "serverless 2048 MB, up to 5 concurrent". */
export function describeVariant(v: VariantSpec): string {
  return v.kind === 'instance' ? `${v.instanceType} x ${v.instanceCount}` : `serverless ${v.memoryMb} MB, up to ${v.maxConcurrency} concurrent`
}

/**
 * Whether an UpdateEndpoint from `from` to `to` must take autoscaling off first: SageMaker refuses
 * to change the instance type of an autoscaled variant (and a serverless variant cannot keep it).
 */
export function scalingBlocksUpdate(from: VariantSpec | undefined, to: VariantSpec): boolean {
  if (!from || from.kind !== 'instance') return false
  return to.kind !== 'instance' || to.instanceType !== from.instanceType
}

/** RegisterScalableTarget + PutScalingPolicy that put back autoscaling an instance-type change took off. */
function planRestoreScaling(cfg: MlopsConfig, s: DeploySettings, note: string): PlannedOperation[] {
  // The same fallbacks as switchConfig's restore (a policy's own values win at run time).
  const restore = {
    endpointName: s.endpointName,
    minCapacity: 1,
    maxCapacity: 1,
    policyName: resourceNames(cfg).scalingPolicy,
    targetValue: AUTOSCALING_DEFAULTS.targetInvocationsPerInstance,
    scaleInCooldown: AUTOSCALING_DEFAULTS.scaleInCooldown,
    scaleOutCooldown: AUTOSCALING_DEFAULTS.scaleOutCooldown,
  }
  const { MinCapacity: _min, MaxCapacity: _max, ...register } = buildRegisterInput(restore)
  return [
    { service: 'application-autoscaling', operation: 'RegisterScalableTarget', input: register, note: `${note} (MinCapacity, MaxCapacity as before)` },
    { service: 'application-autoscaling', operation: 'PutScalingPolicy', input: buildPolicyInput(restore), note },
  ]
}

/**
 * DeleteScalingPolicy + DeregisterScalableTarget: SageMaker refuses an instance-type change on an
 * autoscaled variant, so deploy (and its rollback) takes the scaling off first.
 */
function planScalingRemoval(cfg: MlopsConfig, rid: string, policyNote: string, targetNote: string): PlannedOperation[] {
  const target = { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: rid, ScalableDimension: SCALABLE_DIMENSION }
  return [
    {
      service: 'application-autoscaling',
      operation: 'DeleteScalingPolicy',
      input: { PolicyName: resourceNames(cfg).scalingPolicy, ...target },
      note: policyNote,
    },
    { service: 'application-autoscaling', operation: 'DeregisterScalableTarget', input: target, note: targetNote },
  ]
}

/** --rollback-on-failure after a failed smoke test: back to the previous config, autoscaling as around the update. */
function planRollback(cfg: MlopsConfig, s: DeploySettings): PlannedOperation[] {
  const rid = scalingResourceId(s.endpointName)
  return [
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [rid], ScalableDimension: SCALABLE_DIMENSION },
      note: 'only when the smoke test fails and there is a previous config',
    },
    ...planScalingRemoval(cfg, rid, 'rollback, when the instance type changes back on an autoscaled variant', 'same condition'),
    {
      service: 'sagemaker',
      operation: 'UpdateEndpoint',
      input: { EndpointName: s.endpointName, EndpointConfigName: '<the previous config>' },
      note: 'rollback to the config the endpoint served before',
    },
    { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: s.endpointName }, note: 'until the rollback is InService' },
    ...planRestoreScaling(cfg, s, 'rollback: autoscaling taken off is put back'),
  ]
}

export interface DeployPlanInputs {
  readonly settings: DeploySettings
  readonly cfg: MlopsConfig
  /** Model source lookups (from planModelSource). */
  readonly sourceOps: readonly PlannedOperation[]
  readonly sourceUri: string
  readonly code: InferenceCode
  readonly smokeTest: boolean
  readonly rollbackOnFailure: boolean
}

/** Every request a deploy makes, in order, with full inputs (values only AWS knows are placeholders). */
export function buildDeployPlan(p: DeployPlanInputs): PlannedOperation[] {
  const { settings: s, cfg } = p
  const account = PLACEHOLDER.accountId
  const dest = modelPackageLocation(cfg.data.bucket, cfg.project.name, SHA_PLACEHOLDER)
  const rid = scalingResourceId(s.endpointName)
  const ops: PlannedOperation[] = [
    ...p.sourceOps,
    {
      service: 'sagemaker',
      operation: 'DescribeEndpoint',
      input: { EndpointName: s.endpointName },
      note: 'missing: CreateEndpoint; present: UpdateEndpoint (blue/green)',
    },
    {
      service: 'sagemaker',
      operation: 'DescribeEndpointConfig',
      input: { EndpointConfigName: '<config the endpoint serves now>' },
      note: 'only when the endpoint exists: its variant, for rollback and autoscaling',
    },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [rid], ScalableDimension: SCALABLE_DIMENSION },
      note: 'only when the endpoint exists',
    },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalingPolicies',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: rid, ScalableDimension: SCALABLE_DIMENSION },
      note: 'only when the variant is autoscaled',
    },
    ...(s.variant.kind === 'instance'
      ? [
          {
            service: 'pricing',
            operation: 'GetProducts',
            input: getProductsInput(instancePriceQuery(s.variant.instanceType, s.region, 'hosting')),
            note: 'the list price, unless cached in the last week or MLOPS_PRICE_LIST=off',
          },
        ]
      : []),
    ...planModelPackage(
      p.sourceUri,
      { bucket: cfg.data.bucket, region: s.region, tags: s.tags, ...(cfg.data.kmsKeyId ? { kmsKeyId: cfg.data.kmsKeyId } : {}) },
      cfg.project.name,
      p.code,
    ),
    { service: 'sts', operation: 'GetCallerIdentity', input: {} },
    ...planExecutionRole(cfg, roleTarget(account, s.region, configuredImageUris(s.region, cfg))),
    { service: 'sagemaker', operation: 'CreateModel', input: buildCreateModelInput(s, dest.uri, executionRoleArnFor(cfg, roleTarget(account, s.region, []))) },
    { service: 'sagemaker', operation: 'CreateEndpointConfig', input: buildEndpointConfigInput(s) },
    {
      service: 'sagemaker',
      operation: 'CreateEndpoint',
      input: buildCreateEndpointInput(s),
      note: 'when the endpoint does not exist (a Failed one is deleted first)',
    },
    ...planScalingRemoval(
      cfg,
      rid,
      'only when the variant is autoscaled and the instance type changes (each policy)',
      'same condition; RegisterScalableTarget + PutScalingPolicy with the same settings after InService',
    ),
    {
      service: 'sagemaker',
      operation: 'UpdateEndpoint',
      input: buildUpdateEndpointInput(s, s.configName),
      note: 'when the endpoint exists (RetainAllVariantProperties when autoscaled and the type stays)',
    },
    {
      service: 'sagemaker',
      operation: 'DescribeEndpoint',
      input: { EndpointName: s.endpointName },
      note: `every 15 s until it leaves Creating/Updating, for at most ${formatDuration(s.waitTimeoutSeconds)}`,
    },
    ...planRestoreScaling(cfg, s, 'autoscaling taken off above is put back, with the settings it had'),
  ]
  if (p.smokeTest) {
    ops.push({
      service: 'sagemaker-runtime',
      operation: 'InvokeEndpoint',
      input: { EndpointName: s.endpointName, ContentType: 'image/jpeg', Accept: 'application/json', Body: '<sample image bytes>' },
      note: p.rollbackOnFailure ? 'smoke test; on failure UpdateEndpoint back to the previous config' : 'smoke test',
    })
    if (p.rollbackOnFailure) ops.push(...planRollback(cfg, s))
  }
  ops.push(
    {
      service: 'sagemaker',
      operation: 'ListEndpointConfigs',
      input: { NameContains: resourceNames(cfg).endpointConfigBase, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100 },
      note: `after success: keep the new config and ${s.keepVersions} previous`,
    },
    { service: 'sagemaker', operation: 'DeleteEndpointConfig', input: { EndpointConfigName: '<each older config>' } },
    {
      service: 'sagemaker',
      operation: 'ListModels',
      input: { NameContains: resourceNames(cfg).modelBase, SortBy: 'CreationTime', SortOrder: 'Descending', MaxResults: 100 },
    },
    { service: 'sagemaker', operation: 'DeleteModel', input: { ModelName: '<each model no kept config uses>' } },
  )
  return ops
}
