import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { getAccountId } from '../../aws/sts/account.js'
import { describeScaling, type CurrentScaling } from '../../aws/autoscaling/scaling.js'
import { planModelSource, resolveModelSource, type ModelSource } from './model-source.js'
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
} from '../../aws/sagemaker/endpoint.js'
import { executionRoleSpec } from '../../shared/roles/execution-role.js'
import { ensureRole } from '../../aws/iam/roles.js'
import { roleTarget } from '../../aws/iam/role-target.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import { collectInferenceCode, downloadAndRepack, ensureModelPackage, makeWorkDir, modelPackageLocation, parseS3Uri } from './model-package.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import type { Ui } from '../../shared/output.js'
import { planToJson } from '../../shared/plan.js'
import { formatUsd, hourlyPrice, HOURS_PER_MONTH, PRICE_NOTE } from '../../shared/pricing.js'
import {
  buildCreateEndpointInput,
  buildCreateModelInput,
  buildDeployPlan,
  buildEndpointConfigInput,
  describeVariant,
  resolveDeploySettings,
  variantFromConfig,
  variantHourly,
  type DeployFlags,
  type DeploySettings,
  type VariantSpec,
} from './plan.js'
import { armIdleStop, planIdleStop, type IdleStopResult } from './idle-stop.js'
import { recordEndpoint, smokeTestOrRollback, switchConfig, waitWithStatus, type AutoscalingOutcome, type SmokeTestResult } from './update.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'

export type { SmokeTestResult } from './update.js'

/** `mlops deploy`: repack, model, config, create or blue/green update, wait, smoke test, prune. */

export interface DeployResult {
  readonly endpoint: string
  readonly endpointArn?: string
  readonly status: string
  /** created: new endpoint; updated: blue/green to the new config; recreated: a Failed endpoint was replaced. */
  readonly action: 'created' | 'updated' | 'recreated'
  readonly endpointConfig: string
  readonly previousConfig?: string
  readonly model: string
  readonly modelDataUrl: string
  readonly modelUploaded: boolean
  readonly source: ModelSource
  readonly image: string
  readonly variant: VariantSpec
  /** USD per hour while it exists (instances); absent for serverless or unknown prices. */
  readonly hourlyUsd?: number
  readonly autoscaling?: AutoscalingOutcome
  readonly smokeTest: SmokeTestResult | { readonly skipped: true }
  /** --idle-stop / endpoint.idleStop: what deletes the endpoint when nobody calls it. */
  readonly idleStop?: IdleStopResult
  readonly cleanup: PruneResult
  readonly durationSeconds: number
}

export interface DeployDryRun {
  readonly dryRun: true
  readonly operations: ReturnType<typeof planToJson>
  readonly endpoint: string
  readonly endpointConfig: string
  readonly model: string
  readonly source: ModelSource
  readonly image: string
  readonly variant: VariantSpec
  readonly hourlyUsd?: number
}

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

