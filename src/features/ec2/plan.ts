import type { NotifyDestination } from '../../shared/notify-spec.js'
import type { MlopsConfig } from '../../config/schema.js'
import { MAX_EXECUTION_TIMEOUT_SECONDS } from '../../config/sections/ec2.js'
import { UserError } from '../../shared/errors.js'
import { projectTagMap, resourceNames, uniqueName } from '../../shared/naming.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { hourlyPrice } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import { planCodePackage } from '../../shared/code-package.js'
import { commandLogGroupName } from '../../shared/roles/ec2-role.js'
import { parseS3Uri } from '../../aws/arn.js'
import { planEc2Role } from './role.js'
import { channelUris } from '../../shared/channels.js'
import { buildRunInstancesInput, buildSecurityGroupInput, buildSendCommandInput, deadManMinutes, runOutputUris } from './requests.js'
import { checkPassableHyperparameters, runShellScriptCommands, type TrainingParameters } from './script.js'

/**
 * `train-ec2` settings (flags merged over the `ec2` config) and its --dry-run plan. Pure: the
 * real run builds its requests with the same functions, so the plan is what would be sent.
 */

/** Flags of `mlops train-ec2`, already validated by the command. undefined: take the config's value. */
export interface TrainEc2Options {
  readonly instanceType?: string
  readonly spot?: boolean
  /** Leave the instance running at the end. @default false */
  readonly keep?: boolean
  readonly maxHours?: number
  /** --timeout in seconds. */
  readonly timeoutSeconds?: number
  /** --notify: replaces the config's notify destinations. */
  readonly notify?: readonly NotifyDestination[]
}

export interface Ec2RunSettings {
  readonly project: string
  readonly region: string
  readonly bucket: string
  readonly runName: string
  readonly instanceType: string
  readonly spot: boolean
  readonly keep: boolean
  readonly maxHours: number
  /** SSM executionTimeout. */
  readonly timeoutSeconds: number
  /** Set when the configured timeout was shortened to fit inside --max-hours. */
  readonly timeoutNote?: string
  readonly amiParameter: string
  readonly volumeSizeGb: number
  readonly subnetId?: string
  readonly pythonPath: string
  readonly entryPoint: string
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>
  readonly distribution: MlopsConfig['training']['distribution']
  readonly channels: { readonly train: string; readonly valid: string; readonly test: string }
  readonly outputs: { readonly model: string; readonly outputData: string }
  readonly logGroupName: string
  readonly launchTimeoutSeconds: number
  readonly agentTimeoutSeconds: number
  readonly securityGroupName: string
  readonly instanceProfileName: string
  /** On-demand USD/hour; undefined when the type is not in the price table. */
  readonly hourlyUsd?: number
  /** Hourly price x the dead-man switch: the most the box can cost. */
  readonly maxCostUsd?: number
}

/** Time kept for boot, agent, downloads and upload when the configured timeout must fit in --max-hours. */
const SETUP_MARGIN_SECONDS = 600

