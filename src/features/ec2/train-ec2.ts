import { destinationsOf, type NotifySummary } from '../../shared/notify-spec.js'
import { PLACEHOLDER } from '../../shared/plan.js'
import { armBoxNotify, boxNotifyRun, planBoxNotify } from './notify-box.js'
import { ec2QuotaNeeds } from '../../shared/preflight.js'
import type { AwsClients } from '../../aws/clients.js'
import { amiLineOf } from '../../aws/sagemaker/images.js'
import { endOfPatchWarning } from '../../aws/lifecycle.js'
import { buildCodePackage, codePackageLocation, type CodePackage } from '../../shared/code-package.js'
import { ensureCodePackage, type ObjectLocation } from '../../aws/s3/code-upload.js'
import { getAccountId } from '../../aws/sts/account.js'
import { describeInstanceState, findVpcId, launchInstance, resolveAmi, terminateInstance, waitForInstanceRunning, type ResolvedAmi } from '../../aws/ec2/box.js'
import { ensureLogGroup, followCommand, sendCommand, waitForAgentOnline, type CommandOutcome } from '../../aws/ssm/run-command.js'
import { probePrefix } from '../../aws/s3/prefix-probe.js'
import { parseS3Uri } from '../../aws/arn.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, MlopsError as MlopsErrorClass, type MlopsError, OperationError, UserError } from '../../shared/errors.js'
import type { Spinner } from '../../shared/output.js'
import { projectTagMap } from '../../shared/naming.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import type { StateStore } from '../../shared/state.js'
import { estimateCost, formatUsd, PRICE_NOTE } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import { formatMetrics, latestMetrics, parseMetricLine } from '../../shared/metrics.js'
import { commandFailure, costLine, explainWaitFailure } from './messages.js'
import { buildTrainEc2Plan, resolveEc2Settings, trainingCommands, trainingParameters, type Ec2RunSettings, type TrainEc2Options } from './plan.js'
import { buildRunInstancesInput, buildSendCommandInput, deadManMinutes, terminateCommandLine } from './requests.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import { checkScriptHyperparameters } from '../../shared/hyperparameters.js'
import { ARTIFACT_MARKER, readRunner, RUNNER } from './script.js'
import { ensureEc2Role, type Ec2RoleResult } from './role.js'
import { ensureSecurityGroup, type SecurityGroupResult } from './security-group.js'
import type { TrainEc2PlanDetails, TrainEc2Result, TrainEc2Summary } from './types.js'

/**
 * `mlops train-ec2`: the course's "log into a g4dn.xlarge and run the script" without SSH, open
 * ports or a box that can be forgotten. Order: everything free and checkable first (AMI, data,
 * code, role, security group), then launch, then a cleanup that terminates the instance on
 * success, failure, timeout and Ctrl-C (unless --keep).
 */

type Ec2Clients = Pick<AwsClients, 'ec2' | 'ssm' | 'iam' | 's3' | 'sts' | 'logs'>

/** How long cleanup waits for the instance to reach terminated (shutting-down is accepted at the end). */
const TERMINATE_WAIT_MS = 180_000
/** Client-side margin over the command's executionTimeout before giving up on it. */
const FOLLOW_MARGIN_MS = 10 * 60_000

