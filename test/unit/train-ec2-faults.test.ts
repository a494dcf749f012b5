import { CloudWatchLogsClient, CreateLogGroupCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2'
import { CreateInstanceProfileCommand, CreateRoleCommand, GetInstanceProfileCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam'
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, GetParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { sdkMock } from '../helpers/mock-sdk.js'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli.js'
import type { Deps } from '../../src/context.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

/**
 * train-ec2 under faults (issue 19 items 1 and 10): an abort (SIGINT, SIGTERM and SIGHUP all end
 * in the same AbortSignal) at each phase, output that breaks (EPIPE) mid-run, a run without the
 * artifact marker, and hyperparameters that cannot be passed. The box must be terminated in every
 * case where one was launched.
 */

const ec2Mock = sdkMock(EC2Client)
const ssmMock = sdkMock(SSMClient)
const iamMock = sdkMock(IAMClient)
const s3Mock = sdkMock(S3Client)
const stsMock = sdkMock(STSClient)
const logsMock = sdkMock(CloudWatchLogsClient)
const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: {} })
const factory = fakeAwsFactory()

let instanceState: string
let stdoutEvents: string[]

beforeEach(() => {
  // Anything not arranged below (PutRolePolicy, AttachRolePolicy, ...) answers {}.
  ec2Mock.onAnyCommand().resolves({})
  ssmMock.onAnyCommand().resolves({})
  iamMock.onAnyCommand().resolves({})
  s3Mock.onAnyCommand().resolves({})
  logsMock.onAnyCommand().resolves({})
  instanceState = 'none'
  stdoutEvents = []
  stsMock.on(GetCallerIdentityCommand).resolves({ Account: '123456789012' })
  ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: 'ami-0abc1234' } })
  ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0abc1234', State: 'available', RootDeviceName: '/dev/sda1' }] })
  s3Mock.on(ListObjectsV2Command).resolves({ KeyCount: 1 })
  s3Mock.on(HeadObjectCommand).resolves({})
  iamMock.on(GetRoleCommand).rejects(awsError('NoSuchEntityException'))
  iamMock.on(CreateRoleCommand).resolves({ Role: { Arn: 'arn:aws:iam::123456789012:role/dogs-ec2' } as never })
  iamMock.on(GetInstanceProfileCommand).rejects(awsError('NoSuchEntityException'))
  iamMock.on(CreateInstanceProfileCommand).resolves({ InstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/dogs-ec2' } as never })
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-1' }] })
  ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] })
  ec2Mock.on(CreateSecurityGroupCommand).resolves({ GroupId: 'sg-1' })
  logsMock.on(CreateLogGroupCommand).resolves({})
  ec2Mock.on(RunInstancesCommand).callsFake(() => {
    instanceState = 'pending'
    return { Instances: [{ InstanceId: 'i-0abc', State: { Name: 'pending' } }] }
  })
  ec2Mock.on(DescribeInstancesCommand).callsFake(() => {
    const current = instanceState
    if (instanceState === 'pending') instanceState = 'running'
    if (instanceState === 'shutting-down') instanceState = 'terminated'
    return { Reservations: [{ Instances: [{ InstanceId: 'i-0abc', State: { Name: current } }] }] }
  })
  ec2Mock.on(TerminateInstancesCommand).callsFake(() => {
    instanceState = 'shutting-down'
    return {}
  })
  ssmMock.on(DescribeInstanceInformationCommand).callsFake(() => ({
    InstanceInformationList: instanceState === 'running' ? [{ InstanceId: 'i-0abc', PingStatus: 'Online' }] : [],
  }))
  ssmMock.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } })
  logsMock.on(GetLogEventsCommand).callsFake((input: { logStreamName: string; nextToken?: string }) => {
    const events = input.logStreamName.endsWith('/stdout') ? stdoutEvents : []
    if (events.length === 0) throw awsError('ResourceNotFoundException')
    const from = input.nextToken ? Number(input.nextToken.slice(2)) : 0
    return { events: events.slice(from).map((message, i) => ({ message, timestamp: from + i })), nextForwardToken: `f/${events.length}` }
  })
})

/** The command: a few polls of output, then `final`; `onPoll` runs on each poll. */
function command(final: string, lines: string[][], onPoll: (poll: number) => void = () => undefined) {
  let poll = 0
  ssmMock.on(GetCommandInvocationCommand).callsFake(() => {
    poll++
    onPoll(poll)
    if (poll <= lines.length) {
      stdoutEvents.push(...lines[poll - 1])
      return { Status: 'InProgress' }
    }
    return { Status: final, ResponseCode: final === 'Success' ? 0 : 1 }
  })
}
const SUCCESS_LINES = [['mlops: training on 1 GPU(s)', 'epoch=1 val_loss=0.5 val_accuracy=0.8'], ['mlops: uploading the model']]
const MARKER = (uri: string) => `MLOPS_MODEL_ARTIFACT=${uri}`