/** Merges flags over the config and checks the combination (UserError naming the flag; exit 2). */
export function resolveEc2Settings(cfg: MlopsConfig, flags: TrainEc2Options, env: { region: string; now: Date }): Ec2RunSettings {
  const e = cfg.ec2
  const maxHours = flags.maxHours ?? e.maxHours
  const capSeconds = Math.floor(maxHours * 3600)
  let timeoutSeconds: number
  let timeoutNote: string | undefined
  if (flags.timeoutSeconds !== undefined) {
    if (flags.timeoutSeconds > capSeconds) {
      throw new UserError(
        'TimeoutBeyondMaxHours',
        `--timeout ${formatDuration(flags.timeoutSeconds)} is longer than --max-hours ${maxHours}: the box would terminate itself first.`,
        {
          hint: `Raise --max-hours to at least ${Math.ceil(flags.timeoutSeconds / 360) / 10}, or lower --timeout.`,
        },
      )
    }
    timeoutSeconds = flags.timeoutSeconds
  } else if (e.timeout > capSeconds) {
    timeoutSeconds = Math.max(60, capSeconds - Math.min(SETUP_MARGIN_SECONDS, Math.floor(capSeconds / 4)))
    timeoutNote = `ec2.timeout ${formatDuration(e.timeout)} does not fit in --max-hours ${maxHours}; using ${formatDuration(timeoutSeconds)}.`
  } else {
    timeoutSeconds = e.timeout
  }
  if (timeoutSeconds > MAX_EXECUTION_TIMEOUT_SECONDS) {
    throw new UserError('TimeoutTooLong', `--timeout ${formatDuration(timeoutSeconds)} is beyond SSM Run Command's 48h limit.`, {
      hint: 'Use --timeout 48h or less.',
    })
  }
  checkPassableHyperparameters(cfg.training.hyperparameters)
  const instanceType = flags.instanceType ?? e.instanceType
  const project = cfg.project.name
  const runName = uniqueName(`${project}-ec2`, env.now)
  const hourlyUsd = hourlyPrice(instanceType)
  const names = resourceNames(cfg)
  return {
    project,
    region: env.region,
    bucket: cfg.data.bucket,
    runName,
    instanceType,
    spot: flags.spot ?? e.spot,
    keep: flags.keep ?? false,
    maxHours,
    timeoutSeconds,
    ...(timeoutNote ? { timeoutNote } : {}),
    amiParameter: e.amiParameter,
    volumeSizeGb: e.volumeSizeGb,
    ...(e.subnetId ? { subnetId: e.subnetId } : {}),
    pythonPath: e.pythonPath,
    entryPoint: cfg.training.entryPoint,
    hyperparameters: cfg.training.hyperparameters,
    distribution: cfg.training.distribution,
    channels: channelUris(cfg),
    outputs: runOutputUris(cfg.data.bucket, cfg.training.outputPrefix, runName),
    logGroupName: commandLogGroupName(project),
    launchTimeoutSeconds: e.launchTimeout,
    agentTimeoutSeconds: e.agentTimeout,
    securityGroupName: names.ec2SecurityGroup,
    instanceProfileName: names.ec2InstanceProfile,
    ...(hourlyUsd !== undefined ? { hourlyUsd, maxCostUsd: (hourlyUsd * deadManMinutes(maxHours)) / 60 } : {}),
  }
}

/** The runner's parameters for these settings and this code package (what --dry-run shows). */
export function trainingParameters(s: Ec2RunSettings, codeUri: string): TrainingParameters {
  return {
    runName: s.runName,
    region: s.region,
    codeUri,
    channels: s.channels,
    entryPoint: s.entryPoint,
    pythonPath: s.pythonPath,
    hyperparameters: s.hyperparameters,
    distribution: s.distribution,
    artifactUri: s.outputs.model,
    outputDataUri: s.outputs.outputData,
  }
}

/** The `commands` the SSM document runs: the runner and its parameters. */
export function trainingCommands(s: Ec2RunSettings, codeUri: string, runner: string): string[] {
  return runShellScriptCommands(runner, trainingParameters(s, codeUri))
}