export async function runTrainEc2(ctx: CommandContext, flags: TrainEc2Options): Promise<Outcome<TrainEc2Result, TrainEc2PlanDetails>> {
  const cfg = await ctx.config()
  const aws = ctx.awsSettings(cfg)
  const s = resolveEc2Settings(cfg, flags, { region: aws.region, now: new Date(ctx.clock.now()) })
  const amiLine = amiLineOf(s.amiParameter)
  const amiNotice = amiLine ? endOfPatchWarning(amiLine, ctx.clock.now()) : undefined
  if (amiNotice) ctx.ui.warn(amiNotice)
  const sourceDir = resolveTrainingSourceDir(cfg, ctx.projectDir).dir
  // The script's own ranges, as train and tune check them: a bad value stops here, before a box exists.
  await checkScriptHyperparameters({ ui: ctx.ui, yes: Boolean(ctx.globals.yes), dryRun: ctx.dryRun }, sourceDir, cfg.training.hyperparameters)
  const pkg = await buildCodePackage(sourceDir, cfg.training.entryPoint)
  const code = { ...codePackageLocation(s.bucket, s.project, pkg.sha256), sha256: pkg.sha256 }
  const summary = summarize(s)
  const runner = await readRunner()
  const quotas = ec2QuotaNeeds(s.instanceType, 1, s.spot)
  const destinations = destinationsOf(cfg.notify, flags.notify)
  const placeholderBox = { instanceId: PLACEHOLDER.instanceId, runName: s.runName, instanceType: s.instanceType, launchedAt: '<launch time>' }
  const notifyOps = planBoxNotify(cfg, destinations, boxNotifyRun(placeholderBox, s.hourlyUsd), s.region)
  const operations = [...ctx.preflightPlan(quotas), ...buildTrainEc2Plan(s, cfg, code, runner, undefined, notifyOps)]
  if (ctx.dryRun) {
    const parameters = trainingParameters(s, code.uri)
    return planned({
      title: `train-ec2 ${s.runName}`,
      operations,
      notes: [
        `${s.instanceType}${s.spot ? ' (spot)' : ''}: ${formatUsd(s.hourlyUsd)}/hour; terminates itself after ${s.maxHours}h, so at most ${formatUsd(s.maxCostUsd)}.`,
        `Training may run ${formatDuration(s.timeoutSeconds)}; the model goes to ${summary.modelArtifact}.`,
        `On the box: bash scripts/${RUNNER} with ${JSON.stringify(parameters)}`,
      ],
      details: { ...summary, runner: { script: `scripts/${RUNNER}`, parameters } },
    })
  }
  // Built (and checked) now, before anything is created: a value SSM cannot carry stops here, not after launch.
  const commands = trainingCommands(s, code.uri, runner)
  // The vCPU quota of the instance's family and the caller's permissions, before the question and any write.
  await ctx.preflight('train-ec2', { quotas, operations }, cfg)
  await confirmLaunch(ctx, s)
  const c: Ec2Clients = await ctx.clients(['ec2', 'ssm', 'iam', 's3', 'sts', 'logs'], cfg)
  const setup = await setUp(ctx, c, s, cfg, pkg, code)
  const box = await launch(ctx, c, s, setup, { profile: aws.profile, endpointUrl: aws.endpointUrl })
  const notify = () =>
    armBoxNotify(
      ctx,
      cfg,
      destinations,
      boxNotifyRun(
        { instanceId: box.instanceId, runName: s.runName, instanceType: s.instanceType, launchedAt: new Date(box.launchedAt).toISOString() },
        s.hourlyUsd,
      ),
    )
  return done(await trainOnBox(ctx, c, s, summary, { ...setup, commands, notify }, box))
}

function summarize(s: Ec2RunSettings): TrainEc2Summary {
  return {
    runName: s.runName,
    instanceType: s.instanceType,
    spot: s.spot,
    keep: s.keep,
    maxHours: s.maxHours,
    timeoutSeconds: s.timeoutSeconds,
    ...(s.hourlyUsd !== undefined ? { hourlyUsd: s.hourlyUsd, maxCostUsd: s.maxCostUsd } : {}),
    modelArtifact: s.outputs.model,
  }
}

/** The cost line, then the one question before anything bills. */
async function confirmLaunch(ctx: CommandContext, s: Ec2RunSettings): Promise<void> {
  if (s.timeoutNote) ctx.ui.warn(s.timeoutNote)
  ctx.ui.info(costLine(s))
  const ceiling = s.maxCostUsd === undefined ? 'price unknown to mlops' : `at most ${formatUsd(s.maxCostUsd)}`
  if (!(await ctx.ui.confirm(`Launch a ${s.instanceType}${s.spot ? ' spot' : ''} instance for up to ${s.maxHours}h (${ceiling})?`))) {
    throw new AbortError()
  }
}

interface SetupResult {
  readonly ami: ResolvedAmi
  readonly codeUri: string
  readonly role: Ec2RoleResult
  readonly sg: SecurityGroupResult
}

