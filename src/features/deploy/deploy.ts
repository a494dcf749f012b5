import { endpointQuotaNeeds, type QuotaNeed } from '../../shared/preflight.js'
import { alarmConsoleUrl, endpointConsoleUrl, endpointLogsConsoleUrl } from '../../aws/console-links.js'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { getAccountId } from '../../aws/sts/account.js'
import { describeScaling, type CurrentScaling } from '../../aws/autoscaling/scaling.js'
import { planModelSource, resolveModelSource } from './model-source.js'
import type { ModelSource } from '../../shared/models.js'
import {
  assertDeployed,
  assertUpdatable,
  createEndpoint,
  createEndpointConfig,
  createModel,
  deleteEndpointAndWait,
  describeEndpoint,
  describeEndpointConfig,
  pruneOldVersions,
  type EndpointDescription,
  type PruneResult,
} from '../../aws/sagemaker/endpoint-lifecycle.js'
import { executionRoleSpec } from '../../shared/roles/execution-role.js'
import { ensureRole } from '../../aws/iam/roles.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { configuredImageUris } from '../../aws/sagemaker/images.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import { armIdleStop, planIdleStop } from './arm-idle-stop.js'
import { armEndpointNotify, endpointNotifyRun, planEndpointNotify } from './notify-endpoint.js'
import { destinationsOf, type NotifyDestination } from '../../shared/notify-spec.js'
import { retryWhileIamPropagates } from '../../aws/iam/roles.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import {
  collectInferenceCode,
  downloadAndRepack,
  ensureModelPackage,
  makeWorkDir,
  modelPackageLocation,
  packageNote,
  repackModelArchive,
  type InferenceCode,
} from './model-package.js'
import { serveConfigFor } from './ray-serve.js'
import { parseS3Uri, type S3Location } from '../../aws/arn.js'
import { ensureDataBucket } from '../../aws/s3/bucket.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, UserError } from '../../shared/errors.js'
import { projectTags, resourceNames } from '../../shared/naming.js'
import { PLACEHOLDER } from '../../shared/plan.js'
import type { Ui } from '../../shared/output.js'
import { done, planned, type Outcome, type Plan } from '../../shared/outcome.js'
import { formatUsd, hourlyPrice, HOURS_PER_MONTH, TABLE_PRICES, type PriceBook } from '../../shared/pricing.js'
import {
  buildCreateEndpointInput,
  buildCreateModelInput,
  buildDeployPlan,
  buildEndpointConfigInput,
  describeVariant,
  resolveDeploySettings,
  servingImageNotice,
  variantHourly,
  type DeployOptions,
  type DeploySettings,
} from './plan.js'
import { variantFromConfig, type VariantSpec } from '../../shared/endpoint-variant.js'
import { recordEndpoint, smokeTestOrRollback, switchConfig, waitWithStatus, type DeployClients } from './update.js'
import { variantText } from './render.js'
import { acquireDeployLock } from './lock.js'
import type { DeployDryRun, DeployResult } from './types.js'

/** `mlops deploy`: repack, model, config, create or blue/green update, wait, smoke test, prune. */

/** The sample the smoke test sends: endpoint.smokeTestImage, else the one bundled with mlops. */
export function smokeImagePath(ctx: CommandContext, cfg: MlopsConfig): string {
  return cfg.endpoint.smokeTestImage ? ctx.resolvePath(cfg.endpoint.smokeTestImage) : path.join(PACKAGE_ROOT, 'assets', 'sample.jpg')
}

async function readSmokeImage(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file))
  } catch {
    throw new UserError('SmokeImageMissing', `The smoke-test image ${file} is missing.`, {
      hint: 'Set endpoint.smokeTestImage to a JPEG, or pass --no-smoke-test.',
    })
  }
}

/** What the run decided before any AWS call. */
interface DeployInputs {
  readonly cfg: MlopsConfig
  readonly flags: DeployOptions
  readonly settings: DeploySettings
  readonly code: InferenceCode
  readonly smokeFile: string
  readonly smokeBytes?: Uint8Array
  readonly started: number
  /** Seconds without an invocation before the idle stop deletes the endpoint; none for serverless (nothing bills idle). */
  readonly idleSeconds?: number
  /** --notify or notify: in the config (none: nothing is armed). */
  readonly notify: readonly NotifyDestination[]
}

/** Where the trained model.tar.gz is: in S3, or a file on this machine (`deploy --model ./model.tar.gz` or a local run). */
type ModelLocation = S3Location | { readonly file: string }