const project = (hps = 'training:\n  hyperparameters:\n    epochs: 2\n') => tempProject(minimalConfig(hps), { 'scripts/train.py': 'print("train")\n' })
const kinds = async (dir: string) =>
  (JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as { resources: { kind: string }[] }).resources.map((r) => r.kind)

describe('train-ec2: an abort at any point after launch terminates the box', () => {
  const cases: [string, (ctrl: AbortController) => void][] = [
    [
      'while RunInstances answers',
      (ctrl) =>
        ec2Mock.on(RunInstancesCommand).callsFake(() => {
          ctrl.abort()
          instanceState = 'pending'
          return { Instances: [{ InstanceId: 'i-0abc', State: { Name: 'pending' } }] }
        }),
    ],
    [
      'while waiting for the SSM agent',
      (ctrl) =>
        ssmMock.on(DescribeInstanceInformationCommand).callsFake(() => {
          ctrl.abort()
          return { InstanceInformationList: [] }
        }),
    ],
    [
      'while sending the command',
      (ctrl) =>
        ssmMock.on(SendCommandCommand).callsFake(() => {
          ctrl.abort()
          return { Command: { CommandId: 'cmd-1' } }
        }),
    ],
    ['while training', (ctrl) => command('Success', SUCCESS_LINES, (poll) => poll === 2 && ctrl.abort())],
    ['while the box uploads the model', (ctrl) => command('Success', [...SUCCESS_LINES, [MARKER('x')]], (poll) => poll === 3 && ctrl.abort())],
  ]
  for (const [when, arrange] of cases) {
    it(when, async () => {
      const ctrl = new AbortController()
      command('Success', SUCCESS_LINES)
      arrange(ctrl)
      const dir = await project()
      const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory, signal: ctrl.signal, clock: fastClock() })
      expect(res.code, res.stderr).toBe(130)
      expect(res.stderr).toContain('Interrupted: instance i-0abc is terminated.')
      expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
      expect(instanceState).toBe('terminated')
      expect(await kinds(dir)).not.toContain('model-artifact')
      expect(await kinds(dir)).not.toContain('instance')
    })
  }
})

/** runCli with streams that fail like a closed pipe once `breakWhen` has been seen on stderr. */
async function runWithBrokenOutput(dir: string, breakWhen: RegExp) {
  let stderr = ''
  let broken = false
  const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' })
  const deps: Deps = {
    stdout: {
      write: () => {
        throw epipe()
      },
      isTTY: false,
    },
    stderr: {
      write: (text: string) => {
        if (broken) throw epipe()
        stderr += text
        if (breakWhen.test(text)) broken = true
        return true
      },
      isTTY: false,
    },
    stdinIsTTY: false,
    ask: async () => '',
    env: { NO_COLOR: '1', MLOPS_PREFLIGHT: 'off' }, // as runMlops: no fake answers Service Quotas or IAM simulation here
    cwd: dir,
    clock: fastClock(),
    signal: new AbortController().signal,
    awsFactory: factory,
    version: '0.0.0-test',
  }
  // With stderr gone, even the error message cannot be written: runCli may reject (the process then
  // dies non-zero); either way the box must have been terminated first.
  const code = await runCli(['train-ec2', '--yes'], deps).catch((e: unknown) => ((e as { code?: string }).code === 'EPIPE' ? 'threw' : Promise.reject(e)))
  return { code, stderr }
}

describe('train-ec2: broken output never skips cleanup', () => {
  it('stdout and stderr closed (EPIPE) once training output flows: the box is terminated and the exit is non-zero', async () => {
    command('Success', [...SUCCESS_LINES, [MARKER('x')]])
    const dir = await project()
    const res = await runWithBrokenOutput(dir, /training on 1 GPU/)
    expect(res.code).not.toBe(0)
    // Every later write failed (the terminate spinner's included), and the box was still terminated.
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(instanceState).toBe('terminated')
    expect(await kinds(dir)).not.toContain('model-artifact')
    expect(await kinds(dir)).not.toContain('instance')
  })

  it('output closed right after launch: the box is terminated', async () => {
    command('Success', SUCCESS_LINES)
    const dir = await project()
    const res = await runWithBrokenOutput(dir, /Launched i-0abc/)
    expect(res.code).not.toBe(0)
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(ssmMock).not.toHaveReceivedCommand(SendCommandCommand)
  })

  it('only stdout closed (`| head`): training finishes, the box is terminated, the result write fails non-zero', async () => {
    command('Success', SUCCESS_LINES, (poll) => poll === 3 && stdoutEvents.push(MARKER(stdoutModel)))
    let stdoutModel = ''
    ssmMock.on(SendCommandCommand).callsFake((input: { Parameters: { commands: string[] } }) => {
      stdoutModel = /'--model-uri' '([^']+)'/.exec(input.Parameters.commands.join('\n'))![1]
      return { Command: { CommandId: 'cmd-1' } }
    })
    const dir = await project()
    const res = await runWithBrokenOutput(dir, /^$ never$/)
    expect(res.code).not.toBe(0)
    expect(ec2Mock).toHaveReceivedCommandTimes(TerminateInstancesCommand, 1)
    expect(res.stderr).toContain('Instance i-0abc terminated.')
  })
})