/** 1. Free checks and idempotent setup, before anything bills. */
async function setUp(ctx: CommandContext, c: Ec2Clients, s: Ec2RunSettings, cfg: MlopsConfig, pkg: CodePackage, code: ObjectLocation): Promise<SetupResult> {
  const ui = ctx.ui
  const state = ctx.state()
  const stamp = () => new Date(ctx.clock.now()).toISOString()
  const accountId = await getAccountId(c.sts)
  const ami = await resolveAmi(c.ssm, c.ec2, s.amiParameter, s.region)
  if (ami.rootSnapshotGb !== undefined && ami.rootSnapshotGb > s.volumeSizeGb) {
    throw new UserError('VolumeTooSmall', `ec2.volumeSizeGb (${s.volumeSizeGb}) is smaller than the AMI's ${ami.rootSnapshotGb} GB root snapshot.`, {
      hint: `Set ec2.volumeSizeGb to ${ami.rootSnapshotGb} or more.`,
    })
  }
  ui.step(`AMI ${ami.amiId}${ami.name ? ` (${ami.name})` : ''}`)
  await checkChannels(c.s3, s)
  const uploaded = await ensureCodePackage(c.s3, code, pkg)
  ui.step(`Code ${uploaded.uri}${uploaded.uploaded ? ' (uploaded)' : ' (unchanged)'}`)
  const role = await ensureEc2Role(c.iam, cfg, accountId, s.region)
  await state.record({ kind: 'role', name: role.roleName, arn: role.roleArn, region: s.region, createdAt: stamp(), details: { purpose: 'ec2' } })
  await state.record({
    kind: 'instance-profile',
    name: role.profileName,
    arn: role.profileArn,
    region: s.region,
    createdAt: stamp(),
    details: { roleName: role.roleName },
  })
  ui.step(`Instance role ${role.roleName}${role.created ? ' (created)' : ''}: SSM core + S3 scoped to the project`)
  const vpcId = await findVpcId(c.ec2, s.subnetId, s.region)
  const sg = await ensureSecurityGroup(c.ec2, s.project, s.securityGroupName, vpcId)
  await state.record({ kind: 'security-group', name: sg.groupId, region: s.region, createdAt: stamp(), details: { groupName: sg.groupName, vpcId } })
  if (sg.revokedRules > 0) ui.warn(`Removed ${sg.revokedRules} inbound rule(s) someone added to ${sg.groupName}: the box accepts no inbound traffic.`)
  ui.step(`Security group ${sg.groupName} (${sg.groupId})${sg.created ? ' (created)' : ''}: no inbound rules`)
  await ensureLogGroup(c.logs, s.logGroupName, projectTagMap(s.project))
  return { ami, codeUri: uploaded.uri, role, sg }
}

/** Training needs data: fail before launching a box that would find none. */
async function checkChannels(s3: Ec2Clients['s3'], s: Ec2RunSettings): Promise<void> {
  for (const ch of ['train', 'valid'] as const) {
    const { bucket, key } = parseS3Uri(s.channels[ch], { requireKey: true })!
    const found = await probePrefix(s3, bucket, `${key}/`)
    if (!found.bucketExists) {
      throw new UserError('BucketMissing', `Bucket ${bucket} does not exist.`, {
        hint: 'Run `mlops upload-data` first: it creates the bucket and uploads the images.',
      })
    }
    if (found.empty) {
      throw new UserError('NoTrainingData', `No ${ch} data under ${s.channels[ch]}/.`, { hint: 'Run `mlops upload-data` first. Nothing was launched.' })
    }
  }
}

interface Box {
  readonly instanceId: string
  readonly state: string
  readonly launchedAt: number
  readonly selfTerminatesAt: string
  readonly terminateCmd: string
}

/** 2. Launch. From its return on, the cleanup in trainOnBox owns the instance. */
async function launch(
  ctx: CommandContext,
  c: Ec2Clients,
  s: Ec2RunSettings,
  setup: SetupResult,
  cli: { profile?: string; endpointUrl?: string },
): Promise<Box> {
  if (ctx.signal.aborted) throw new InterruptedError('Interrupted before launch: nothing is running.')
  const input = buildRunInstancesInput({
    project: s.project,
    runName: s.runName,
    instanceType: s.instanceType,
    spot: s.spot,
    amiId: setup.ami.amiId,
    rootDeviceName: setup.ami.rootDeviceName,
    volumeSizeGb: s.volumeSizeGb,
    subnetId: s.subnetId,
    securityGroupId: setup.sg.groupId,
    instanceProfileName: setup.role.profileName,
    maxHours: s.maxHours,
  })
  const launched = await launchInstance(c.ec2, input, {
    clock: ctx.clock,
    signal: ctx.signal,
    onRetry: (n) => ctx.ui.info(`Waiting for the new instance profile to propagate in IAM (attempt ${n + 1})…`),
  }).catch((e) => {
    // Ctrl-C between retries: RunInstances was refused every time so far, so nothing runs.
    throw e instanceof InterruptedError ? new InterruptedError('Interrupted before launch: nothing is running.') : e
  })
  const launchedAt = ctx.clock.now()
  return {
    instanceId: launched.instanceId,
    state: launched.state,
    launchedAt,
    selfTerminatesAt: new Date(launchedAt + deadManMinutes(s.maxHours) * 60_000).toISOString(),
    terminateCmd: terminateCommandLine(launched.instanceId, s.region, cli),
  }
}