/** Every request of a run, in order, with placeholders for what only AWS knows. */
export function buildTrainEc2Plan(
  s: Ec2RunSettings,
  cfg: MlopsConfig,
  code: { bucket: string; key: string; uri: string; sha256: string },
  runner: string,
  accountId: string = PLACEHOLDER.accountId,
  afterLaunch: readonly PlannedOperation[] = [],
): PlannedOperation[] {
  const vpcId = s.subnetId ? '<vpc-of-subnet>' : '<default-vpc-id>'
  const sg = buildSecurityGroupInput(s.project, s.securityGroupName, vpcId)
  const channelOps: PlannedOperation[] = (['train', 'valid'] as const).map((ch) => {
    const { bucket, key } = parseS3Uri(s.channels[ch], { requireKey: true })!
    return { service: 's3', operation: 'ListObjectsV2', input: { Bucket: bucket, Prefix: `${key}/`, MaxKeys: 1 }, note: `the ${ch} channel has data` }
  })
  return [
    { service: 'sts', operation: 'GetCallerIdentity', input: {} },
    { service: 'ssm', operation: 'GetParameter', input: { Name: s.amiParameter }, note: 'the current Deep Learning AMI id' },
    { service: 'ec2', operation: 'DescribeImages', input: { ImageIds: [PLACEHOLDER.amiId] }, note: 'the AMI exists in the region; its root device' },
    ...channelOps,
    ...planCodePackage(code.bucket, code.key, code.sha256),
    ...planEc2Role(cfg, accountId, s.region),
    s.subnetId
      ? { service: 'ec2', operation: 'DescribeSubnets', input: { SubnetIds: [s.subnetId] } }
      : { service: 'ec2', operation: 'DescribeVpcs', input: { Filters: [{ Name: 'is-default', Values: ['true'] }] } },
    {
      service: 'ec2',
      operation: 'DescribeSecurityGroups',
      input: {
        Filters: [
          { Name: 'group-name', Values: [s.securityGroupName] },
          { Name: 'vpc-id', Values: [vpcId] },
        ],
      },
      note: 'reuse the project group (its inbound rules are removed if any were added)',
    },
    { service: 'ec2', operation: 'CreateSecurityGroup', input: sg, note: 'only if missing; no inbound rules are ever added' },
    { service: 'logs', operation: 'CreateLogGroup', input: { logGroupName: s.logGroupName, tags: projectTagMap(s.project) }, note: 'only if missing' },
    { service: 'logs', operation: 'PutRetentionPolicy', input: { logGroupName: s.logGroupName, retentionInDays: 30 } },
    {
      service: 'ec2',
      operation: 'RunInstances',
      input: buildRunInstancesInput({
        project: s.project,
        runName: s.runName,
        instanceType: s.instanceType,
        spot: s.spot,
        amiId: PLACEHOLDER.amiId,
        rootDeviceName: '<root-device-of-ami>',
        volumeSizeGb: s.volumeSizeGb,
        subnetId: s.subnetId,
        securityGroupId: PLACEHOLDER.securityGroupId,
        instanceProfileName: s.instanceProfileName,
        maxHours: s.maxHours,
      }),
      note: `user data: shutdown -h +${deadManMinutes(s.maxHours)} (the box terminates itself)`,
    },
    ...afterLaunch,
    {
      service: 'ec2',
      operation: 'DescribeInstances',
      input: { InstanceIds: [PLACEHOLDER.instanceId] },
      note: `until running (at most ${formatDuration(s.launchTimeoutSeconds)})`,
    },
    {
      service: 'ssm',
      operation: 'DescribeInstanceInformation',
      input: { Filters: [{ Key: 'InstanceIds', Values: [PLACEHOLDER.instanceId] }] },
      note: `until PingStatus is Online (at most ${formatDuration(s.agentTimeoutSeconds)})`,
    },
    {
      service: 'ssm',
      operation: 'SendCommand',
      input: buildSendCommandInput({
        instanceId: PLACEHOLDER.instanceId,
        runName: s.runName,
        commands: trainingCommands(s, code.uri, runner),
        timeoutSeconds: s.timeoutSeconds,
        logGroupName: s.logGroupName,
      }),
    },
    {
      service: 'logs',
      operation: 'GetLogEvents',
      input: {
        logGroupName: s.logGroupName,
        logStreamName: `${PLACEHOLDER.commandId}/${PLACEHOLDER.instanceId}/aws-runShellScript/stdout`,
        startFromHead: true,
      },
      note: 'streamed live, with the stderr stream',
    },
    {
      service: 'ssm',
      operation: 'GetCommandInvocation',
      input: { CommandId: PLACEHOLDER.commandId, InstanceId: PLACEHOLDER.instanceId },
      note: 'until Success, Failed or TimedOut',
    },
    s.keep
      ? {
          service: 'ec2',
          operation: 'DescribeInstances',
          input: { InstanceIds: [PLACEHOLDER.instanceId] },
          note: '--keep: the box is left running (it still terminates itself at --max-hours)',
        }
      : {
          service: 'ec2',
          operation: 'TerminateInstances',
          input: { InstanceIds: [PLACEHOLDER.instanceId] },
          note: 'always, also on failure, timeout and Ctrl-C',
        },
  ]
}
