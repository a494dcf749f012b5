import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import type { AwsClients } from '../../aws/clients.js'
import { buildCodePackage, codePackageLocation } from '../../shared/code-package.js'
import { ensureCodePackage } from '../../aws/s3/code-upload.js'
import { getAccountId } from '../../aws/sts/account.js'
import {
  describeInstanceState,
  ensureSecurityGroup,
  findVpcId,
  launchInstance,
  resolveAmi,
  terminateInstance,
  waitForInstanceRunning,
} from '../../aws/ec2/box.js'
import { ensureEc2Role } from '../../shared/roles/ec2-role.js'
import { callAws, isAwsErrorNamed } from '../../aws/errors.js'
import { ensureLogGroup, followCommand, sendCommand, waitForAgentOnline, type CommandOutcome } from '../../aws/ssm/run-command.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, type MlopsError, OperationError, UserError } from '../../shared/errors.js'
import { projectTagMap } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateStore } from '../../shared/state.js'
import { estimateCost, formatUsd, PRICE_NOTE } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import { commandFailure, costLine, explainWaitFailure } from './outcome.js'
import { buildTrainEc2Plan, resolveEc2Settings, trainingCommands, type Ec2RunSettings, type TrainEc2Flags } from './plan.js'
import { buildRunInstancesInput, buildSendCommandInput, deadManMinutes, terminateCommandLine } from './requests.js'
import { formatMetrics, parseMetricLine, type Metrics } from '../../shared/metrics.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'

/**
 * `mlops train-ec2`: the course's "log into a g4dn.xlarge and run the script" without SSH, open
 * ports or a box that can be forgotten. Order: everything free and checkable first (AMI, data,
 * code, role, security group), then launch, then a `finally` that terminates the instance on
 * success, failure, timeout and Ctrl-C (unless --keep).
 */

type Ec2Clients = Pick<AwsClients, 'ec2' | 'ssm' | 'iam' | 's3' | 'sts' | 'logs'>

export interface TrainEc2Summary {
  readonly runName: string
  readonly instanceType: string
  readonly spot: boolean
  readonly keep: boolean
  readonly maxHours: number
  readonly timeoutSeconds: number
  readonly hourlyUsd?: number
  readonly maxCostUsd?: number
  readonly modelArtifact: string
}

export interface TrainEc2Plan {
  readonly dryRun: true
  readonly summary: TrainEc2Summary
  readonly operations: readonly PlannedOperation[]
}

export interface TrainEc2Result extends TrainEc2Summary {
  readonly dryRun: false
  readonly status: 'Completed'
  readonly region: string
  readonly instanceId: string
  readonly amiId: string
  readonly commandId: string
  readonly metrics: Metrics
  readonly logGroup: string
  readonly runtimeSeconds: number
  readonly estimatedCostUsd?: number
  /** What became of the box: terminated / shutting-down, or running with --keep. */
  readonly instance: { readonly state: string; readonly kept: boolean; readonly terminateCommand?: string; readonly selfTerminatesAt?: string }
  /** False when output could only be read from GetCommandInvocation (first 24,000 characters). */
  readonly outputStreamed: boolean
}

/** How long cleanup waits for the instance to reach terminated (shutting-down is accepted at the end). */
const TERMINATE_WAIT_MS = 180_000
/** Client-side margin over the command's executionTimeout before giving up on it. */
const FOLLOW_MARGIN_MS = 10 * 60_000