/** Relative `--model` paths resolve from the working folder; local runs live in the project's `.mlops/local/`. */
function modelLookup(ctx: CommandContext) {
  return { cwd: ctx.deps.cwd, projectDir: ctx.projectDir }
}

/** What is there now: the model to serve and the endpoint it goes on (read-only lookups). */
interface DeployTarget {
  readonly source: ModelSource
  readonly src: ModelLocation
  readonly existing?: EndpointDescription
  readonly replacingFailed: boolean
  readonly previousConfig?: string
  readonly previousVariant?: VariantSpec
  readonly scaling?: CurrentScaling
}

export async function runDeploy(ctx: CommandContext, flags: DeployOptions): Promise<Outcome<DeployResult, DeployDryRun>> {
  const inputs = await prepareDeploy(ctx, flags)
  if (ctx.dryRun) return planned(await planDeploy(ctx, inputs))
  // One deploy per project at a time, or two runs prune with different views (issue 19).
  const lock = await acquireDeployLock(ctx.projectDir, {
    now: () => ctx.clock.now(),
    onStale: (owner) => ctx.ui.warn(`Taking over a stale deploy lock${owner ? ` (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt})` : ''}.`),
  })
  try {
    return await deployLocked(ctx, inputs)
  } finally {
    await lock.release()
  }
}

async function deployLocked(ctx: CommandContext, inputs: DeployInputs): Promise<Outcome<DeployResult, DeployDryRun>> {
  const s = inputs.settings
  const flags = inputs.flags
  const aws = await ctx.clients(['sagemaker', 'sagemakerRuntime', 's3', 'iam', 'sts', 'autoscaling'], inputs.cfg)
  // Before anything is read or created: the endpoint quota and the caller's permissions for the whole plan.
  if (ctx.preflightEnabled)
    await ctx.preflight('deploy', { quotas: deployQuotaNeeds(inputs), operations: (await planDeploy(ctx, inputs)).operations }, inputs.cfg)

  // Read-only first: what to deploy and where, so nothing is created for a deploy that cannot happen.
  const target = await inspectTarget(ctx, aws, inputs)
  const prices = s.variant.kind === 'serverless' ? undefined : await ctx.prices([s.variant.instanceType], 'hosting', inputs.cfg)
  announceCost(ctx.ui, s, inputs.cfg, target.scaling, prices)
  const verb = !target.existing ? 'Create' : target.replacingFailed ? 'Replace the failed' : 'Update'
  if (!(await ctx.ui.confirm(`${verb} endpoint ${s.endpointName} with ${describeVariant(s.variant)}?`))) throw new AbortError()
  throwIfAborted(ctx, 'before anything was created')
  // Every model and config is recorded there; a state file that cannot be written must stop the
  // deploy now, not after CreateModel (an orphan model nobody would prune).
  await ctx.state().checkWritable()

  await ensureProjectBucket(ctx, aws, inputs, target.src)
  const archive = await repackAndUpload(ctx, aws, inputs, target.src)
  throwIfAborted(ctx, 'after the model archive was uploaded; no SageMaker resource was created')
  await createModelAndConfig(ctx, aws, inputs, archive.modelDataUrl, target.source)
  throwIfAborted(ctx, `after model ${s.modelName} and config ${s.configName} were created; the endpoint was not changed`)
  const notifications = await armEndpointNotify(ctx, inputs.cfg, inputs.notify, endpointNotifyRun(s.endpointName))

  const served = await putOnEndpoint(ctx, aws, inputs, target)
  await recordEndpoint(ctx, s, served.final.EndpointArn, served.final.EndpointStatus ?? 'InService', s.configName)
  ctx.ui.success(`Endpoint ${s.endpointName} is InService on ${s.configName}`)
  const idleStop = inputs.idleSeconds === undefined ? undefined : await armIdleStop(ctx, inputs.cfg, s.endpointName, inputs.idleSeconds)

  let smokeTest: DeployResult['smokeTest'] = { skipped: true }
  if (inputs.smokeBytes)
    smokeTest = await smokeTestOrRollback(ctx, aws, s, {
      bytes: inputs.smokeBytes,
      file: inputs.smokeFile,
      previousConfig: target.previousConfig,
      previousVariant: target.previousVariant,
      rollback: Boolean(flags.rollbackOnFailure),
    })
  // Only now, with the new version serving and answering, do old versions go.
  const cleanup = await pruneVersions(ctx, aws, inputs)

  const hourly = variantHourly(s.variant)
  const final = served.final
  return done({
    endpoint: s.endpointName,
    ...(final.EndpointArn ? { endpointArn: final.EndpointArn } : {}),
    status: final.EndpointStatus ?? 'InService',
    action: served.action,
    endpointConfig: s.configName,
    ...(target.previousConfig ? { previousConfig: target.previousConfig } : {}),
    model: s.modelName,
    modelDataUrl: archive.modelDataUrl,
    modelUploaded: archive.modelUploaded,
    source: target.source,
    image: s.image,
    variant: s.variant,
    ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    ...(served.autoscaling ? { autoscaling: served.autoscaling } : {}),
    smokeTest,
    ...(idleStop ? { idleStop } : {}),
    ...(notifications ? { notifications } : {}),
    cleanup,
    durationSeconds: Math.round((ctx.clock.now() - inputs.started) / 1000),
    consoleUrl: endpointConsoleUrl(s.region, s.endpointName),
    logsConsoleUrl: endpointLogsConsoleUrl(s.region, s.endpointName),
    ...(idleStop ? { alarmConsoleUrl: alarmConsoleUrl(s.region, idleStop.alarm) } : {}),
  })
}