/** 3. Wait for the box, train, and clean up always; the result only when all of it went well. */
async function trainOnBox(
  ctx: CommandContext,
  c: Ec2Clients,
  s: Ec2RunSettings,
  summary: TrainEc2Summary,
  setup: SetupResult & { readonly commands: readonly string[]; readonly notify?: () => Promise<NotifySummary | undefined> },
  box: Box,
): Promise<TrainEc2Result> {
  let notifications: NotifySummary | undefined
  const state = ctx.state()
  let commandId: string | undefined
  let outcome: CommandOutcome | undefined
  let failure: unknown
  try {
    await state.record({
      kind: 'instance',
      name: box.instanceId,
      region: s.region,
      createdAt: new Date(ctx.clock.now()).toISOString(),
      details: { instanceType: s.instanceType, state: box.state, runName: s.runName, spot: s.spot, selfTerminatesAt: box.selfTerminatesAt },
    })
    ctx.ui.success(`Launched ${box.instanceId} (${s.instanceType}${s.spot ? ', spot' : ''}); it terminates itself by ${box.selfTerminatesAt} at the latest.`)
    notifications = await setup.notify?.()
    await waitForBox(ctx, c, s, box.instanceId)
    commandId = await sendCommand(
      c.ssm,
      buildSendCommandInput({
        instanceId: box.instanceId,
        runName: s.runName,
        commands: setup.commands,
        timeoutSeconds: s.timeoutSeconds,
        logGroupName: s.logGroupName,
      }),
      { clock: ctx.clock, signal: ctx.signal },
    )
    outcome = await followTraining(ctx, c, s, box.instanceId, commandId)
    if (outcome.status !== 'Success') throw commandFailure(outcome, s, commandId, box.instanceId)
  } catch (e) {
    failure = asOutputFailure(e, box.instanceId)
  }

  const end = await cleanUp(ctx, state, c.ec2, s, box, failure)
  const runtimeSeconds = Math.max(0, Math.round((ctx.clock.now() - box.launchedAt) / 1000))
  const cost = estimateCost(s.instanceType, 1, Math.max(60, runtimeSeconds))
  quietly(() =>
    ctx.ui.info(`Runtime ${formatDuration(runtimeSeconds)}, estimated cost ${formatUsd(cost)}${s.spot ? ' at most (on-demand rate)' : ''}. ${PRICE_NOTE}`),
  )
  if (end.error) throw end.error
  if (failure !== undefined) {
    if (failure instanceof InterruptedError) {
      throw new InterruptedError(`Interrupted: instance ${box.instanceId} ${s.keep ? 'was kept running (--keep)' : `is ${end.state}`}.`, { cause: failure })
    }
    throw failure
  }

  const result = await finish(ctx, s, summary, setup, box, { commandId: commandId!, outcome: outcome!, endState: end.state, runtimeSeconds, cost })
  return notifications ? { ...result, notifications } : result
}

/** 4. A run that went well: what the user sees last, the model in state, and the result. */
async function finish(
  ctx: CommandContext,
  s: Ec2RunSettings,
  summary: TrainEc2Summary,
  setup: SetupResult,
  box: Box,
  run: { commandId: string; outcome: CommandOutcome; endState: string; runtimeSeconds: number; cost?: number },
): Promise<TrainEc2Result> {
  const o = run.outcome
  if (o.tail.length === 0) ctx.ui.info('  (the command printed nothing)')
  if (o.truncated) ctx.ui.warn('Only the first 24,000 characters of output were available; metrics may be incomplete.')
  checkArtifactReported(ctx, s, o, box.instanceId)
  const metrics = latestMetrics(o.stdout.filter((l) => parseMetricLine(l)))
  await ctx.state().record({
    kind: 'model-artifact',
    name: s.outputs.model,
    region: s.region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { source: 'ec2', jobName: s.runName, metrics, instanceType: s.instanceType, instanceId: box.instanceId },
  })
  return {
    dryRun: false,
    ...summary,
    status: 'Completed',
    region: s.region,
    instanceId: box.instanceId,
    amiId: setup.ami.amiId,
    commandId: run.commandId,
    metrics,
    logGroup: s.logGroupName,
    runtimeSeconds: run.runtimeSeconds,
    ...(run.cost !== undefined ? { estimatedCostUsd: Math.round(run.cost * 10_000) / 10_000 } : {}),
    instance: {
      state: run.endState,
      kept: s.keep,
      ...(s.keep ? { terminateCommand: box.terminateCmd, selfTerminatesAt: box.selfTerminatesAt } : {}),
    },
    outputStreamed: o.streamed,
  }
}