export async function runTrainEc2(ctx: CommandContext, flags: TrainEc2Flags): Promise<TrainEc2Plan | TrainEc2Result> {
  const cfg = await ctx.config()
  const aws = ctx.awsSettings(cfg)
  const s = resolveEc2Settings(cfg, flags, { region: aws.region, now: new Date(ctx.clock.now()) })
  const pkg = await buildCodePackage(resolveTrainingSourceDir(cfg, ctx.projectDir).dir, cfg.training.entryPoint)
  const code = { ...codePackageLocation(s.bucket, s.project, pkg.sha256), sha256: pkg.sha256 }
  const summary: TrainEc2Summary = {
    runName: s.runName,
    instanceType: s.instanceType,
    spot: s.spot,
    keep: s.keep,
    maxHours: s.maxHours,
    timeoutSeconds: s.timeoutSeconds,
    ...(s.hourlyUsd !== undefined ? { hourlyUsd: s.hourlyUsd, maxCostUsd: s.maxCostUsd } : {}),
    modelArtifact: s.outputs.model,
  }
  if (ctx.dryRun) return { dryRun: true, summary, operations: buildTrainEc2Plan(s, cfg, code) }

  const ui = ctx.ui
  if (s.timeoutNote) ui.warn(s.timeoutNote)
  ui.info(costLine(s))
  const ceiling = s.maxCostUsd === undefined ? 'price unknown to mlops' : `at most ${formatUsd(s.maxCostUsd)}`
  if (!(await ui.confirm(`Launch a ${s.instanceType}${s.spot ? ' spot' : ''} instance for up to ${s.maxHours}h (${ceiling})?`))) {
    throw new AbortError()
  }

  const c: Ec2Clients = await ctx.clients(['ec2', 'ssm', 'iam', 's3', 'sts', 'logs'], cfg)
  const state = ctx.state()
  const stamp = () => new Date(ctx.clock.now()).toISOString()

  // 1. Free checks and idempotent setup, before anything bills.
  const accountId = await getAccountId(c.sts)
  const ami = await resolveAmi(c.ssm, c.ec2, s.amiParameter, s.region)
  if (ami.rootSnapshotGb !== undefined && ami.rootSnapshotGb > s.volumeSizeGb) {
    throw new UserError('VolumeTooSmall', `ec2.volumeSizeGb (${s.volumeSizeGb}) is smaller than the AMI's ${ami.rootSnapshotGb} GB root snapshot.`, {
      hint: `Set ec2.volumeSizeGb to ${ami.rootSnapshotGb} or more.`,
    })
  }
  ui.step(`AMI ${ami.amiId}${ami.name ? ` (${ami.name})` : ''}`)
  await checkChannels(c.s3, s)
  const uploaded = await ensureCodePackage(c.s3, codePackageLocation(s.bucket, s.project, pkg.sha256), pkg)
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

  // 2. Launch. From here on, the cleanup below owns the instance.
  if (ctx.signal.aborted) throw new InterruptedError('Interrupted before launch: nothing is running.')
  const launchInput = buildRunInstancesInput({
    project: s.project,
    runName: s.runName,
    instanceType: s.instanceType,
    spot: s.spot,
    amiId: ami.amiId,
    rootDeviceName: ami.rootDeviceName,
    volumeSizeGb: s.volumeSizeGb,
    subnetId: s.subnetId,
    securityGroupId: sg.groupId,
    instanceProfileName: role.profileName,
    maxHours: s.maxHours,
  })
  const launched = await launchInstance(c.ec2, launchInput, {
    clock: ctx.clock,
    signal: ctx.signal,
    onRetry: (n) => ui.info(`Waiting for the new instance profile to propagate in IAM (attempt ${n + 1})…`),
  }).catch((e) => {
    // Ctrl-C between retries: RunInstances was refused every time so far, so nothing runs.
    throw e instanceof InterruptedError ? new InterruptedError('Interrupted before launch: nothing is running.') : e
  })
  const instanceId = launched.instanceId
  const launchedAt = ctx.clock.now()
  const selfTerminatesAt = new Date(launchedAt + deadManMinutes(s.maxHours) * 60_000).toISOString()
  const terminateCmd = terminateCommandLine(instanceId, s.region, { profile: aws.profile, endpointUrl: aws.endpointUrl })

  let commandId: string | undefined
  let outcome: CommandOutcome | undefined
  let failure: unknown
  try {
    await state.record({
      kind: 'instance',
      name: instanceId,
      region: s.region,
      createdAt: stamp(),
      details: { instanceType: s.instanceType, state: launched.state, runName: s.runName, spot: s.spot, selfTerminatesAt },
    })
    ui.success(`Launched ${instanceId} (${s.instanceType}${s.spot ? ', spot' : ''}); it terminates itself by ${selfTerminatesAt} at the latest.`)
    const ensureAlive = async () => {
      const st = await describeInstanceState(c.ec2, instanceId)
      if (st.state !== 'running' && st.state !== 'pending') {
        throw new OperationError('InstanceEnded', `Instance ${instanceId} is ${st.state}${st.reason ? ` (${st.reason})` : ''}; training cannot go on.`, {
          hint: s.spot
            ? 'Spot capacity was probably reclaimed: retry later, or without --spot.'
            : `The box may have hit its --max-hours ${s.maxHours} dead-man switch.`,
        })
      }
    }
    const waitLine = ui.spinner(`Waiting for ${instanceId} to be running…`)
    try {
      await waitForInstanceRunning(c.ec2, instanceId, {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: s.launchTimeoutSeconds * 1000,
        onStatus: (st, ms) => waitLine.update(`Instance ${instanceId}: ${st} (${formatDuration(ms / 1000)})`),
      })
      waitLine.update(`Waiting for the SSM agent on ${instanceId}…`)
      await waitForAgentOnline(c.ssm, instanceId, {
        clock: ctx.clock,
        signal: ctx.signal,
        timeoutMs: s.agentTimeoutSeconds * 1000,
        checkInstance: ensureAlive,
        onStatus: (st, ms) => waitLine.update(`Instance ${instanceId}: ${st} (${formatDuration(ms / 1000)})`),
      })
      waitLine.succeed(`SSM agent on ${instanceId} is online`)
    } catch (e) {
      waitLine.fail()
      throw explainWaitFailure(e, instanceId, s)
    }

    const sendInput = buildSendCommandInput({
      instanceId,
      runName: s.runName,
      commands: trainingCommands(s, uploaded.uri),
      timeoutSeconds: s.timeoutSeconds,
      logGroupName: s.logGroupName,
    })
    commandId = await sendCommand(c.ssm, sendInput, { clock: ctx.clock, signal: ctx.signal })
    ui.step(`Training (command ${commandId}, up to ${formatDuration(s.timeoutSeconds)}); output from ${s.logGroupName}:`)
    outcome = await followCommand(c.ssm, c.logs, {
      commandId,
      instanceId,
      logGroupName: s.logGroupName,
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: s.timeoutSeconds * 1000 + FOLLOW_MARGIN_MS,
      onLine: (line, stream) => {
        const m = stream === 'stdout' ? parseMetricLine(line) : undefined
        if (m) ui.step(formatMetrics(m))
        else ui.info(stream === 'stderr' ? ui.c.gray(`  ${line}`) : `  ${line}`)
      },
      onStatus: (st) => (st.startsWith('retrying') ? ui.warn(`Status check failed, ${st}`) : ui.debug(`command ${commandId}: ${st}`)),
      onLogsUnavailable: (why) => ui.warn(`Live output unavailable (${why}); showing GetCommandInvocation's copy at the end.`),
      checkInstance: ensureAlive,
    }).catch((e) => {
      if (e instanceof OperationError && e.code === 'DeadlineReached') {
        throw new OperationError(
          'TrainingTimedOut',
          `Training did not finish within --timeout ${formatDuration(s.timeoutSeconds)} plus ${FOLLOW_MARGIN_MS / 60_000} minutes.`,
          {
            hint: 'Raise --timeout (and --max-hours), or train for fewer epochs.',
            cause: e,
          },
        )
      }
      throw e
    })
    if (outcome.status !== 'Success') throw commandFailure(outcome, s, commandId, instanceId)
  } catch (e) {
    failure = e
  }

  // 3. Cleanup, always.
  const end = await cleanUp(ctx, state, c.ec2, s, instanceId, terminateCmd, selfTerminatesAt, failure)
  const runtimeSeconds = Math.max(0, Math.round((ctx.clock.now() - launchedAt) / 1000))
  const cost = estimateCost(s.instanceType, 1, Math.max(60, runtimeSeconds))
  ui.info(`Runtime ${formatDuration(runtimeSeconds)}, estimated cost ${formatUsd(cost)}${s.spot ? ' at most (on-demand rate)' : ''}. ${PRICE_NOTE}`)
  if (end.error) throw end.error
  if (failure !== undefined) {
    if (failure instanceof InterruptedError) {
      throw new InterruptedError(`Interrupted: instance ${instanceId} ${s.keep ? 'was kept running (--keep)' : `is ${end.state}`}.`, { cause: failure })
    }
    throw failure
  }

  const o = outcome!
  if (o.tail.length === 0) ui.info('  (the command printed nothing)')
  if (o.truncated) ui.warn('Only the first 24,000 characters of output were available; metrics may be incomplete.')
  await state.record({
    kind: 'model-artifact',
    name: s.outputs.model,
    region: s.region,
    createdAt: stamp(),
    details: { source: 'ec2', jobName: s.runName, metrics: o.metrics, instanceType: s.instanceType, instanceId },
  })
  return {
    dryRun: false,
    ...summary,
    status: 'Completed',
    region: s.region,
    instanceId,
    amiId: ami.amiId,
    commandId: commandId!,
    metrics: o.metrics,
    logGroup: s.logGroupName,
    runtimeSeconds,
    ...(cost !== undefined ? { estimatedCostUsd: Math.round(cost * 10_000) / 10_000 } : {}),
    instance: { state: end.state, kept: s.keep, ...(s.keep ? { terminateCommand: terminateCmd, selfTerminatesAt } : {}) },
    outputStreamed: o.streamed,
  }
}