async function prepareDeploy(ctx: CommandContext, flags: DeployOptions): Promise<DeployInputs> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const started = ctx.clock.now()
  const settings = resolveDeploySettings(cfg, flags, region, new Date(started))
  const imageNotice = servingImageNotice(settings.image, started)
  if (imageNotice) ctx.ui.warn(imageNotice)
  const code = await collectInferenceCode(resolveTrainingSourceDir(cfg, ctx.projectDir).dir, cfg.endpoint.entryPoint)
  const smokeFile = smokeImagePath(ctx, cfg)
  const smokeBytes = flags.smokeTest !== false ? await readSmokeImage(smokeFile) : undefined
  const idleSeconds = settings.variant.kind === 'instance' ? (flags.idleStopSeconds ?? cfg.endpoint.idleStop) : undefined
  const notify = destinationsOf(cfg.notify, flags.notify)
  return {
    cfg,
    flags,
    settings,
    code,
    smokeFile,
    ...(smokeBytes ? { smokeBytes } : {}),
    started,
    ...(idleSeconds !== undefined ? { idleSeconds } : {}),
    notify,
  }
}

/** The endpoint instance quota an instance variant needs (serverless endpoints have none per type). */
function deployQuotaNeeds(i: DeployInputs): QuotaNeed[] {
  const v = i.settings.variant
  return v.kind === 'instance' ? endpointQuotaNeeds(v.instanceType, v.instanceCount) : []
}

async function planDeploy(ctx: CommandContext, i: DeployInputs): Promise<Plan<DeployDryRun>> {
  const s = i.settings
  const source = await planModelSource(ctx.state(), i.cfg, modelLookup(ctx), i.flags.model)
  const operations = buildDeployPlan({
    settings: s,
    cfg: i.cfg,
    sourceOps: source.ops,
    sourceUri: source.source.uri,
    code: i.code,
    smokeTest: i.smokeBytes !== undefined,
    rollbackOnFailure: Boolean(i.flags.rollbackOnFailure),
  })
  const hourly = variantHourly(s.variant)
  const idleStopOps =
    i.idleSeconds === undefined
      ? []
      : planIdleStop({
          project: i.cfg.project.name,
          endpointName: s.endpointName,
          idleSeconds: i.idleSeconds,
          region: s.region,
          accountId: PLACEHOLDER.accountId,
        })
  // Armed after the model and its config exist, before the endpoint changes.
  const notifyOps = planEndpointNotify(i.cfg, i.notify, endpointNotifyRun(s.endpointName), s.region)
  const at = operations.findIndex((o) => o.operation === 'CreateEndpointConfig') + 1
  const withNotify = [...operations.slice(0, at), ...notifyOps, ...operations.slice(at)]
  return {
    title: `deploy ${s.endpointName}`,
    operations: [...ctx.preflightPlan(deployQuotaNeeds(i)), ...withNotify, ...idleStopOps],
    notes: [
      `Model: ${source.source.uri}${source.source.foundIn === 'state' ? ' (latest in .mlops/state.json)' : ''}`,
      `Variant: ${variantText(s.variant, hourly)}`,
      `Image: ${s.image}`,
    ],
    details: {
      endpoint: s.endpointName,
      endpointConfig: s.configName,
      model: s.modelName,
      source: source.source,
      image: s.image,
      variant: s.variant,
      ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    },
  }
}