describe('train-ec2: the artifact marker', () => {
  it('a successful command that never printed the marker records no model and exits 1', async () => {
    command('Success', SUCCESS_LINES)
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(
      /✖ Training on i-0abc ended without reporting s3:\/\/dogs-data\/output\/dogs-ec2-[\d-]+\/output\/model\.tar\.gz \(no MLOPS_MODEL_ARTIFACT= line\); no model was recorded\./,
    )
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
    expect(await kinds(dir)).not.toContain('model-artifact')
  })
})

describe('train-ec2: hyperparameters that cannot be passed safely', () => {
  for (const [yaml, message] of [
    ['"bad key": 1', 'training.hyperparameters.bad key: the name "bad key" cannot be passed as a command-line flag.'],
    ['"--lr": 1', 'training.hyperparameters.--lr: the name "--lr" cannot be passed'],
    ['note: "{{ssm:/prod/db-password}}"', 'training.hyperparameters.note: the value contains "{{"'],
    ['note: "{{resolve:secretsmanager:x}}"', 'training.hyperparameters.note: the value contains "{{"'],
    ['note: "a\\0b"', 'training.hyperparameters.note: the value contains a NUL character'],
  ] as const) {
    it(`${yaml}: exit 2 naming the key, before any AWS call`, async () => {
      const dir = await project(`training:\n  hyperparameters:\n    ${yaml}\n`)
      for (const args of [['--yes'], ['--dry-run']]) {
        const res = await runMlops(['train-ec2', ...args], { cwd: dir, awsFactory: noAwsFactory() })
        expect(res.code, res.stderr).toBe(2)
        expect(res.stderr).toContain(message)
      }
    })
  }
})

describe('train-ec2: hyperparameters outside the script’s declared ranges', () => {
  it('epochs: -3 against the bundled hyperparameters.json is exit 2 naming training.hyperparameters.epochs, before any AWS call', async () => {
    const dir = await tempProject(minimalConfig('training:\n  hyperparameters:\n    epochs: -3\n'), {
      'scripts/train.py': 'print("train")\n',
      'scripts/hyperparameters.json': await readFile(path.join(import.meta.dirname, '../../scripts/hyperparameters.json'), 'utf8'),
    })
    for (const args of [['--yes'], ['--dry-run']]) {
      const res = await runMlops(['train-ec2', ...args], { cwd: dir, awsFactory: noAwsFactory() })
      expect(res.code, res.stderr).toBe(2)
      expect(res.stderr).toContain('training.hyperparameters.epochs: must be between 1 and 1000, got -3')
    }
  })
})

describe('train-ec2: DescribeInstances right after launch (eventual consistency)', () => {
  const notFound = () => awsError('InvalidInstanceID.NotFound', "The instance ID 'i-0abc' does not exist")

  it('survives three InvalidInstanceID.NotFound answers after RunInstances: the box trains and is terminated at the end', async () => {
    command('Success', [...SUCCESS_LINES, [MARKER('s3://dogs-data/output/x/model.tar.gz')]])
    let unseen = 3
    ec2Mock.on(DescribeInstancesCommand).callsFake(() => {
      if (instanceState === 'pending' && unseen > 0) {
        unseen--
        throw notFound()
      }
      const current = instanceState
      if (instanceState === 'pending') instanceState = 'running'
      if (instanceState === 'shutting-down') instanceState = 'terminated'
      return { Reservations: [{ Instances: [{ InstanceId: 'i-0abc', State: { Name: current } }] }] }
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(res.code, res.stderr).toBe(0)
    expect(unseen).toBe(0)
    expect(res.stderr).not.toContain('before training started')
    expect(ssmMock).toHaveReceivedCommandTimes(SendCommandCommand, 1)
    expect(await kinds(dir)).toContain('model-artifact')
  })

  it('an instance still unknown after the grace period is reported as ended, and mlops still tries to terminate it', async () => {
    command('Success', SUCCESS_LINES)
    ec2Mock.on(DescribeInstancesCommand).callsFake(() => {
      if (instanceState === 'pending') throw notFound()
      return { Reservations: [{ Instances: [{ InstanceId: 'i-0abc', State: { Name: instanceState } }] }] }
    })
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('Instance i-0abc is terminated before training started')
    expect(ssmMock).toHaveReceivedCommandTimes(SendCommandCommand, 0)
    expect(ec2Mock).toHaveReceivedCommandWith(TerminateInstancesCommand, { InstanceIds: ['i-0abc'] })
  })
})
