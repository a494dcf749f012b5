import type { CreateSecurityGroupCommandInput, RunInstancesCommandInput } from '@aws-sdk/client-ec2'
import type { SendCommandCommandInput } from '@aws-sdk/client-ssm'
import { projectTags } from '../../shared/naming.js'

/**
 * The exact requests `train-ec2` sends, built without AWS so --dry-run prints them and tests
 * check them directly. The security posture lives here: no key pair, no inbound rules, IMDSv2
 * only, encrypted root volume, terminate on shutdown, and a dead-man switch in the user data.
 */

/** SSM document that runs shell commands on Linux. */
export const RUN_SHELL_SCRIPT = 'AWS-RunShellScript'
/** How long SSM may take to deliver the command to the agent (not an execution limit). */
export const DELIVERY_TIMEOUT_SECONDS = 600

/** Where the run's model and output data go: the same shape as a SageMaker job's. */
export function runOutputUris(bucket: string, outputPrefix: string, runName: string): { model: string; outputData: string; prefix: string } {
  const prefix = `s3://${bucket}/${outputPrefix}/${runName}/output`
  return { model: `${prefix}/model.tar.gz`, outputData: `${prefix}/output.tar.gz`, prefix }
}

/** Minutes until the dead-man switch fires. */
export function deadManMinutes(maxHours: number): number {
  return Math.max(1, Math.ceil(maxHours * 60))
}

/**
 * First-boot user data: schedule a shutdown, which `InstanceInitiatedShutdownBehavior: terminate`
 * turns into termination, so the box ends even if the laptop that launched it disappears.
 */
export function userDataScript(maxHours: number): string {
  return `#!/bin/bash\nshutdown -h +${deadManMinutes(maxHours)}\n`
}

export interface LaunchSpec {
  readonly project: string
  readonly runName: string
  readonly instanceType: string
  readonly spot: boolean
  readonly amiId: string
  /** The AMI's root device (from DescribeImages), so the mapping resizes and encrypts the root volume. */
  readonly rootDeviceName: string
  readonly volumeSizeGb: number
  readonly subnetId?: string
  readonly securityGroupId: string
  readonly instanceProfileName: string
  readonly maxHours: number
}

/** Tags on the instance and its volume: the project tags plus a Name and the run. */
export function launchTags(project: string, runName: string): { Key: string; Value: string }[] {
  return [...projectTags(project), { Key: 'Name', Value: runName }, { Key: 'mlops:run', Value: runName }]
}

/** RunInstances input. No KeyName: nobody logs in; SSM is the only way in. */
export function buildRunInstancesInput(s: LaunchSpec): RunInstancesCommandInput {
  const tags = launchTags(s.project, s.runName)
  return {
    ImageId: s.amiId,
    InstanceType: s.instanceType as RunInstancesCommandInput['InstanceType'],
    MinCount: 1,
    MaxCount: 1,
    IamInstanceProfile: { Name: s.instanceProfileName },
    SecurityGroupIds: [s.securityGroupId],
    ...(s.subnetId ? { SubnetId: s.subnetId } : {}),
    // IMDSv2 only: a stolen-credentials SSRF needs the PUT token; hop limit 1 keeps it on the host.
    MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    BlockDeviceMappings: [{ DeviceName: s.rootDeviceName, Ebs: { VolumeSize: s.volumeSizeGb, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
    InstanceInitiatedShutdownBehavior: 'terminate',
    UserData: Buffer.from(userDataScript(s.maxHours), 'utf8').toString('base64'),
    ...(s.spot
      ? { InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } } }
      : {}),
    TagSpecifications: [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ],
    // Idempotency: a retried request (IAM propagation, network) never starts a second box.
    ClientToken: s.runName.slice(0, 64),
  }
}

/**
 * The security group: no ingress rules at all. A new group keeps AWS's default egress-all rule,
 * which the SSM agent and the AWS CLI need (outbound HTTPS to SSM, S3 and CloudWatch Logs).
 */
export function buildSecurityGroupInput(project: string, groupName: string, vpcId: string): CreateSecurityGroupCommandInput {
  return {
    GroupName: groupName,
    Description: `mlops train-ec2 for ${project}: no inbound rules (SSM only)`,
    VpcId: vpcId,
    TagSpecifications: [{ ResourceType: 'security-group', Tags: [...projectTags(project), { Key: 'Name', Value: groupName }] }],
  }
}

export interface SendCommandSpec {
  readonly instanceId: string
  readonly runName: string
  readonly commands: readonly string[]
  /** executionTimeout in seconds (at most 172800). */
  readonly timeoutSeconds: number
  readonly logGroupName: string
}

/** SendCommand input: AWS-RunShellScript with the execution timeout and live CloudWatch output. */
export function buildSendCommandInput(s: SendCommandSpec): SendCommandCommandInput {
  return {
    InstanceIds: [s.instanceId],
    DocumentName: RUN_SHELL_SCRIPT,
    Comment: `mlops train-ec2 ${s.runName}`.slice(0, 100),
    TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
    Parameters: {
      commands: [...s.commands],
      executionTimeout: [String(s.timeoutSeconds)],
    },
    // GetCommandInvocation keeps only the first 24,000 characters of output; CloudWatch keeps all of it, live.
    CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: s.logGroupName },
  }
}

/** The command a person runs to end the box by hand. */
export function terminateCommandLine(instanceId: string, region: string, extra: { profile?: string; endpointUrl?: string } = {}): string {
  return [
    `aws ec2 terminate-instances --instance-ids ${instanceId} --region ${region}`,
    extra.profile ? ` --profile ${extra.profile}` : '',
    extra.endpointUrl ? ` --endpoint-url ${extra.endpointUrl}` : '',
  ].join('')
}