/**
 * The runner prints the artifact marker only after model.tar.gz is uploaded: a run without it
 * recorded no model. When no output could be read at all, or only its first 24,000 characters,
 * the marker cannot be seen, so that is a warning, not a failure.
 */
function checkArtifactReported(ctx: CommandContext, s: Ec2RunSettings, o: CommandOutcome, instanceId: string): void {
  if (o.stdout.some((l) => l.startsWith(ARTIFACT_MARKER))) return
  if (o.truncated || o.stdout.length === 0) {
    ctx.ui.warn(`The output does not show the model upload; ${s.outputs.model} is recorded unconfirmed.`)
    return
  }
  throw new OperationError(
    'NoModelReported',
    `Training on ${instanceId} ended without reporting ${s.outputs.model} (no ${ARTIFACT_MARKER} line); no model was recorded.`,
    { hint: `The output is above; all of it: aws logs tail ${s.logGroupName} --region ${s.region}` },
  )
}

/** Throws when the instance has ended (spot reclaimed, dead-man switch). */
function instanceAlive(c: Ec2Clients, s: Ec2RunSettings, instanceId: string): () => Promise<void> {
  return async () => {
    const st = await describeInstanceState(c.ec2, instanceId)
    if (st.state !== 'running' && st.state !== 'pending') {
      throw new OperationError('InstanceEnded', `Instance ${instanceId} is ${st.state}${st.reason ? ` (${st.reason})` : ''}; training cannot go on.`, {
        hint: s.spot
          ? 'Spot capacity was probably reclaimed: retry later, or without --spot.'
          : `The box may have hit its --max-hours ${s.maxHours} dead-man switch.`,
      })
    }
  }
}

/** Until the instance runs and its SSM agent is online. */
async function waitForBox(ctx: CommandContext, c: Ec2Clients, s: Ec2RunSettings, instanceId: string): Promise<void> {
  const waitLine = ctx.ui.spinner(`Waiting for ${instanceId} to be running…`)
  const onStatus = (st: string, ms: number) => waitLine.update(`Instance ${instanceId}: ${st} (${formatDuration(ms / 1000)})`)
  try {
    await waitForInstanceRunning(c.ec2, instanceId, { clock: ctx.clock, signal: ctx.signal, timeoutMs: s.launchTimeoutSeconds * 1000, onStatus })
    waitLine.update(`Waiting for the SSM agent on ${instanceId}…`)
    await waitForAgentOnline(c.ssm, instanceId, {
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: s.agentTimeoutSeconds * 1000,
      checkInstance: instanceAlive(c, s, instanceId),
      onStatus,
    })
    waitLine.succeed(`SSM agent on ${instanceId} is online`)
  } catch (e) {
    waitLine.fail()
    throw explainWaitFailure(e, instanceId, s)
  }
}

/** Streams the command's output (metrics formatted) until it ends. */
async function followTraining(ctx: CommandContext, c: Ec2Clients, s: Ec2RunSettings, instanceId: string, commandId: string): Promise<CommandOutcome> {
  const ui = ctx.ui
  ui.step(`Training (command ${commandId}, up to ${formatDuration(s.timeoutSeconds)}); output from ${s.logGroupName}:`)
  return followCommand(c.ssm, c.logs, {
    commandId,
    instanceId,
    logGroupName: s.logGroupName,
    clock: ctx.clock,
    signal: ctx.signal,
    timeoutMs: s.timeoutSeconds * 1000 + FOLLOW_MARGIN_MS,
    onLine: guardOutput((line: string, stream: 'stdout' | 'stderr') => {
      const m = stream === 'stdout' ? parseMetricLine(line) : undefined
      if (m) ui.step(formatMetrics(m))
      else ui.info(stream === 'stderr' ? ui.c.gray(`  ${line}`) : `  ${line}`)
    }),
    onStatus: guardOutput((st: string) => (st.startsWith('retrying') ? ui.warn(`Status check failed, ${st}`) : ui.debug(`command ${commandId}: ${st}`))),
    onLogsUnavailable: guardOutput((why: string) => ui.warn(`Live output unavailable (${why}); showing GetCommandInvocation's copy at the end.`)),
    checkInstance: instanceAlive(c, s, instanceId),
  }).catch((e) => {
    if (e instanceof OperationError && e.code === 'DeadlineReached') {
      throw new OperationError(
        'TrainingTimedOut',
        `Training did not finish within --timeout ${formatDuration(s.timeoutSeconds)} plus ${FOLLOW_MARGIN_MS / 60_000} minutes.`,
        { hint: 'Raise --timeout (and --max-hours), or train for fewer epochs.', cause: e },
      )
    }
    throw e
  })
}

