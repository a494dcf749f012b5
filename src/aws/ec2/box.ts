import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type CreateSecurityGroupCommandInput,
  type EC2Client,
  type IpPermission,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2'
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm'
import { AwsError, OperationError, UserError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, isNotFound, translateAwsError } from '../error-translation.js'
import { retryWhileIamPropagates } from '../iam/roles.js'

/**
 * EC2 calls for a short-lived, locked-down box: find the AMI, the network and a security group,
 * launch the box, wait for it, and terminate it. Every wait is bounded and uses the injected clock.
 */

export interface WaitOptions {
  readonly clock: Clock
  readonly signal?: AbortSignal
  readonly timeoutMs: number
  /** Pause between checks. @default 5000 */
  readonly intervalMs?: number
  readonly onStatus?: (status: string, elapsedMs: number) => void
}

export interface ResolvedAmi {
  readonly amiId: string
  readonly name?: string
  readonly rootDeviceName: string
  /** Size of the root snapshot; the root volume may not be smaller. */
  readonly rootSnapshotGb?: number
}

/** Reads the public SSM parameter and checks that the AMI exists in the region. */
export async function resolveAmi(ssm: SSMClient, ec2: EC2Client, parameter: string, region: string): Promise<ResolvedAmi> {
  const amiId = await callAws({ service: 'ssm', operation: 'GetParameter', resource: parameter }, async () => {
    try {
      return (await ssm.send(new GetParameterCommand({ Name: parameter }))).Parameter?.Value
    } catch (e) {
      if (isNotFound(e)) {
        throw new UserError('AmiParameterNotFound', `The AMI parameter ${parameter} does not exist in ${region}.`, {
          hint:
            'Deep Learning AMI lines are retired as PyTorch versions move on. List the current ones with ' +
            `\`aws ssm get-parameters-by-path --path /aws/service/deeplearning/ami/x86_64/ --recursive --region ${region} --query "Parameters[?contains(Name,'pytorch')].Name"\`` +
            ' and set ec2.amiParameter.',
          cause: e,
        })
      }
      throw e
    }
  })
  if (!amiId || !/^ami-[0-9a-f]+$/.test(amiId)) {
    throw new UserError('AmiParameterInvalid', `The SSM parameter ${parameter} does not hold an AMI id (got "${amiId ?? ''}").`, {
      hint: 'Set ec2.amiParameter to a Deep Learning AMI path ending in /latest/ami-id.',
    })
  }
  const image = await callAws({ service: 'ec2', operation: 'DescribeImages', resource: amiId }, async () => {
    try {
      return (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0]
    } catch (e) {
      if (isAwsErrorNamed(e, 'InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable', 'InvalidAMIID.Malformed')) return undefined
      throw e
    }
  })
  if (!image || (image.State && image.State !== 'available')) {
    throw new UserError('AmiNotAvailable', `AMI ${amiId} (from ${parameter}) is ${image?.State ?? 'not found'} in ${region}.`, {
      hint: 'Choose another Deep Learning AMI line in ec2.amiParameter, or another region.',
    })
  }
  const rootDeviceName = image.RootDeviceName ?? '/dev/sda1'
  const root = image.BlockDeviceMappings?.find((m) => m.DeviceName === rootDeviceName)
  return { amiId, name: image.Name, rootDeviceName, rootSnapshotGb: root?.Ebs?.VolumeSize }
}

/** The VPC to launch into: the subnet's, or the region's default VPC. */
export async function findVpcId(ec2: EC2Client, subnetId: string | undefined, region: string): Promise<string> {
  if (subnetId) {
    const subnet = await callAws({ service: 'ec2', operation: 'DescribeSubnets', resource: subnetId }, async () => {
      try {
        return (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets?.[0]
      } catch (e) {
        if (isAwsErrorNamed(e, 'InvalidSubnetID.NotFound')) return undefined
        throw e
      }
    })
    if (!subnet?.VpcId) {
      throw new UserError('SubnetNotFound', `Subnet ${subnetId} (ec2.subnetId) does not exist in ${region}.`, { hint: 'Check ec2.subnetId and --region.' })
    }
    return subnet.VpcId
  }
  const vpcs = await callAws({ service: 'ec2', operation: 'DescribeVpcs' }, () =>
    ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] })),
  )
  const vpcId = vpcs.Vpcs?.[0]?.VpcId
  if (!vpcId) {
    throw new UserError('NoDefaultVpc', `${region} has no default VPC to launch the training box into.`, {
      hint: 'Set ec2.subnetId to a subnet with outbound internet (or VPC endpoints for SSM, S3 and CloudWatch Logs).',
    })
  }
  return vpcId
}

