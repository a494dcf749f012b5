import { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
  StopTrainingJobCommand,
  type DescribeTrainingJobResponse,
} from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

/**
 * What moto cannot show: jobs that stay InProgress and then fail, deadlines, Ctrl-C, throttling
 * and the live log view. Stateful fakes behind aws-sdk-client-mock, on a clock that never sleeps.
 */

const sm = sdkMock(SageMakerClient)
const s3 = sdkMock(S3Client)
const logs = sdkMock(CloudWatchLogsClient)
const factory = fakeAwsFactory()

// fastClock starts at 2026-11-22T10:00:00Z, so the job name is fixed.
const JOB = 'dogs-train-2026-11-22-10-00-00-000'
const ROLE = 'arn:aws:iam::123456789012:role/my-sagemaker-role'
const CONFIG = minimalConfig(`training:\n  roleArn: ${ROLE}\n  sourceDir: code\n  hyperparameters: { epochs: 3, arch: resnet18 }\n`)

function job(status: string, secondary: string, extra: Partial<DescribeTrainingJobResponse> = {}): DescribeTrainingJobResponse {
  return {
    TrainingJobName: JOB,
    TrainingJobStatus: status as never,
    SecondaryStatus: secondary as never,
    ResourceConfig: { InstanceCount: 2, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30 },
    StoppingCondition: { MaxRuntimeInSeconds: 7200 },
    HyperParameters: { epochs: '3', arch: '"resnet18"', sagemaker_torch_distributed_enabled: 'true' },
    CreationTime: new Date('2026-11-22T10:00:00Z'),
    ...extra,
  } as DescribeTrainingJobResponse
}

/** Two host streams; each returns its lines once, then the same token with no events (end of stream). */
function fakeLogs(lines: Record<string, string[]>) {
  logs.on(DescribeLogStreamsCommand).resolves({ logStreams: Object.keys(lines).map((h) => ({ logStreamName: `${JOB}/${h}-1763805600` })) })
  logs.on(GetLogEventsCommand).callsFake((input: { logStreamName: string; nextToken?: string }) => {
    const host = input.logStreamName.split('/')[1].replace(/-\d+$/, '')
    if (input.nextToken) return { events: [], nextForwardToken: input.nextToken }
    return { events: (lines[host] ?? []).map((message, i) => ({ message, timestamp: i })), nextForwardToken: `f/${host}/1` }
  })
}

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } })

