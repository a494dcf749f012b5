import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import {
  AddRoleToInstanceProfileCommand,
  AttachRolePolicyCommand,
  CreateInstanceProfileCommand,
  CreateRoleCommand,
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam'
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, GetParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { sdkMock } from '../helpers/mock-sdk.js'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory } from '../helpers/aws.js'

/**
 * Stateful fakes for what moto cannot show: training that takes a while and streams output,
 * a command that fails, Ctrl-C mid-training, an agent that never comes online, capacity errors
 * and a termination that fails. EC2 keeps an instance state machine so cleanup is observable.
 */

const ec2Mock = sdkMock(EC2Client)
const ssmMock = sdkMock(SSMClient)
const iamMock = sdkMock(IAMClient)
const s3Mock = sdkMock(S3Client)
const stsMock = sdkMock(STSClient)
const logsMock = sdkMock(CloudWatchLogsClient)

const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} })
const factory = fakeAwsFactory()

/** The instance's life as EC2 would report it. */
let instanceState: string
/** Lines the "box" has written to CloudWatch so far, per stream. */
let stdoutEvents: string[]
let stderrEvents: string[]

function happyPath() {
  instanceState = 'none'
  stdoutEvents = []
  stderrEvents = []
  stsMock.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' })
  ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0abc1234' } })
  ec2Mock.on(DescribeImagesCommand).resolves({
    Images: [
      {
        ImageId: 'ami-0abc1234',
        State: 'available',
        Name: 'Deep Learning OSS Nvidia Driver AMI GPU PyTorch 2.9 (Ubuntu 24.04)',
        RootDeviceName: '/dev/sda1',
        BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 75 } }],
      },
    ],
  })
  s3Mock.on(ListObjectsV2Command).resolves({ KeyCount: 1, Contents: [{ Key: 'data/train/001.A/1.jpg' }] })
  s3Mock.on(HeadObjectCommand).resolves({})
  iamMock.on(GetRoleCommand).rejects(awsError('NoSuchEntityException'))
  iamMock.on(CreateRoleCommand).resolves({ Role: { Arn: 'arn:aws:iam::123456789012:role/dogs-ec2' } as never })
  iamMock.on(PutRolePolicyCommand).resolves({})
  iamMock.on(AttachRolePolicyCommand).resolves({})
  iamMock.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntityException'))
  iamMock.on(CreateInstanceProfileCommand).resolves({ InstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/dogs-ec2', Roles: [] } as never })
  iamMock.on(AddRoleToInstanceProfileCommand).resolves({})
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1' }] })
  ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] })
  ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-1' })
  logsMock.on(CreateLogGroupCommand).resolves({})
  logsMock.on(PutRetentionPolicyCommand).resolves({})
  ec2Mock.on(RunInstancesCommand).callsFake(() => {
    instanceState = 'pending'
    return { Instances: [{ InstanceId: 'i-0abc', State: { Name: 'pending' } }] }
  })
  ec2Mock.on(DescribeInstancesCommand).callsFake(() => {
    const current = instanceState
    // pending -> running on the next look; shutting-down -> terminated likewise.
    if (instanceState === 'pending') instanceState = 'running'
    if (instanceState === 'shutting-down') instanceState = 'terminated'
    return { Reservations: [{ Instances: [{ InstanceId: 'i-0abc', State: { Name: current } }] }] }
  })
  ec2Mock.on(TerminateInstancesCommand).callsFake(() => {
    instanceState = 'shutting-down'
    return { TerminatingInstances: [{ InstanceId: 'i-0abc', CurrentState: { Name: 'shutting-down' } }] }
  })
  ssmMock.on(DescribeInstanceInformationCommand).callsFake(() => ({
    InstanceInformationList: instanceState === 'running' ? [{ InstanceId: 'i-0abc', PingStatus: 'Online' }] : [],
  }))
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
  logsMock.on(GetLogEventsCommand).callsFake((input: { logStreamName: string; nextToken?: string }) => {
    const events = input.logStreamName.endsWith('/stdout') ? stdoutEvents : stderrEvents
    if (events.length === 0) throw awsError('ResourceNotFoundException', 'The specified log stream does not exist.')
    const from = input.nextToken ? Number(input.nextToken.slice(2)) : 0
    return { events: events.slice(from).map((message, i) => ({ message, timestamp: from + i })), nextForwardToken: `f/${events.length}` }
  })
}