export interface FoundSecurityGroup {
  readonly groupId: string
  readonly tags: readonly { Key?: string; Value?: string }[]
  /** Its inbound rules, as DescribeSecurityGroups returns them (to revoke them as they are). */
  readonly ingress: readonly IpPermission[]
}

/** The group with this name in the VPC, or undefined. */
export async function findSecurityGroup(ec2: EC2Client, groupName: string, vpcId: string): Promise<FoundSecurityGroup | undefined> {
  const found = await callAws({ service: 'ec2', operation: 'DescribeSecurityGroups', resource: groupName }, () =>
    ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'group-name', Values: [groupName] },
          { Name: 'vpc-id', Values: [vpcId] },
        ],
      }),
    ),
  )
  const group = found.SecurityGroups?.[0]
  if (!group?.GroupId) return undefined
  return { groupId: group.GroupId, tags: group.Tags ?? [], ingress: group.IpPermissions ?? [] }
}

/** Removes these inbound rules from the group. */
export async function revokeIngress(ec2: EC2Client, groupId: string, rules: readonly IpPermission[]): Promise<void> {
  await callAws({ service: 'ec2', operation: 'RevokeSecurityGroupIngress', resource: groupId }, () =>
    ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [...rules] })),
  )
}

/** CreateSecurityGroup; returns the new group id. */
export async function createSecurityGroup(ec2: EC2Client, input: CreateSecurityGroupCommandInput): Promise<string> {
  const created = await callAws({ service: 'ec2', operation: 'CreateSecurityGroup', resource: input.GroupName }, () =>
    ec2.send(new CreateSecurityGroupCommand(input)),
  )
  return created.GroupId!
}

const CAPACITY_ERRORS = ['InsufficientInstanceCapacity', 'SpotMaxPriceTooLow', 'MaxSpotInstanceCountExceeded', 'InsufficientCapacity']

/** RunInstances with bounded retries while a new instance profile propagates, and capacity errors explained. */
export async function launchInstance(
  ec2: EC2Client,
  input: RunInstancesCommandInput,
  opts: { clock: Clock; signal?: AbortSignal; onRetry?: (attempt: number) => void },
): Promise<{ instanceId: string; state: string }> {
  const spot = input.InstanceMarketOptions?.MarketType === 'spot'
  const type = String(input.InstanceType)
  try {
    const out = await retryWhileIamPropagates(() => ec2.send(new RunInstancesCommand(input)), {
      clock: opts.clock,
      signal: opts.signal,
      onRetry: (attempt) => opts.onRetry?.(attempt),
    })
    const inst = out.Instances?.[0]
    if (!inst?.InstanceId) throw new OperationError('LaunchFailed', 'RunInstances answered without an instance.')
    return { instanceId: inst.InstanceId, state: inst.State?.Name ?? 'pending' }
  } catch (e) {
    throw translateLaunchError(e, type, spot)
  }
}

/** Capacity and quota errors of RunInstances, with what to do next. Others go through callAws's translation. */
export function translateLaunchError(e: unknown, instanceType: string, spot: boolean): unknown {
  const name = (e as { name?: string })?.name ?? ''
  const message = ((e as { message?: string })?.message ?? '').split('\n')[0]
  if (CAPACITY_ERRORS.includes(name)) {
    const what = spot ? `No ${instanceType} spot capacity` : `No ${instanceType} capacity`
    return new AwsError('NoCapacity', `${what} right now (${name}): ${message}`, {
      hint: spot
        ? `Retry in a few minutes, choose another type (--instance-type g5.xlarge) or subnet/AZ (ec2.subnetId), or run without --spot. Nothing was launched.`
        : 'Retry in a few minutes, or choose another type (--instance-type) or subnet/AZ (ec2.subnetId). Nothing was launched.',
      cause: e,
      requestId: (e as { $metadata?: { requestId?: string } }).$metadata?.requestId,
    })
  }
  if (name === 'VcpuLimitExceeded' || name === 'InstanceLimitExceeded') {
    return new AwsError('QuotaExceeded', `Your account's vCPU quota does not allow a ${instanceType}${spot ? ' spot instance' : ''}: ${message}`, {
      hint: `Request an increase in the Service Quotas console ("Running On-Demand G and VT instances" or "All G and VT Spot Instance Requests" for g types; the P quotas for p types). New accounts start at 0. Nothing was launched.`,
      cause: e,
    })
  }
  // Everything else gets the shared translation (access denied, credentials, throttling).
  return translateAwsError(e, { service: 'ec2', operation: 'RunInstances', resource: instanceType })
}