let dir: string
beforeEach(async () => {
  s3.on(ListObjectsV2Command).resolves({ KeyCount: 1, Contents: [{ Key: 'data/train/a/1.jpg' }] })
  s3.on(HeadObjectCommand).resolves({})
  sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${JOB}` })
  logs.on(DescribeLogStreamsCommand).rejects(Object.assign(new Error('The specified log group does not exist.'), { name: 'ResourceNotFoundException' }))
  dir = await tempProject(CONFIG, { 'code/train.py': 'print("epoch=1 val_accuracy=0.5")\n' })
})

const run = (args: string[], extra: Parameters<typeof runMlops>[1] = {}) => runMlops(args, { cwd: dir, clock: fastClock(), awsFactory: factory, ...extra })

async function stateOf(kind: string) {
  const file = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
    resources: { kind: string; name: string; details: Record<string, unknown> }[]
  }
  return file.resources.filter((r) => r.kind === kind)
}

describe('train: waiting on a job', () => {
  it('a job that stays InProgress and then fails shows each status, the metric lines per host, the FailureReason, and exits 1', async () => {
    sm.on(DescribeTrainingJobCommand)
      .resolvesOnce(job('InProgress', 'Starting'))
      .resolvesOnce(job('InProgress', 'Downloading'))
      .resolvesOnce(job('InProgress', 'Training'))
      .resolvesOnce(job('InProgress', 'Training'))
      .resolves(job('Failed', 'Failed', { FailureReason: 'AlgorithmError: CUDA out of memory', BillableTimeInSeconds: 420 }))
    fakeLogs({
      'algo-1': ['Downloading data', 'epoch=1 train_loss=2.1 val_loss=1.9 val_accuracy=0.31 images_per_sec=410.5'],
      'algo-2': ['epoch=1 train_loss=2.2 val_loss=1.95 val_accuracy=0.30 images_per_sec=402.0', 'Traceback (most recent call last):'],
    })
    const r = await run(['train', '--instances', '2', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('AlgorithmError: CUDA out of memory')
    expect(r.stderr).toMatch(/Training job dogs-train-2026-11-22-10-00-00-000 failed/)
    for (const s of ['Starting', 'Downloading', 'Training']) expect(r.stderr).toContain(`${JOB}: ${s}`)
    expect(r.stderr).toContain('[algo-1] epoch=1 train_loss=2.1 val_loss=1.9 val_accuracy=0.31 images_per_sec=410.5')
    expect(r.stderr).toContain('[algo-2] epoch=1 train_loss=2.2')
    // Only metric lines without --debug.
    expect(r.stderr).not.toContain('Downloading data')
    expect(r.stderr).not.toContain('Traceback')
    const [rec] = await stateOf('training-job')
    expect(rec).toMatchObject({ name: JOB, details: { status: 'Failed', instanceCount: 2 } })
    await expect(stateOf('model-artifact')).resolves.toEqual([])
  })

  it('--json on failure carries the whole result in the error details', async () => {
    sm.on(DescribeTrainingJobCommand).resolves(job('Failed', 'Failed', { FailureReason: 'ClientError: no images', BillableTimeInSeconds: 61 }))
    const r = await run(['train', '--yes', '--json'])
    expect(r.code).toBe(1)
    expect(r.json()).toMatchObject({
      error: { code: 'TrainingFailed', details: { jobName: JOB, status: 'Failed', failureReason: 'ClientError: no images', billableSeconds: 61 } },
    })
  })

  it('a completed job reports billable seconds, the artifact and final metrics, and records the model for deploy', async () => {
    const artifact = `s3://dogs-data/output/${JOB}/output/model.tar.gz`
    sm.on(DescribeTrainingJobCommand)
      .resolvesOnce(job('InProgress', 'Training'))
      .resolves(
        job('Completed', 'Completed', {
          BillableTimeInSeconds: 1800,
          ModelArtifacts: { S3ModelArtifacts: artifact },
          FinalMetricDataList: [
            { MetricName: 'val_accuracy', Value: 0.81 },
            { MetricName: 'train:progress', Value: 100 },
          ],
          DebugRuleEvaluationStatuses: [{ RuleConfigurationName: 'Overfit', RuleEvaluationStatus: 'NoIssuesFound' }],
          ProfilerRuleEvaluationStatuses: [
            { RuleConfigurationName: 'ProfilerReport', RuleEvaluationStatus: 'IssuesFound', StatusDetails: 'GPU underutilised' },
          ],
        }),
      )
    fakeLogs({ 'algo-1': ['epoch=3 train_loss=0.5 val_loss=0.6 val_accuracy=0.80 images_per_sec=400', 'test_accuracy=0.79 test_loss=0.65'] })
    const r = await run(['train', '--yes', '--json'])
    expect(r.code).toBe(0)
    const out = r.json()
    expect(out).toMatchObject({
      jobName: JOB,
      status: 'Completed',
      billableSeconds: 1800,
      modelArtifact: artifact,
      metrics: { epoch: 3, val_accuracy: 0.81, test_accuracy: 0.79, test_loss: 0.65 },
      distribution: { mode: 'none' },
      estimatedCost: { hourlyUsd: 0.736, maxUsd: 1.47 },
      costUsd: 0.74, // 1800 s x 2 instances (as the job reports) x $0.736/h
    })
    expect(out.debugger).toEqual([
      { rule: 'Overfit', status: 'NoIssuesFound' },
      { rule: 'ProfilerReport', status: 'IssuesFound', detail: 'GPU underutilised' },
    ])
    expect(out).not.toHaveProperty('failureReason')
    expect(out.metrics).not.toHaveProperty('train:progress')
    const [model] = await stateOf('model-artifact')
    expect(model).toMatchObject({ name: artifact, details: { source: 'sagemaker', jobName: JOB } })
  })

  it('the wait deadline exits 1, says the job is still running and how to re-attach', async () => {
    sm.on(DescribeTrainingJobCommand).resolves(job('InProgress', 'Training'))
    const r = await run(['train', '--yes', '--timeout', '30m'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Training job ${JOB} is still running (Training) after the 30m wait deadline`)
    expect(r.stderr).toContain(`mlops logs ${JOB}`)
    expect(sm).not.toHaveReceivedCommand(StopTrainingJobCommand)
    const [rec] = await stateOf('training-job')
    expect(rec.details.status).toBe('InProgress')
  })

  it('Ctrl-C on a terminal asks, and "y" stops the job (StopTrainingJob) and exits 130', async () => {
    const ctl = new AbortController()
    let calls = 0
    sm.on(DescribeTrainingJobCommand).callsFake(() => {
      calls++
      if (calls === 2) ctl.abort()
      return calls <= 2 ? job('InProgress', 'Training') : job('Stopping', 'Stopping')
    })
    sm.on(StopTrainingJobCommand).resolves({})
    const r = await run(['train', '--yes'], { signal: ctl.signal, answers: ['y'] })
    expect(r.code).toBe(130)
    expect(r.stderr).toContain(`Stop the training job ${JOB}? [y/N]`)
    expect(sm).toHaveReceivedCommandWith(StopTrainingJobCommand, { TrainingJobName: JOB })
    expect(r.stderr).toContain(`stopped training job ${JOB} (Stopping)`)
  })

  it('Ctrl-C without a terminal detaches (the safe default), says so, and leaves the job running', async () => {
    const ctl = new AbortController()
    sm.on(DescribeTrainingJobCommand).callsFake(() => {
      ctl.abort()
      return job('InProgress', 'Training')
    })
    const r = await run(['train', '--yes'], { signal: ctl.signal })
    expect(r.code).toBe(130)
    expect(sm).not.toHaveReceivedCommand(StopTrainingJobCommand)
    expect(r.stderr).toContain('detached from training job')
    expect(r.stderr).toContain(`mlops logs ${JOB}`)
  })

  it('--stop-on-interrupt stops the job on Ctrl-C without asking', async () => {
    const ctl = new AbortController()
    let calls = 0
    sm.on(DescribeTrainingJobCommand).callsFake(() => {
      if (++calls === 1) ctl.abort()
      return calls === 1 ? job('InProgress', 'Training') : job('Stopped', 'Stopped')
    })
    sm.on(StopTrainingJobCommand).resolves({})
    const r = await run(['train', '--yes', '--stop-on-interrupt'], { signal: ctl.signal })
    expect(r.code).toBe(130)
    expect(sm).toHaveReceivedCommandTimes(StopTrainingJobCommand, 1)
  })

  it('throttling is retried: on CreateTrainingJob and on the status polls', async () => {
    sm.on(CreateTrainingJobCommand).rejectsOnce(throttled()).resolves({ TrainingJobArn: 'arn' })
    sm.on(DescribeTrainingJobCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(throttled())
      .resolvesOnce(job('InProgress', 'Training'))
      .rejectsOnce(throttled())
      .resolves(job('Completed', 'Completed', { ModelArtifacts: { S3ModelArtifacts: 's3://dogs-data/output/x/output/model.tar.gz' } }))
    const r = await run(['train', '--yes'])
    expect(r.stderr).not.toContain('throttled by AWS')
    expect(r.code).toBe(0)
    expect(sm).toHaveReceivedCommandTimes(CreateTrainingJobCommand, 2)
    expect(sm).toHaveReceivedCommandTimes(DescribeTrainingJobCommand, 5)
  })

  it('persistent throttling ends with the translated error, not a hang', async () => {
    sm.on(DescribeTrainingJobCommand).rejects(throttled())
    const r = await run(['train', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('sagemaker:DescribeTrainingJob was throttled by AWS even after retries')
  })

  it('--no-wait prints the job name, records it InProgress and does not poll', async () => {
    const r = await run(['train', '--yes', '--no-wait'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`Training job ${JOB} is InProgress`)
    expect(r.stdout).toContain(`mlops logs ${JOB}`)
    expect(sm).not.toHaveReceivedCommand(DescribeTrainingJobCommand)
    const [rec] = await stateOf('training-job')
    expect(rec.details).toMatchObject({ status: 'InProgress', source: 'sagemaker' })
  })

  it('sends the request built from the config and flags, with the code uploaded only when missing', async () => {
    s3.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }))
    s3.on(PutObjectCommand).resolves({})
    sm.on(DescribeTrainingJobCommand).resolves(job('Completed', 'Completed'))
    const r = await run([
      'train',
      '--yes',
      '--instances',
      '2',
      '--instance-type',
      'ml.m5.xlarge',
      '--hyperparameter',
      'lr=0.01',
      '--hyperparameter',
      'arch=resnet50',
    ])
    expect(r.code).toBe(0)
    expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 1)
    expect(sm).toHaveReceivedCommandWith(CreateTrainingJobCommand, {
      TrainingJobName: JOB,
      RoleArn: ROLE,
      ResourceConfig: { InstanceCount: 2, InstanceType: 'ml.m5.xlarge', VolumeSizeInGB: 30 },
      HyperParameters: expect.objectContaining({ epochs: '3', arch: '"resnet50"', lr: '0.01', sagemaker_job_name: `"${JOB}"` }),
    })
    const sent = sm.commandCalls(CreateTrainingJobCommand)[0].args[0].input
    // CPU instances: train.py's own process group, no SageMaker launcher flag.
    expect(sent.HyperParameters).not.toHaveProperty('sagemaker_torch_distributed_enabled')
    expect(r.stderr).toMatch(/distribution\s+native: ml\.m5\.xlarge is a CPU type/)
  })

  it('on a terminal the status is a spinner and metric lines still get through', async () => {
    sm.on(DescribeTrainingJobCommand).resolvesOnce(job('InProgress', 'Training')).resolves(job('Completed', 'Completed'))
    fakeLogs({ 'algo-1': ['epoch=1 train_loss=1 val_loss=1 val_accuracy=0.5 images_per_sec=100'] })
    const r = await run(['train', '--yes'], { tty: true })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('[algo-1] epoch=1 train_loss=1')
    expect(r.stdout).toContain('Completed')
  })
})

describe('train: checks before anything is created', () => {
  it('an empty channel fails with the upload-data hint, before any job is created', async () => {
    s3.on(ListObjectsV2Command, { Prefix: 'data/valid/' }).resolves({ KeyCount: 0 })
    const r = await run(['train', '--yes'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('No training data in S3 for: valid (s3://dogs-data/data/valid/)')
    expect(r.stderr).toContain('mlops upload-data')
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
  })

  it('bad flags are usage errors naming the flag, before any AWS call', async () => {
    const noAws = noAwsFactory('AWS must not be touched')
    for (const [args, text] of [
      [['--timeout', 'soon'], '--timeout'],
      [['--instances', '0'], '--instances: must be at least 1 (training instances), got "0".'],
      [['--instances', '101'], '--instances: must be at most 100 (training instances), got "101".'],
      [
        ['--instance-type', 'g4dn.xlarge'],
        `--instance-type: expected a SageMaker instance type such as ml.m5.large or ml.g4dn.xlarge (note the 'ml.' prefix), got "g4dn.xlarge".`,
      ],
      [['--hyperparameter', 'novalue'], '--hyperparameter expects key=value'],
      [['--hyperparameter', 'sagemaker_program=x.py'], 'reserved'],
      [['--instance-type', 'ml.m5.xlarge', '--instances', '2'], ''],
    ] as const) {
      if (!text) continue
      const r = await runMlops(['train', '--yes', ...args], { cwd: dir, awsFactory: noAws as never })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toContain(text)
    }
  })

  it('torch_distributed on a CPU type is refused with the fix', async () => {
    const cpuDir = await tempProject(
      minimalConfig(`training:\n  roleArn: ${ROLE}\n  sourceDir: code\n  distribution: torch_distributed\n  instanceType: ml.c5.xlarge\n  instanceCount: 2\n`),
      { 'code/train.py': '' },
    )
    const r = await runMlops(['train', '--dry-run'], { cwd: cpuDir })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('torch_distributed needs a GPU instance type; ml.c5.xlarge is CPU only')
    expect(r.stderr).toContain('distribution: native')
  })

  it('without --yes and without a terminal, the launch needs confirmation (exit 2) and nothing is created', async () => {
    const r = await run(['train'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--yes')
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
  })

  it('on a terminal, answering no cancels the launch', async () => {
    const r = await run(['train'], { answers: ['n'] })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/Start training job dogs-train-.* \(up to \$1\.47\)\? \[y\/N\]/)
    expect(r.stderr).toContain('Cancelled')
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
  })
})

describe('logs: re-attaching', () => {
  it("replays a finished job's metric lines, reports it, and records its model", async () => {
    const artifact = `s3://dogs-data/output/${JOB}/output/model.tar.gz`
    sm.on(DescribeTrainingJobCommand).resolves(job('Completed', 'Completed', { BillableTimeInSeconds: 99, ModelArtifacts: { S3ModelArtifacts: artifact } }))
    fakeLogs({ 'algo-1': ['epoch=1 train_loss=1 val_loss=1 val_accuracy=0.5 images_per_sec=100', 'test_accuracy=0.6 test_loss=0.9'] })
    const r = await run(['logs', JOB])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('[algo-1] epoch=1 train_loss=1')
    expect(r.stdout).toContain(`Training job ${JOB}: Completed`)
    expect(r.stdout).toContain(artifact)
    expect(r.stdout).toContain('test_accuracy 0.6')
    const [model] = await stateOf('model-artifact')
    expect(model.name).toBe(artifact)
  })

  it('follows a running job until it ends; --debug shows every line', async () => {
    // The first Describe finds the job; the wait then sees it Uploading, then Completed.
    sm.on(DescribeTrainingJobCommand)
      .resolvesOnce(job('InProgress', 'Uploading'))
      .resolvesOnce(job('InProgress', 'Uploading'))
      .resolves(job('Completed', 'Completed'))
    fakeLogs({ 'algo-1': ['Saving model to /opt/ml/model', 'test_accuracy=0.6 test_loss=0.9'] })
    const r = await run(['logs', JOB, '--debug'])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(`${JOB}: Uploading`)
    expect(r.stderr).toContain('[algo-1] Saving model to /opt/ml/model')
  })

  it('without a name takes the newest job from the state file; --stop stops it', async () => {
    sm.on(DescribeTrainingJobCommand).resolves(job('InProgress', 'Training'))
    await run(['train', '--yes', '--no-wait'])
    sm.on(DescribeTrainingJobCommand).resolvesOnce(job('InProgress', 'Training')).resolves(job('Stopping', 'Stopping'))
    sm.on(StopTrainingJobCommand).resolves({})
    const r = await run(['logs', '--stop', '--json'])
    expect(r.code).toBe(0)
    expect(sm).toHaveReceivedCommandWith(StopTrainingJobCommand, { TrainingJobName: JOB })
    expect(r.json()).toMatchObject({ jobName: JOB, status: 'Stopping' })
  })

  it('an unknown job is a usage error with a hint', async () => {
    sm.on(DescribeTrainingJobCommand).rejects(Object.assign(new Error('Requested resource not found.'), { name: 'ResourceNotFound' }))
    const r = await run(['logs', 'dogs-train-nope-but-longer-than-thirty-two-chars'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('There is no training job named dogs-train-nope-but-longer-than-thirty-two-chars')
  })

  it('no streams yet is not an error', async () => {
    sm.on(DescribeTrainingJobCommand).resolvesOnce(job('InProgress', 'Starting')).resolves(job('Completed', 'Completed'))
    const r = await run(['logs', JOB])
    expect(r.code).toBe(0)
    expect(logs).toHaveReceivedCommandWith(DescribeLogStreamsCommand, { logGroupName: '/aws/sagemaker/TrainingJobs', logStreamNamePrefix: `${JOB}/` })
  })
})

describe('train with a state file it cannot write', () => {
  it('stops with exit 2 before the training job is created, instead of leaving it unrecorded', async () => {
    // Tests run as root, where file modes do not stop a write: a folder where checkWritable puts its
    // probe file (named after this process) makes the state folder unwritable all the same.
    await mkdir(path.join(dir, '.mlops', `state.json.${process.pid}.probe`), { recursive: true })
    const r = await run(['train', '--yes'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain(`Cannot write ${path.join(dir, '.mlops', 'state.json')}`)
    expect(r.stderr).toContain('Nothing was changed in AWS.')
    expect(sm).not.toHaveReceivedCommand(CreateTrainingJobCommand)
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0)
  })
})