/** A training run that prints over three polls, then ends with `final` (printing `lastLines` as it ends). */
function trainingRun(final: { Status: string; ResponseCode?: number; StatusDetails?: string }, extra: () => void = () => undefined, lastLines: string[] = []) {
  let polls = 0
  const fake = () => {
    polls++
    extra()
    if (polls === 1) throw awsError('InvocationDoesNotExist')
    if (polls === 2) {
      stdoutEvents.push('mlops: downloading s3://dogs-data/dogs/code/x/sourcedir.tar.gz', 'mlops: training on 1 GPU(s)')
      stderrEvents.push('training resnet50 (2 classes) on 1 x cuda')
    }
    if (polls === 3)
      stdoutEvents.push(
        'epoch=1 train_loss=0.912 val_loss=0.805 val_accuracy=0.771 images_per_sec=412.5\nepoch=2 train_loss=0.5 val_loss=0.41 val_accuracy=0.871 images_per_sec=420.1',
      )
    if (polls < 4) return { Status: 'InProgress', ResponseCode: -1 }
    if (final.Status === 'Success') stdoutEvents.push('test_accuracy=0.802 test_loss=0.731', 'MLOPS_MODEL_ARTIFACT=s3://dogs-data/output/x/output/model.tar.gz')
    if (polls === 4) stdoutEvents.push(...lastLines)
    return { ...final, StandardOutputContent: '', StandardErrorContent: '' }
  }
  ssmMock.on(GetCommandInvocationCommand).callsFake(fake)
  return fake
}

async function project() {
  return tempProject(minimalConfig('training:\n  hyperparameters:\n    epochs: 2\n'), { 'scripts/train.py': 'print("train")\n' })
}

async function readState(dir: string) {
  return JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
    resources: { kind: string; name: string; details?: Record<string, unknown> }[]
  }
}

beforeEach(happyPath)