export async function runDeploy(ctx: CommandContext, flags: DeployFlags & { idleStopSeconds?: number }): Promise<DeployResult | DeployDryRun> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const started = ctx.clock.now()
  const s = resolveDeploySettings(cfg, flags, region, new Date(started))
  const smoke = flags.smokeTest !== false
  const code = await collectInferenceCode(resolveTrainingSourceDir(cfg, ctx.projectDir).dir, cfg.endpoint.entryPoint)
  const smokeFile = smokeImagePath(ctx, cfg)
  const smokeBytes = smoke ? await readSmokeImage(smokeFile) : undefined
  // A serverless endpoint costs nothing idle: nothing to stop.
  const idleSeconds = s.variant.kind === 'instance' ? (flags.idleStopSeconds ?? cfg.endpoint.idleStop) : undefined

  if (ctx.dryRun) {
    const planned = await planModelSource(ctx.state(), cfg, flags.model)
    const ops = buildDeployPlan({
      settings: s,
      cfg,
      sourceOps: planned.ops,
      sourceUri: planned.source.uri,
      code,
      smokeTest: smoke,
      rollbackOnFailure: Boolean(flags.rollbackOnFailure),
    })
    const hourly = variantHourly(s.variant)
    return {
      dryRun: true,
      operations: planToJson(
        idleSeconds === undefined
          ? ops
          : [...ops, ...planIdleStop({ project: cfg.project.name, endpointName: s.endpointName, idleSeconds, region, accountId: '<account-id>' })],
      ),
      endpoint: s.endpointName,
      endpointConfig: s.configName,
      model: s.modelName,
      source: planned.source,
      image: s.image,
      variant: s.variant,
      ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    }
  }

  const c = await ctx.clients(['sagemaker', 'sagemakerRuntime', 's3', 'iam', 'sts', 'autoscaling'], cfg)
  const state = ctx.state()
  const ui = ctx.ui

  // Read-only first: what to deploy and where, so nothing is created for a deploy that cannot happen.
  const source = await resolveModelSource(c.sagemaker, state, cfg, flags.model)
  const src = parseS3Uri(source.uri)
  if (!src)
    throw new UserError('InvalidModelUri', `${source.uri} is not an s3:// URI of a model.tar.gz.`, {
      hint: 'Pass --model s3://<bucket>/<key>/model.tar.gz or a training job name.',
    })
  ui.step(`Model: ${source.uri}${source.jobName ? ` (${source.kind === 'tuning' ? 'tuning best job' : 'job'} ${source.jobName})` : ''}`)
  const existing = await describeEndpoint(c.sagemaker, s.endpointName)
  if (existing) assertUpdatable(existing)
  const replacingFailed = existing?.EndpointStatus === 'Failed'
  const previousConfig = existing && !replacingFailed ? existing.EndpointConfigName : undefined
  const previousVariant = previousConfig ? variantFromConfig((await describeEndpointConfig(c.sagemaker, previousConfig))?.ProductionVariants?.[0]) : undefined
  const scaling = previousConfig ? await describeScaling(c.autoscaling, s.endpointName) : undefined

  announceCost(ui, s, cfg, scaling)
  const verb = !existing ? 'Create' : replacingFailed ? 'Replace the failed' : 'Update'
  if (!(await ui.confirm(`${verb} endpoint ${s.endpointName} with ${describeVariant(s.variant)}?`))) throw new AbortError()
  throwIfAborted(ctx, 'before anything was created')

  // Repack the trained model with the inference code, content-addressed.
  const work = await makeWorkDir()
  let modelDataUrl: string
  let modelUploaded: boolean
  try {
    const spin = ui.spinner(`Repacking ${src.uri} with code/${code.files.join(', code/')}${code.bundled ? ' (handler bundled with mlops)' : ''}`)
    try {
      const repacked = await downloadAndRepack(c.s3, src, code, work.dir)
      const loc = modelPackageLocation(cfg.data.bucket, cfg.project.name, repacked.sha256)
      modelUploaded = (await ensureModelPackage(c.s3, loc, repacked)).uploaded
      modelDataUrl = loc.uri
      spin.succeed(`Model archive ${loc.uri} (${modelUploaded ? 'uploaded' : 'already there'})`)
    } catch (e) {
      spin.fail('Repacking the model failed')
      throw e
    }
  } finally {
    await work.cleanup()
  }
  throwIfAborted(ctx, 'after the model archive was uploaded; no SageMaker resource was created')

  const accountId = await getAccountId(c.sts)
  const role = cfg.training.roleArn
    ? { arn: cfg.training.roleArn, created: false }
    : await ensureRole(c.iam, executionRoleSpec(cfg, roleTarget(accountId, region)))
  if (role.created) ui.step(`Created the execution role ${role.arn}`)
  const createdAt = new Date(ctx.clock.now()).toISOString()
  const modelArn = await createModel(c.sagemaker, buildCreateModelInput(s, modelDataUrl, role.arn))
  await state.record({ kind: 'model', name: s.modelName, arn: modelArn, region, createdAt, details: { modelDataUrl, image: s.image, source: source.uri } })
  const configArn = await createEndpointConfig(c.sagemaker, buildEndpointConfigInput(s))
  await state.record({ kind: 'endpoint-config', name: s.configName, arn: configArn, region, createdAt, details: { model: s.modelName, variant: s.variant } })
  ui.step(`Created model ${s.modelName} and endpoint config ${s.configName}`)
  throwIfAborted(ctx, `after model ${s.modelName} and config ${s.configName} were created; the endpoint was not changed`)

  const wait = (what: string) => waitWithStatus(ctx, c, s, what)
  let action: DeployResult['action']
  let final: EndpointDescription
  let autoscaling: DeployResult['autoscaling']
  if (!existing || replacingFailed) {
    if (replacingFailed) {
      ui.warn(`Endpoint ${s.endpointName} is Failed (${existing!.FailureReason ?? 'no reason given'}); deleting it to create it again.`)
      await deleteEndpointAndWait(c.sagemaker, s.endpointName, { timeoutMs: s.waitTimeoutSeconds * 1000, clock: ctx.clock, signal: ctx.signal })
    }
    const arn = await createEndpoint(c.sagemaker, buildCreateEndpointInput(s))
    await recordEndpoint(ctx, s, arn, 'Creating', s.configName)
    action = replacingFailed ? 'recreated' : 'created'
    final = await wait('Creating')
    assertDeployed(final, s.configName, { updating: false })
  } else {
    const switched = await switchConfig(ctx, c, s, {
      to: s.configName,
      toVariant: s.variant,
      fromVariant: previousVariant,
      scaling,
      explicitCount: flags.instanceCount !== undefined,
    })
    final = switched.final
    autoscaling = switched.autoscaling
    action = 'updated'
  }
  await recordEndpoint(ctx, s, final.EndpointArn, final.EndpointStatus ?? 'InService', s.configName)
  ui.success(`Endpoint ${s.endpointName} is InService on ${s.configName}`)
  const idleStop = idleSeconds === undefined ? undefined : await armIdleStop(ctx, cfg, s.endpointName, idleSeconds)

  let smokeTest: DeployResult['smokeTest'] = { skipped: true }
  if (smokeBytes)
    smokeTest = await smokeTestOrRollback(ctx, c, s, {
      bytes: smokeBytes,
      file: smokeFile,
      previousConfig,
      previousVariant,
      rollback: Boolean(flags.rollbackOnFailure),
    })

  // Only now, with the new version serving and answering, do old versions go.
  const names = resourceNames(cfg)
  const cleanup = await pruneOldVersions(c.sagemaker, {
    configBase: names.endpointConfigBase,
    modelBase: names.modelBase,
    currentConfig: s.configName,
    currentModel: s.modelName,
    keep: s.keepVersions,
  })
  for (const n of cleanup.deletedConfigs) await state.remove('endpoint-config', n)
  for (const n of cleanup.deletedModels) await state.remove('model', n)

  const hourly = variantHourly(s.variant)
  return {
    endpoint: s.endpointName,
    ...(final.EndpointArn ? { endpointArn: final.EndpointArn } : {}),
    status: final.EndpointStatus ?? 'InService',
    action,
    endpointConfig: s.configName,
    ...(previousConfig ? { previousConfig } : {}),
    model: s.modelName,
    modelDataUrl,
    modelUploaded,
    source,
    image: s.image,
    variant: s.variant,
    ...(hourly !== undefined ? { hourlyUsd: hourly } : {}),
    ...(autoscaling ? { autoscaling } : {}),
    smokeTest,
    ...(idleStop ? { idleStop } : {}),
    cleanup,
    durationSeconds: Math.round((ctx.clock.now() - started) / 1000),
  }
}

function throwIfAborted(ctx: CommandContext, where: string): void {
  if (ctx.signal.aborted) throw new InterruptedError(`Interrupted ${where}.`)
}

function announceCost(ui: Ui, s: DeploySettings, cfg: MlopsConfig, scaling: CurrentScaling | undefined): void {
  if (s.variant.kind === 'serverless') {
    ui.info(`Endpoint ${s.endpointName}: ${describeVariant(s.variant)}; billed per request and compute time, nothing when idle.`)
    return
  }
  const hourly = variantHourly(s.variant)
  const monthly = hourly === undefined ? '' : ` (about ${formatUsd(hourly * HOURS_PER_MONTH)}/month)`
  ui.info(`Endpoint ${s.endpointName}: ${describeVariant(s.variant)} costs ${formatUsd(hourly)}/hour${monthly}, billed until \`mlops teardown\`, used or not.`)
  const max = scaling?.maxCapacity ?? cfg.endpoint.autoscaling?.maxCapacity
  const each = hourlyPrice(s.variant.instanceType)
  if (max !== undefined && max > s.variant.instanceCount && each !== undefined)
    ui.info(`With autoscaling up to ${max} instances: at most ${formatUsd(each * max)}/hour.`)
  ui.info(PRICE_NOTE)
}