export interface InstanceStatus {
  readonly state: string
  /** Why it changed state ("Server.SpotInstanceTermination: ..."), when AWS says. */
  readonly reason?: string
  /**
   * DescribeInstances answered InvalidInstanceID.NotFound (state is then 'terminated'). Right after
   * RunInstances this is EC2's eventual consistency, not an ended box: the caller decides.
   */
  readonly notFound?: true
}

/**
 * How long after RunInstances a NotFound answer is read as "not visible yet" rather than "gone".
 * botocore's InstanceRunning waiter retries on InvalidInstanceID.NotFound for its whole wait; two
 * minutes covers the propagation delays EC2 documents while still failing fast on a box that vanished.
 */
export const LAUNCH_NOT_FOUND_GRACE_MS = 120_000

/** The instance's state; 'terminated' (with `notFound`) when AWS does not know it. */
export async function describeInstanceState(ec2: EC2Client, instanceId: string): Promise<InstanceStatus> {
  return callAws({ service: 'ec2', operation: 'DescribeInstances', resource: instanceId }, async () => {
    try {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))
      const inst = out.Reservations?.[0]?.Instances?.[0]
      if (!inst) return { state: 'terminated' }
      const reason = inst.StateReason?.Message || inst.StateTransitionReason || undefined
      return { state: inst.State?.Name ?? 'unknown', ...(reason ? { reason } : {}) }
    } catch (e) {
      if (isNotFound(e)) return { state: 'terminated', notFound: true }
      throw e
    }
  })
}

/**
 * Waits for `running`; fails at once when the instance ends instead (spot reclaimed, boot failure).
 * A NotFound answer within `notFoundGraceMs` of the start is the launch not being visible yet, as
 * in botocore's waiter: reading it as "terminated" would fail the run and tear down a healthy box.
 */
export async function waitForInstanceRunning(ec2: EC2Client, instanceId: string, opts: WaitOptions & { readonly notFoundGraceMs?: number }): Promise<void> {
  const start = opts.clock.now()
  const graceMs = opts.notFoundGraceMs ?? LAUNCH_NOT_FOUND_GRACE_MS
  await pollUntil({
    what: `instance ${instanceId} to be running`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 5000,
    onStatus: opts.onStatus,
    check: async () => {
      const s = await describeInstanceState(ec2, instanceId)
      if (s.notFound && opts.clock.now() - start < graceMs) return { done: false, value: undefined, status: 'launched, not yet visible to DescribeInstances' }
      if (s.state === 'shutting-down' || s.state === 'terminated' || s.state === 'stopped' || s.state === 'stopping') {
        throw new OperationError('InstanceEnded', `Instance ${instanceId} is ${s.state} before training started${s.reason ? `: ${s.reason}` : ''}.`, {
          hint: 'For spot, capacity may have been reclaimed: retry, or run without --spot.',
        })
      }
      return { done: s.state === 'running', value: undefined, status: s.state }
    },
  })
}

/** Terminates the box and waits (bounded) until AWS reports it shutting down or terminated. */
export async function terminateInstance(ec2: EC2Client, instanceId: string, opts: Omit<WaitOptions, 'signal'>): Promise<{ state: string }> {
  await callAws({ service: 'ec2', operation: 'TerminateInstances', resource: instanceId }, async () => {
    try {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }))
    } catch (e) {
      if (!isAwsErrorNamed(e, 'InvalidInstanceID.NotFound')) throw e
    }
  })
  let last = 'shutting-down'
  try {
    // No abort signal: this runs during cleanup, often because the user pressed Ctrl-C.
    await pollUntil({
      what: `instance ${instanceId} to terminate`,
      clock: opts.clock,
      timeoutMs: opts.timeoutMs,
      intervalMs: opts.intervalMs ?? 5000,
      onStatus: opts.onStatus,
      check: async () => {
        last = (await describeInstanceState(ec2, instanceId)).state
        return { done: last === 'terminated', value: undefined, status: last }
      },
    })
  } catch (e) {
    // Shutting down is enough: billing stops and it is on its way out; anything else is a failure.
    if (!(e instanceof OperationError && e.code === 'DeadlineReached' && last === 'shutting-down')) throw e
  }
  return { state: last }
}