describe('train-ec2 with stateful fakes', () => {
  it('launches, streams output and metrics live, terminates the box and records the model', async () => {
    trainingRun({ Status: 'Success', ResponseCode: 0 })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--json', '--timeout', '1h'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(res.stderr).not.toMatch(/✖/)
    expect(res.code).toBe(0)
    const out = res.json()
    expect(out).toMatchObject({
      dryRun: false,
      status: 'Completed',
      instanceId: 'i-0abc',
      instanceType: 'g4dn.xlarge',
      amiId: 'ami-0abc1234',
      commandId: 'cmd-1',
      metrics: { epoch: 2, val_accuracy: 0.871, val_loss: 0.41, test_accuracy: 0.802 },
      instance: { state: 'terminated', kept: false },
      outputStreamed: true,
      logGroup: '/mlops/dogs/train-ec2',
    })
    expect(out.modelArtifact).toMatch(/^s3:\/\/dogs-data\/output\/dogs-ec2-[\d-]+\/output\/model\.tar\.gz$/)
    expect(out.estimatedCostUsd).toBeGreaterThan(0)

    // Live lines reached the user as they came (stderr), metrics formatted.
    expect(res.stderr).toContain('  mlops: training on 1 GPU(s)')
    expect(res.stderr).toContain('epoch 2  train_loss 0.5  val_loss 0.41  val_accuracy 0.871  images_per_sec 420.1')
    expect(res.stderr).toContain('g4dn.xlarge: $0.53/hour on-demand. Dead-man switch at 4h, so at most $2.10.')
    expect(res.stderr).toMatch(/Runtime \d+\w*, estimated cost \$\d/)
    expect(res.stderr).toContain('Instance i-0abc terminated.')

    expect(ec2Mock).toHaveReceivedCommandWith(RunInstancesCommand, {
      ImageId: 'ami-0abc1234',
      InstanceType: 'g4dn.xlarge',
      IamInstanceProfile: { Name: 'dogs-ec2' },
      SecurityGroupIds: ['sg-1'],
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { VolumeSize: 100, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } }],
      InstanceInitiatedShutdownBehavior: 'terminate',
    })
    const sent = ssmMock.commandCalls(SendCommandCommand)[0].args[0].input
    expect(sent).toMatchObject({
      InstanceIds: ['i-0abc'],
      DocumentName: 'AWS-RunShellScript',
      Parameters: { executionTimeout: ['3600'] },
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/mlops/dogs/train-ec2' },
    })
    expect(sent.Parameters!.commands!.join('\n')).toContain(`'--epochs' '2'`)
    expect(JSON.parse(iamMock.commandCalls(CreateRoleCommand)[0].args[0].input.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    })
    expect(ec2Mock).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1)
    // The agent was online before the command went out.
    expect(ssmMock).toHaveReceivedCommand(DescribeInstanceInformationCommand)

    const state = await readState(dir)
    const kinds = state.resources.map((r) => r.kind).sort()
    expect(kinds).toEqual(['instance-profile', 'model-artifact', 'role', 'security-group'])
    expect(state.resources.find((r) => r.kind === 'model-artifact')).toMatchObject({
      name: out.modelArtifact,
      details: { source: 'ec2', jobName: out.runName, metrics: { val_accuracy: 0.871 } },
    })
    expect(state.resources.find((r) => r.kind === 'role')).toMatchObject({ name: 'dogs-ec2', details: { purpose: 'ec2' } })
    expect(state.resources.find((r) => r.kind === 'security-group')).toMatchObject({ name: 'sg-1', details: { groupName: 'dogs-train-ec2' } })
  })

  it('a failed command names the step, still terminates the box, records no model and exits 1', async () => {
    trainingRun({ Status: 'Failed', ResponseCode: 2 }, undefined, ['mlops: step "train" failed with exit code 2'])
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('✖ Training on i-0abc failed with exit code 2 in step "train".')
    expect(res.stderr).toContain('aws logs tail /mlops/dogs/train-ec2 --log-stream-name-prefix cmd-1/i-0abc --region us-east-1')
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(res.stderr).toContain('Instance i-0abc terminated.')
    expect((await readState(dir)).resources.map((r) => r.kind)).not.toContain('model-artifact')
    expect((await readState(dir)).resources.map((r) => r.kind)).not.toContain('instance')
  })

  it('Ctrl-C mid-training terminates the instance and exits 130', async () => {
    const ctrl = new AbortController()
    trainingRun({ Status: 'Success' }, () => {
      if (stdoutEvents.length > 0) ctrl.abort() // the user presses Ctrl-C once output is flowing
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory, signal: ctrl.signal })
    expect(res.code).toBe(130)
    expect(res.stderr).toContain('Interrupted: instance i-0abc is terminated.')
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(instanceState).toBe('terminated')
    expect((await readState(dir)).resources.map((r) => r.kind)).not.toContain('model-artifact')
  })

  it('Ctrl-C during setup launches nothing', async () => {
    const ctrl = new AbortController()
    iamMock.on(CreateRoleCommand).callsFake(() => {
      ctrl.abort()
      return { Role: { Arn: 'arn:aws:iam::123456789012:role/dogs-ec2' } }
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory, signal: ctrl.signal })
    expect(res.code).toBe(130)
    expect(res.stderr).toContain('Interrupted before launch: nothing is running.')
    expect(ec2Mock).not.toHaveReceivedCommand(RunInstancesCommand)
  })

  it('an agent that never comes online ends in a timeout message and termination', async () => {
    ssmMock.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('✖ The SSM agent on i-0abc did not come online within 10m.')
    expect(res.stderr).toMatch(/hint: Usual causes: no outbound HTTPS .* aws ec2 get-console-output --instance-id i-0abc --region us-east-1/)
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand)
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(instanceState).toBe('terminated')
  })

  it('spot capacity errors give a clear message, and nothing is left to clean up', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(awsError('InsufficientInstanceCapacity', 'There is no Spot capacity available that matches your request.'))
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--spot'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(
      '✖ No g4dn.xlarge spot capacity right now (InsufficientInstanceCapacity): There is no Spot capacity available that matches your request.',
    )
    expect(res.stderr).toContain(
      'hint: Retry in a few minutes, choose another type (--instance-type g5.xlarge) or subnet/AZ (ec2.subnetId), or run without --spot. Nothing was launched.',
    )
    expect(ec2Mock).toHaveReceivedCommandWith(RunInstancesCommand, {
      InstanceMarketOptions: { MarketType: 'spot', SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' } },
    })
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand)
  })

  it('retries RunInstances while a new instance profile propagates through IAM', async () => {
    ec2Mock
      .on(RunInstancesCommand)
      .rejectsOnce(awsError('InvalidParameterValue', 'Value (dogs-ec2) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name'))
      .callsFake(() => {
        instanceState = 'pending'
        return { Instances: [{ InstanceId: 'i-0abc', State: { Name: 'pending' } }] }
      })
    trainingRun({ Status: 'Success', ResponseCode: 0 })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(0)
    expect(ec2Mock).toHaveReceivedCommandTimes(RunInstancesCommand, 2)
    expect(res.stderr).toContain('Waiting for the new instance profile to propagate in IAM (attempt 2)')
  })

  it('when termination fails, prints the exact terminate command and exits 1', async () => {
    trainingRun({ Status: 'Success', ResponseCode: 0 })
    ec2Mock.on(TerminateInstancesCommand).rejects(awsError('UnauthorizedOperation', 'You are not authorized to perform this operation.'))
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--json'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('hint: Terminate it now: aws ec2 terminate-instances --instance-ids i-0abc --region us-east-1')
    expect(res.json().error).toMatchObject({
      code: 'TerminateFailed',
      details: { terminateCommand: 'aws ec2 terminate-instances --instance-ids i-0abc --region us-east-1' },
    })
    // The box is still recorded, so status and teardown find it.
    expect((await readState(dir)).resources.find((r) => r.kind === 'instance')).toMatchObject({ name: 'i-0abc' })
  })

  it('--keep leaves the box running, with its hourly cost and the command to end it', async () => {
    trainingRun({ Status: 'Success', ResponseCode: 0 })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--keep', '--max-hours', '2', '--timeout', '1h'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(0)
    expect(ec2Mock).not.toHaveReceivedCommand(TerminateInstancesCommand)
    expect(res.stderr).toMatch(
      /--keep: i-0abc is still running at \$0\.53\/hour until \S+ \(dead-man switch\)\. End it with:\n {2}aws ec2 terminate-instances --instance-ids i-0abc --region us-east-1/,
    )
    expect(res.stdout).toContain('still running (--keep), $0.53/hour; terminate: aws ec2 terminate-instances --instance-ids i-0abc --region us-east-1')
    expect(Buffer.from(ec2Mock.commandCalls(RunInstancesCommand)[0].args[0].input.UserData!, 'base64').toString()).toBe('#!/bin/bash\nshutdown -h +120\n')
    expect((await readState(dir)).resources.find((r) => r.kind === 'instance')).toMatchObject({ name: 'i-0abc', details: { state: 'running', kept: true } })
  })

  it('an instance that disappears mid-run (spot reclaimed) stops the wait with the reason', async () => {
    ssmMock.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' })
    let looks = 0
    ec2Mock.on(DescribeInstancesCommand).callsFake(() => {
      looks++
      if (instanceState === 'pending') instanceState = 'running'
      else if (instanceState === 'running' && looks > 3) instanceState = 'terminated'
      else if (instanceState === 'shutting-down') instanceState = 'terminated'
      return {
        Reservations: [
          {
            Instances: [
              {
                InstanceId: 'i-0abc',
                State: { Name: instanceState },
                StateReason: { Code: 'Server.SpotInstanceTermination', Message: 'Server.SpotInstanceTermination: Spot instance termination' },
              },
            ],
          },
        ],
      }
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--spot'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('✖ Instance i-0abc is terminated (Server.SpotInstanceTermination: Spot instance termination); training cannot go on.')
    expect(res.stderr).toContain('hint: Spot capacity was probably reclaimed')
  })

  it('keeps following through throttling and network blips instead of killing the training', async () => {
    const training = trainingRun({ Status: 'Success', ResponseCode: 0 })
    let calls = 0
    ssmMock.on(GetCommandInvocationCommand).callsFake(() => {
      calls++
      if (calls === 3) throw awsError('ThrottlingException', 'Rate exceeded')
      if (calls === 4) throw Object.assign(awsError('ECONNRESET', 'socket hang up'), { $metadata: { httpStatusCode: 503 } })
      return training()
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code, res.stderr).toBe(0)
    expect(res.stderr).toContain('Status check failed, retrying after: ssm:GetCommandInvocation was throttled by AWS even after retries.')
    expect(res.stderr).toContain('Status check failed, retrying after: socket hang up')
    expect(res.stdout).toContain('completed on i-0abc')
    expect(ec2Mock).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1)
  })

  it('a command that runs past --timeout is reported as a timeout, and the box is terminated', async () => {
    trainingRun({ Status: 'TimedOut', ResponseCode: -1, StatusDetails: 'ExecutionTimedOut' })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--timeout', '30m'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('✖ Training on i-0abc exceeded --timeout 30m and was stopped.')
    expect(ec2Mock).toHaveReceivedCommand(TerminateInstancesCommand)
  })

  it('checks data before launching anything', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({ KeyCount: 0 })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('✖ No train data under s3://dogs-data/data/train/.')
    expect(ec2Mock).not.toHaveReceivedCommand(RunInstancesCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it('removes inbound rules someone added to the reused security group', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: 'sg-9',
          GroupName: 'dogs-train-ec2',
          Tags: [{ Key: 'mlops:project', Value: 'dogs' }],
          IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
        },
      ],
    })
    trainingRun({ Status: 'Success', ResponseCode: 0 })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(0)
    expect(ec2Mock).not.toHaveReceivedCommand(CreateSecurityGroupCommand)
    expect(ec2Mock).toHaveReceivedCommandWith(RevokeSecurityGroupIngressCommand, {
      GroupId: 'sg-9',
      IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    })
    expect(ec2Mock).toHaveReceivedCommandWith(RunInstancesCommand, { SecurityGroupIds: ['sg-9'] })
  })

  it('an AMI parameter that no longer exists is a config error, before anything is created', async () => {
    ssmMock.on(GetParameterCommand).rejects(awsError('ParameterNotFound'))
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/✖ The AMI parameter \/aws\/service\/deeplearning\/ami\/.* does not exist in us-east-1\./)
    expect(res.stderr).toContain('aws ssm get-parameters-by-path --path /aws/service/deeplearning/ami/x86_64/')
    expect(iamMock).not.toHaveReceivedCommand(CreateRoleCommand)
  })

  it('without --yes and without a terminal it asks for confirmation and launches nothing', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(2)
    expect(res.stderr).toContain('this needs confirmation')
    expect(ec2Mock).not.toHaveReceivedCommand(RunInstancesCommand)
  })

  it('on a terminal, declining the cost prompt changes nothing', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2'], { cwd: dir, awsFactory: factory, answers: ['n'] })
    expect(res.stderr).toContain('Launch a g4dn.xlarge instance for up to 4h (at most $2.10)? [y/N]')
    expect(res.code).toBe(1)
    expect(stsMock).not.toHaveReceivedCommand(GetCallerIdentityCommand)
    expect(ec2Mock).not.toHaveReceivedCommand(RunInstancesCommand)
  })
})