async function inspectTarget(ctx: CommandContext, aws: DeployClients, i: DeployInputs): Promise<DeployTarget> {
  const s = i.settings
  const source = await resolveModelSource(aws.sagemaker, ctx.state(), i.cfg, modelLookup(ctx), i.flags.model)
  const src = source.kind === 'local' ? { file: source.uri } : parseS3Uri(source.uri, { requireKey: true })
  if (!src)
    throw new UserError('InvalidModelUri', `${source.uri} is not an s3:// URI of a model.tar.gz.`, {
      hint: 'Pass --model s3://<bucket>/<key>/model.tar.gz, a training job name, or a model.tar.gz or run on this machine.',
    })
  const by = source.kind === 'tuning' ? 'tuning best job' : source.kind === 'local' ? 'local run' : 'job'
  ctx.ui.step(`Model: ${source.uri}${source.jobName ? ` (${by} ${source.jobName})` : ''}`)
  const existing = await describeEndpoint(aws.sagemaker, s.endpointName)
  if (existing) assertUpdatable(existing)
  const replacingFailed = existing?.EndpointStatus === 'Failed'
  const previousConfig = existing && !replacingFailed ? existing.EndpointConfigName : undefined
  const previousVariant = previousConfig ? variantFromConfig((await describeEndpointConfig(aws.sagemaker, previousConfig))?.ProductionVariants?.[0]) : undefined
  const scaling = previousConfig ? await describeScaling(aws.autoscaling, s.endpointName) : undefined
  return { source, src, existing, replacingFailed, previousConfig, previousVariant, scaling }
}

/**
 * The repacked model goes to the project bucket (data.bucket). With --model s3://other-bucket/...
 * before any upload-data it may not exist yet: it is created with upload-data's hardening, before
 * anything else, or the run stops with that setup's exit-2 error and its fix.
 */
async function ensureProjectBucket(ctx: CommandContext, aws: DeployClients, i: DeployInputs, src: ModelLocation): Promise<void> {
  if ('bucket' in src && src.bucket === i.cfg.data.bucket) return
  const bucket = await ensureDataBucket(
    aws.s3,
    { bucket: i.cfg.data.bucket, region: i.settings.region, tags: projectTags(i.cfg.project.name), kmsKeyId: i.cfg.data.kmsKeyId },
    ctx.signal,
  )
  if (bucket.created) ctx.ui.step(`Created the project bucket s3://${i.cfg.data.bucket} (private, encrypted, TLS-only) for the repacked model`)
  for (const w of bucket.warnings) ctx.ui.warn(w)
}

/** Repacks the trained model with the inference code and uploads it, content-addressed. */
async function repackAndUpload(ctx: CommandContext, aws: DeployClients, i: DeployInputs, src: ModelLocation) {
  const work = await makeWorkDir()
  try {
    const label = 'file' in src ? src.file : src.uri
    const spin = ctx.ui.spinner(`Repacking ${label}: ${packageNote(i.code)}${i.code.bundled ? ' (predictor bundled with mlops)' : ''}`)
    try {
      const serveConfig = serveConfigFor(i.cfg.endpoint, i.settings.variant, i.code.app)
      const repacked =
        'file' in src
          ? await repackModelArchive(createReadStream(src.file), i.code, serveConfig, work.dir, src.file)
          : await downloadAndRepack(aws.s3, src, i.code, serveConfig, work.dir)
      const loc = modelPackageLocation(i.cfg.data.bucket, i.cfg.project.name, repacked.sha256)
      const modelUploaded = (await ensureModelPackage(aws.s3, loc, repacked)).uploaded
      spin.succeed(`Model archive ${loc.uri} (${modelUploaded ? 'uploaded' : 'already there'})`)
      return { modelDataUrl: loc.uri, modelUploaded }
    } catch (e) {
      spin.fail('Repacking the model failed')
      throw e
    }
  } finally {
    await work.cleanup()
  }
}

/** The execution role, the SageMaker model and the endpoint config, each recorded in the state file. */
async function createModelAndConfig(ctx: CommandContext, aws: DeployClients, i: DeployInputs, modelDataUrl: string, source: ModelSource): Promise<void> {
  const s = i.settings
  const state = ctx.state()
  const accountId = await getAccountId(aws.sts)
  const role = i.cfg.training.roleArn
    ? { arn: i.cfg.training.roleArn, created: false, managedByMlops: false }
    : { ...(await ensureRole(aws.iam, executionRoleSpec(i.cfg, roleTarget(accountId, s.region, configuredImageUris(s.region, i.cfg))))), managedByMlops: true }
  if (role.created) ctx.ui.step(`Created the execution role ${role.arn}`)
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const create = () => createModel(aws.sagemaker, buildCreateModelInput(s, modelDataUrl, role.arn))
  // A role mlops just created or converged takes a while to reach SageMaker ("Could not assume
  // role"): retried like train's CreateTrainingJob, bounded, on the injectable clock.
  const modelArn = role.managedByMlops
    ? await retryWhileIamPropagates(create, {
        clock: ctx.clock,
        signal: ctx.signal,
        onRetry: (attempt) => ctx.ui.info(`Waiting for the execution role ${role.arn} to reach SageMaker (IAM propagation, attempt ${attempt})…`),
      })
    : await create()
  await state.record({
    kind: 'model',
    name: s.modelName,
    arn: modelArn,
    region: s.region,
    createdAt,
    details: { modelDataUrl, image: s.image, source: source.uri },
  })
  const configArn = await createEndpointConfig(aws.sagemaker, buildEndpointConfigInput(s))
  await state.record({
    kind: 'endpoint-config',
    name: s.configName,
    arn: configArn,
    region: s.region,
    createdAt,
    details: { model: s.modelName, variant: s.variant },
  })
  ctx.ui.step(`Created model ${s.modelName} and endpoint config ${s.configName}`)
}