/** Terminates the box (unless --keep), reports, and updates state. Never throws: errors come back as `error`. */
async function cleanUp(
  ctx: CommandContext,
  state: StateStore,
  ec2: Ec2Clients['ec2'],
  s: Ec2RunSettings,
  box: Box,
  failure: unknown,
): Promise<{ state: string; error?: MlopsError }> {
  // Output may be gone (a closed pipe, a broken terminal): it must never stop the box from ending.
  const ui = ctx.ui
  const { instanceId, selfTerminatesAt, terminateCmd } = box
  if (s.keep) {
    await state.record({
      kind: 'instance',
      name: instanceId,
      region: s.region,
      createdAt: new Date(ctx.clock.now()).toISOString(),
      details: { instanceType: s.instanceType, state: 'running', runName: s.runName, spot: s.spot, kept: true, selfTerminatesAt },
    })
    quietly(() =>
      ui.warn(
        `--keep: ${instanceId} is still running at ${formatUsd(s.hourlyUsd)}/hour until ${selfTerminatesAt} (dead-man switch). End it with:\n  ${terminateCmd}`,
      ),
    )
    return { state: 'running' }
  }
  const line = quietly(() => ui.spinner(`Terminating ${instanceId}…`)) ?? SILENT_SPINNER
  try {
    const t = await terminateInstance(ec2, instanceId, {
      clock: ctx.clock,
      timeoutMs: TERMINATE_WAIT_MS,
      onStatus: (st) => quietly(() => line.update(`Terminating ${instanceId}: ${st}`)),
    })
    quietly(() => line.succeed(`Instance ${instanceId} ${t.state}.`))
    await state.remove('instance', instanceId)
    return { state: t.state }
  } catch (e) {
    quietly(() => line.fail(`Could not terminate ${instanceId}.`))
    const before = failure instanceof Error ? ` (after: ${failure.message})` : ''
    return {
      state: 'unknown',
      error: new OperationError(
        'TerminateFailed',
        `Could not terminate ${instanceId}: ${(e as Error)?.message ?? String(e)}${before}. It may still be running at ${formatUsd(s.hourlyUsd)}/hour until its dead-man switch at ${selfTerminatesAt}.`,
        { hint: `Terminate it now: ${terminateCmd}`, cause: e, details: { instanceId, terminateCommand: terminateCmd } },
      ),
    }
  }
}

/** A spinner that shows nothing, for when the real one could not even start. */
const SILENT_SPINNER: Spinner = { update: () => undefined, succeed: () => undefined, fail: () => undefined, stop: () => undefined }

/** Runs an output call, ignoring its failure (EPIPE on a closed pipe, a broken terminal). */
function quietly<T>(write: () => T): T | undefined {
  try {
    return write()
  } catch {
    return undefined
  }
}

/** Whether an error came from writing output (a closed pipe or terminal), not from AWS. */
function isOutputError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code
  return !(e instanceof MlopsErrorClass) && (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END')
}

/** An output error while the box runs: stop (the box is terminated next) and say so; other errors as they are. */
function asOutputFailure(e: unknown, instanceId: string): unknown {
  if (!isOutputError(e)) return e
  return new OperationError('OutputClosed', `The output closed (${(e as { code: string }).code}) while ${instanceId} was training; the run was stopped.`, {
    hint: 'Keep the output open for the whole run (for example pipe into a file rather than `head`), or use --json and read the result at the end.',
    cause: e,
  })
}

/** Output calls made while following the command: a write error must end the wait, not look like an AWS blip to retry. */
function guardOutput<A extends unknown[]>(write: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      write(...args)
    } catch (e) {
      throw isOutputError(e) ? asOutputFailure(e, 'the box') : e
    }
  }
}