describe('train-ec2 flags and dry run', () => {
  it('--dry-run prints the launch and command requests offline, with no credentials', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2', '--dry-run', '--json', '--spot', '--max-hours', '2', '--timeout', '90m'], { cwd: dir, env: OFFLINE_ENV })
    expect(res.code).toBe(0)
    const out = res.json()
    expect(out).toMatchObject({ dryRun: true, instanceType: 'g4dn.xlarge', spot: true, maxHours: 2, timeoutSeconds: 5400, hourlyUsd: 0.526 })
    const ops = out.operations as { service: string; operation: string; input: any }[]
    const run = ops.find((o) => o.operation === 'RunInstances')!.input
    expect(run).toMatchObject({
      ImageId: '<ami-id-from-ssm>',
      SecurityGroupIds: ['<security-group-id>'],
      MetadataOptions: { HttpTokens: 'required' },
      InstanceInitiatedShutdownBehavior: 'terminate',
      InstanceMarketOptions: { MarketType: 'spot' },
    })
    expect(run).not.toHaveProperty('KeyName')
    const send = ops.find((o) => o.operation === 'SendCommand')!.input
    expect(send).toMatchObject({ DocumentName: 'AWS-RunShellScript', InstanceIds: ['<instance-id>'], Parameters: { executionTimeout: ['5400'] } })
    expect(send.Parameters.commands.join('\n')).toMatch(/'--code-uri' 's3:\/\/dogs-data\/dogs\/code\/[0-9a-f]{64}\/sourcedir.tar.gz'/)
    // The runner and the parameters it would get, as data.
    expect(out.runner).toEqual({
      script: 'scripts/ec2/train.sh',
      parameters: {
        runName: out.runName,
        region: 'us-east-1',
        codeUri: expect.stringMatching(/^s3:\/\/dogs-data\/dogs\/code\/[0-9a-f]{64}\/sourcedir\.tar\.gz$/),
        channels: { train: 's3://dogs-data/data/train', valid: 's3://dogs-data/data/valid', test: 's3://dogs-data/data/test' },
        entryPoint: 'train.py',
        pythonPath: '/opt/pytorch/bin/python',
        hyperparameters: { epochs: 2 },
        distribution: 'auto',
        artifactUri: out.modelArtifact,
        outputDataUri: out.modelArtifact.replace(/model\.tar\.gz$/, 'output.tar.gz'),
      },
    })
    expect(ops.map((o) => `${o.service}:${o.operation}`)).toEqual(
      expect.arrayContaining(['iam:CreateRole', 'iam:AttachRolePolicy', 'ec2:CreateSecurityGroup', 'ec2:TerminateInstances']),
    )
    expect(ops.indexOf(ops.find((o) => o.operation === 'RunInstances')!)).toBeLessThan(ops.indexOf(ops.find((o) => o.operation === 'SendCommand')!))
  })

  it('--dry-run renders a readable plan', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^Dry run: train-ec2 dogs-ec2-/)
    expect(res.stdout).toContain('ec2 RunInstances  — user data: shutdown -h +240 (the box terminates itself)')
    expect(res.stdout).toContain('ec2 TerminateInstances  — always, also on failure, timeout and Ctrl-C')
  })

  it('rejects bad flags with exit 2 before any AWS call', async () => {
    const dir = await project()
    for (const [args, msg] of [
      [['--instance-type', 'ml.g4dn.xlarge'], '--instance-type: expected an EC2 instance type such as g4dn.xlarge (no ml. prefix), got "ml.g4dn.xlarge".'],
      [['--max-hours', '0'], '--max-hours: must be more than 0 hours, got "0".'],
      [['--timeout', 'tomorrow'], '--timeout: "tomorrow" is not a duration'],
      [['--timeout', '5h', '--max-hours', '4'], '--timeout 5h is longer than --max-hours 4'],
    ] as const) {
      const res = await runMlops(['train-ec2', '--yes', ...args], { cwd: dir, awsFactory: factory })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toContain(msg)
    }
    expect(stsMock).not.toHaveReceivedCommand(GetCallerIdentityCommand)
  })
})