/** Training needs data: fail before launching a box that would find none. */
async function checkChannels(s3: S3Client, s: Ec2RunSettings): Promise<void> {
  for (const ch of ['train', 'valid'] as const) {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.*)$/.exec(s.channels[ch])!
    const out = await callAws({ service: 's3', operation: 'ListObjectsV2', resource: s.channels[ch] }, async () => {
      try {
        return await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${key}/`, MaxKeys: 1 }))
      } catch (e) {
        if (isAwsErrorNamed(e, 'NoSuchBucket')) {
          throw new UserError('BucketMissing', `Bucket ${bucket} does not exist.`, {
            hint: 'Run `mlops upload-data` first: it creates the bucket and uploads the images.',
            cause: e,
          })
        }
        throw e
      }
    })
    if (!out.KeyCount && !(out.Contents ?? []).length) {
      throw new UserError('NoTrainingData', `No ${ch} data under ${s.channels[ch]}/.`, { hint: 'Run `mlops upload-data` first. Nothing was launched.' })
    }
  }
}

/** Terminates the box (unless --keep), reports, and updates state. Never throws: errors come back as `error`. */
async function cleanUp(
  ctx: CommandContext,
  state: StateStore,
  ec2: Ec2Clients['ec2'],
  s: Ec2RunSettings,
  instanceId: string,
  terminateCmd: string,
  selfTerminatesAt: string,
  failure: unknown,
): Promise<{ state: string; error?: MlopsError }> {
  const ui = ctx.ui
  if (s.keep) {
    await state.record({
      kind: 'instance',
      name: instanceId,
      region: s.region,
      createdAt: new Date(ctx.clock.now()).toISOString(),
      details: { instanceType: s.instanceType, state: 'running', runName: s.runName, spot: s.spot, kept: true, selfTerminatesAt },
    })
    ui.warn(
      `--keep: ${instanceId} is still running at ${formatUsd(s.hourlyUsd)}/hour until ${selfTerminatesAt} (dead-man switch). End it with:\n  ${terminateCmd}`,
    )
    return { state: 'running' }
  }
  const line = ui.spinner(`Terminating ${instanceId}…`)
  try {
    const t = await terminateInstance(ec2, instanceId, {
      clock: ctx.clock,
      timeoutMs: TERMINATE_WAIT_MS,
      onStatus: (st) => line.update(`Terminating ${instanceId}: ${st}`),
    })
    line.succeed(`Instance ${instanceId} ${t.state}.`)
    await state.remove('instance', instanceId)
    return { state: t.state }
  } catch (e) {
    line.fail(`Could not terminate ${instanceId}.`)
    const before = failure instanceof Error ? ` (after: ${failure.message})` : ''
    return {
      state: 'unknown',
      error: new OperationError(
        'TerminateFailed',
        `Could not terminate ${instanceId}: ${(e as Error)?.message ?? String(e)}${before}. It may still be running at ${formatUsd(s.hourlyUsd)}/hour until its dead-man switch at ${selfTerminatesAt}.`,
        {
          hint: `Terminate it now: ${terminateCmd}`,
          cause: e,
          details: { instanceId, terminateCommand: terminateCmd },
        },
      ),
    }
  }
}
