import { CloudWatchLogsClient, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { CreateTrainingJobCommand, DescribeTrainingJobCommand, SageMakerClient, type DescribeTrainingJobResponse } from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

/** Issue 17 items 3 and 4: training.keepAlive (warm pools) and training.inputMode reach CreateTrainingJob exactly. */

const sm = sdkMock(SageMakerClient)
const s3 = sdkMock(S3Client)
const logs = sdkMock(CloudWatchLogsClient)
const ROLE = 'arn:aws:iam::123456789012:role/my-sagemaker-role'
const cfg = (training: string) => minimalConfig(`training:\n  roleArn: ${ROLE}\n${training}`)

async function dryRunCreate(training: string) {
  const dir = await tempProject(cfg(training))
  const r = await runMlops(['train', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory() })
  expect(r.code, r.stderr).toBe(0)
  return r.json().operations.find((o: { operation: string }) => o.operation === 'CreateTrainingJob').input
}

describe('training.keepAlive and training.inputMode in the request', () => {
  it('keepAlive: 10m -> ResourceConfig.KeepAlivePeriodInSeconds 600; inputMode: FastFile -> TrainingInputMode', async () => {
    const create = await dryRunCreate('  keepAlive: 10m\n  inputMode: FastFile\n')
    expect(create.ResourceConfig).toEqual({ InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30, KeepAlivePeriodInSeconds: 600 })
    expect(create.AlgorithmSpecification.TrainingInputMode).toBe('FastFile')
  })

  it('defaults: no warm pool, File mode', async () => {
    const create = await dryRunCreate('')
    expect(create.ResourceConfig).toEqual({ InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30 })
    expect(create.AlgorithmSpecification.TrainingInputMode).toBe('File')
  })

  it('the tuning job children use the input mode too', async () => {
    const dir = await tempProject(
      cfg('  inputMode: FastFile\n  tuning:\n    objective: { metric: val_accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n'),
    )
    const r = await runMlops(['tune', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    const create = r.json().operations.find((o: { operation: string }) => o.operation === 'CreateHyperParameterTuningJob').input
    expect(create.TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode).toBe('FastFile')
  })

  it('the summary says the kept instances bill, with the most they can cost', async () => {
    const dir = await tempProject(cfg('  keepAlive: 10m\n'))
    const r = await runMlops(['train', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/warm pool\s+instances kept 10m after the job for the next train to reuse; they bill while kept \(up to \$0\.12\)/)
    expect(r.stdout).toMatch(/input\s+File \(copied to the instance before the first step\)/)
  })

  it('refuses keepAlive beyond the API maximum, an unknown input mode, and a warm pool with spot (exit 2)', async () => {
    for (const [training, text] of [
      ['  keepAlive: 7h\n', 'training.keepAlive: at most 6h'],
      ['  inputMode: Pipe\n', 'training.inputMode'],
      ['  keepAlive: 10m\n  spot: true\n', 'cannot be combined with spot training'],
    ]) {
      const dir = await tempProject(cfg(training))
      const r = await runMlops(['train', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(r.code, training).toBe(2)
      expect(r.stderr).toContain(text)
    }
  })
})

describe('a warm pool reused by the next train', () => {
  const job = (name: string, extra: Partial<DescribeTrainingJobResponse> = {}): DescribeTrainingJobResponse =>
    ({
      TrainingJobName: name,
      TrainingJobStatus: 'Completed',
      SecondaryStatus: 'Completed',
      ResourceConfig: { InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30, KeepAlivePeriodInSeconds: 600 },
      StoppingCondition: { MaxRuntimeInSeconds: 7200 },
      ModelArtifacts: { S3ModelArtifacts: `s3://dogs-data/output/${name}/output/model.tar.gz` },
      ...extra,
    }) as DescribeTrainingJobResponse

  beforeEach(() => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 1 })
    s3.on(HeadObjectCommand).resolves({})
    sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: 'arn:aws:sagemaker:us-east-1:123456789012:training-job/x' })
    logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] })
  })

  it('says which job’s pool was reused and that the kept instances bill', async () => {
    const dir = await tempProject(cfg('  keepAlive: 10m\n'))
    const FIRST = 'dogs-train-2026-11-22-10-00-00-000'
    const SECOND = 'dogs-train-2026-11-22-11-00-00-000'
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: FIRST }).resolves(job(FIRST, { WarmPoolStatus: { Status: 'Available' } }))
    const first = await runMlops(['train', '--yes', '--json'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(Date.parse('2026-11-22T10:00:00Z')) })
    expect(first.code, first.stderr).toBe(0)
    expect(first.json().warmPool).toEqual({ status: 'Available' })

    sm.on(DescribeTrainingJobCommand, { TrainingJobName: FIRST }).resolves(job(FIRST, { WarmPoolStatus: { Status: 'Reused', ReusedByJob: SECOND } }))
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: SECOND }).resolves(job(SECOND, { WarmPoolStatus: { Status: 'Available' } }))
    const clock = () => fastClock(Date.parse('2026-11-22T11:00:00Z'))
    const second = await runMlops(['train', '--yes', '--json'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: clock() })
    expect(second.code, second.stderr).toBe(0)
    expect(second.json()).toMatchObject({ jobName: SECOND, warmPool: { status: 'Available', reusedFrom: FIRST } })
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: FIRST }).resolves(job(FIRST, { WarmPoolStatus: { Status: 'Reused', ReusedByJob: SECOND } }))
    const human = await runMlops(['logs', SECOND], { cwd: dir, awsFactory: fakeAwsFactory(), clock: clock() })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain('instances kept warm for the next train; they bill until the keep-alive period ends')
  })
})