/** CreateEndpoint (deleting a Failed one first) or the blue/green UpdateEndpoint, and the wait. */
async function putOnEndpoint(
  ctx: CommandContext,
  aws: DeployClients,
  i: DeployInputs,
  t: DeployTarget,
): Promise<{ action: DeployResult['action']; final: EndpointDescription; autoscaling?: DeployResult['autoscaling'] }> {
  const s = i.settings
  if (t.existing && !t.replacingFailed) {
    const switched = await switchConfig(ctx, aws, s, {
      to: s.configName,
      toVariant: s.variant,
      fromVariant: t.previousVariant,
      scaling: t.scaling,
      explicitCount: i.flags.instanceCount !== undefined,
    })
    return { action: 'updated', final: switched.final, ...(switched.autoscaling ? { autoscaling: switched.autoscaling } : {}) }
  }
  if (t.replacingFailed) {
    ctx.ui.warn(`Endpoint ${s.endpointName} is Failed (${t.existing!.FailureReason ?? 'no reason given'}); deleting it to create it again.`)
    await deleteEndpointAndWait(aws.sagemaker, s.endpointName, { timeoutMs: s.waitTimeoutSeconds * 1000, clock: ctx.clock, signal: ctx.signal })
  }
  const arn = await createEndpoint(aws.sagemaker, buildCreateEndpointInput(s))
  await recordEndpoint(ctx, s, arn, 'Creating', s.configName)
  const final = await waitWithStatus(ctx, aws, s, 'Creating')
  assertDeployed(final, s.configName, { updating: false })
  return { action: t.replacingFailed ? 'recreated' : 'created', final }
}

async function pruneVersions(ctx: CommandContext, aws: DeployClients, i: DeployInputs): Promise<PruneResult> {
  const names = resourceNames(i.cfg)
  const state = ctx.state()
  const cleanup = await pruneOldVersions(aws.sagemaker, {
    configBase: names.endpointConfigBase,
    modelBase: names.modelBase,
    currentConfig: i.settings.configName,
    currentModel: i.settings.modelName,
    keep: i.settings.keepVersions,
  })
  for (const n of cleanup.deletedConfigs) await state.remove('endpoint-config', n)
  for (const n of cleanup.deletedModels) await state.remove('model', n)
  return cleanup
}

function throwIfAborted(ctx: CommandContext, where: string): void {
  if (ctx.signal.aborted) throw new InterruptedError(`Interrupted ${where}.`)
}

function announceCost(ui: Ui, s: DeploySettings, cfg: MlopsConfig, scaling: CurrentScaling | undefined, prices?: PriceBook): void {
  if (s.variant.kind === 'serverless') {
    ui.info(`Endpoint ${s.endpointName}: ${describeVariant(s.variant)}; billed per request and compute time, nothing when idle.`)
    return
  }
  const hourly = variantHourly(s.variant, prices)
  const monthly = hourly === undefined ? '' : ` (about ${formatUsd(hourly * HOURS_PER_MONTH)}/month)`
  ui.info(`Endpoint ${s.endpointName}: ${describeVariant(s.variant)} costs ${formatUsd(hourly)}/hour${monthly}, billed until \`mlops teardown\`, used or not.`)
  const max = scaling?.maxCapacity ?? cfg.endpoint.autoscaling?.maxCapacity
  const each = hourlyPrice(s.variant.instanceType, prices)
  if (max !== undefined && max > s.variant.instanceCount && each !== undefined)
    ui.info(`With autoscaling up to ${max} instances: at most ${formatUsd(each * max)}/hour.`)
  ui.info((prices ?? TABLE_PRICES).note([s.variant.instanceType]))
}
