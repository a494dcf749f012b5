import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
  StopHyperParameterTuningJobCommand,
  type DescribeHyperParameterTuningJobResponse,
} from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { mkdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory } from '../helpers/aws.js'

const sm = sdkMock(SageMakerClient)
const s3 = sdkMock(S3Client)
const factory = fakeAwsFactory()

// fastClock: 2026-11-22T10:00:00Z -> short timestamp 261122-1000.
const TUNING = 'dogs-23bcd2-261122-1000'
const BEST = `${TUNING}-003-1a2b3c4d`
const CONFIG = minimalConfig(`training:
  roleArn: arn:aws:iam::123456789012:role/r
  sourceDir: code
  tuning:
    objective: { metric: val_accuracy }
    maxJobs: 4
    maxParallelJobs: 2
    ranges:
      lr: { type: continuous, min: 0.0001, max: 0.1 }
      arch: { type: categorical, values: [resnet18, resnet50] }
`)

function tuning(status: string, extra: Partial<DescribeHyperParameterTuningJobResponse> = {}): DescribeHyperParameterTuningJobResponse {
  return {
    HyperParameterTuningJobName: TUNING,
    HyperParameterTuningJobStatus: status as never,
    HyperParameterTuningJobConfig: {
      Strategy: 'Bayesian',
      ResourceLimits: { MaxNumberOfTrainingJobs: 4, MaxParallelTrainingJobs: 2 },
      HyperParameterTuningJobObjective: { Type: 'Maximize', MetricName: 'val_accuracy' },
    },
    TrainingJobDefinition: { StoppingCondition: { MaxRuntimeInSeconds: 3600 } } as never,
    TrainingJobStatusCounters: {
      Completed: status === 'InProgress' ? 1 : 4,
      InProgress: status === 'InProgress' ? 2 : 0,
      RetryableError: 0,
      NonRetryableError: 0,
      Stopped: 0,
    },
    CreationTime: new Date('2026-11-22T10:00:00Z'),
    ...extra,
  } as DescribeHyperParameterTuningJobResponse
}
const best = {
  TrainingJobName: BEST,
  TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${BEST}`,
  TrainingJobStatus: 'Completed' as const,
  TunedHyperParameters: { lr: '0.0031', arch: '"resnet50"' },
  FinalHyperParameterTuningJobObjectiveMetric: { MetricName: 'val_accuracy', Value: 0.84 },
  CreationTime: new Date(),
}

let dir: string
beforeEach(async () => {
  s3.on(ListObjectsV2Command).resolves({ KeyCount: 1 })
  s3.on(HeadObjectCommand).resolves({})
  sm.on(CreateHyperParameterTuningJobCommand).resolves({ HyperParameterTuningJobArn: 'arn' })
  dir = await tempProject(CONFIG, { 'code/train.py': '' })
})
const run = (args: string[], extra: Parameters<typeof runMlops>[1] = {}) => runMlops(args, { cwd: dir, clock: fastClock(), awsFactory: factory, ...extra })

describe('tune: waiting and the best job', () => {
  it('follows progress, then reports and records the best job with its hyperparameters and model', async () => {
    const artifact = `s3://dogs-data/output/${BEST}/output/model.tar.gz`
    sm.on(DescribeHyperParameterTuningJobCommand)
      .resolvesOnce(tuning('InProgress'))
      .resolvesOnce(
        tuning('InProgress', { BestTrainingJob: { ...best, FinalHyperParameterTuningJobObjectiveMetric: { MetricName: 'val_accuracy', Value: 0.7 } } }),
      )
      .resolves(tuning('Completed', { BestTrainingJob: best }))
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: BEST }).resolves({
      TrainingJobName: BEST,
      TrainingJobStatus: 'Completed',
      ResourceConfig: { InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30 },
      ModelArtifacts: { S3ModelArtifacts: artifact },
      FinalMetricDataList: [{ MetricName: 'val_accuracy', Value: 0.84 }],
    } as never)
    const r = await run(['tune', '--yes', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`${TUNING}: InProgress — 1 done, 2 running, 0 failed`)
    expect(r.stderr).toContain('best val_accuracy=0.7')
    expect(r.json()).toMatchObject({
      tuningJobName: TUNING,
      status: 'Completed',
      objective: { metric: 'val_accuracy', type: 'Maximize' },
      bestTrainingJob: { trainingJobName: BEST, objective: { value: 0.84 }, hyperparameters: { lr: 0.0031, arch: 'resnet50' }, modelArtifact: artifact },
    })
    expect(sm).toHaveReceivedCommandWith(CreateHyperParameterTuningJobCommand, { HyperParameterTuningJobName: TUNING })
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
      resources: { kind: string; name: string; details: Record<string, unknown> }[]
    }
    expect(state.resources.filter((x) => x.kind === 'tuning-job')).toMatchObject([
      { name: TUNING, details: { status: 'Completed', bestTrainingJob: BEST, modelArtifact: artifact } },
    ])
    expect(state.resources.filter((x) => x.kind === 'model-artifact')).toMatchObject([{ name: artifact, details: { source: 'tuning', jobName: BEST } }])
  })

  it('a failed tuning job shows its FailureReason and exits 1', async () => {
    sm.on(DescribeHyperParameterTuningJobCommand)
      .resolvesOnce(tuning('InProgress'))
      .resolves(tuning('Failed', { FailureReason: 'All training jobs failed' }))
    const r = await run(['tune', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Tuning job ${TUNING} failed: All training jobs failed`)
  })

  it('a completed tuning job without a best job exits 1 and says why', async () => {
    sm.on(DescribeHyperParameterTuningJobCommand).resolves(tuning('Completed'))
    const r = await run(['tune', '--yes'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('finished without a best training job: no child reported val_accuracy')
  })

  it('the deadline exits 1 and says it is still running', async () => {
    sm.on(DescribeHyperParameterTuningJobCommand).resolves(tuning('InProgress'))
    const r = await run(['tune', '--yes', '--timeout', '2h'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`Tuning job ${TUNING} is still running after the 2h wait deadline`)
    expect(r.stderr).toContain(`mlops logs ${TUNING}`)
  })

  it('Ctrl-C on a terminal can stop the tuning job', async () => {
    const ctl = new AbortController()
    sm.on(DescribeHyperParameterTuningJobCommand).callsFake(() => {
      ctl.abort()
      return tuning('InProgress')
    })
    sm.on(StopHyperParameterTuningJobCommand).resolves({})
    const r = await run(['tune', '--yes'], { signal: ctl.signal, answers: ['yes'] })
    expect(r.code).toBe(130)
    expect(r.stderr).toContain(`Stop the tuning job ${TUNING}? [y/N]`)
    expect(sm).toHaveReceivedCommandWith(StopHyperParameterTuningJobCommand, { HyperParameterTuningJobName: TUNING })
  })

  it('logs re-attaches to a tuning job by name', async () => {
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: TUNING }).rejects(
      Object.assign(new Error(`Requested resource not found.`), { name: 'ResourceNotFound' }),
    )
    sm.on(DescribeTrainingJobCommand, { TrainingJobName: BEST }).resolves({
      TrainingJobName: BEST,
      TrainingJobStatus: 'Completed',
      ModelArtifacts: { S3ModelArtifacts: 's3://b/m.tar.gz' },
    } as never)
    sm.on(DescribeHyperParameterTuningJobCommand).resolves(tuning('Completed', { BestTrainingJob: best }))
    const r = await run(['logs', TUNING])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`Tuning job ${TUNING}: Completed`)
    expect(r.stdout).toMatch(/best job\s+dogs-23bcd2-261122-1000-003-1a2b3c4d \(val_accuracy 0.84\)/)
    expect(r.stdout).toContain('lr=0.0031 arch=resnet50')
  })
})

describe('tune with a state file it cannot write', () => {
  it('stops with exit 2 before the tuning job is created, instead of leaving it unrecorded', async () => {
    // Tests run as root, where file modes do not stop a write: a folder where checkWritable puts its
    // probe file (named after this process) makes the state folder unwritable all the same.
    await mkdir(path.join(dir, '.mlops', `state.json.${process.pid}.probe`), { recursive: true })
    const r = await run(['tune', '--yes'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain(`Cannot write ${path.join(dir, '.mlops', 'state.json')}`)
    expect(r.stderr).toContain('Nothing was changed in AWS.')
    expect(sm).not.toHaveReceivedCommand(CreateHyperParameterTuningJobCommand)
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0)
  })
})

describe('tune: the default wait deadline', () => {
  const deadline = async (config: string) => {
    dir = await tempProject(config, { 'code/train.py': '' })
    const r = await run(['tune', '--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    return (r.json() as { timeoutSeconds: number }).timeoutSeconds
  }
  const tuningConfig = (lines: string) => minimalConfig(`training:\n  roleArn: arn:aws:iam::123456789012:role/r\n  sourceDir: code\n${lines}`)

  it('is the job limit times the rounds of parallel jobs, plus 30 minutes', async () => {
    // 4 jobs, 2 at a time: 2 rounds of the 2h default maxRuntime.
    expect(await deadline(CONFIG)).toBe(2 * 7200 + 1800)
  })

  it('counts spot jobs by their maxWait', async () => {
    const config = tuningConfig(`  spot: true
  maxWait: 3h
  tuning:
    objective: { metric: val_accuracy }
    maxJobs: 5
    maxParallelJobs: 2
    ranges:
      lr: { type: continuous, min: 0.0001, max: 0.1 }
`)
    expect(await deadline(config)).toBe(3 * 10800 + 1800)
  })

  it('counts every Grid combination, not maxJobs', async () => {
    const config = tuningConfig(`  tuning:
    strategy: Grid
    objective: { metric: val_accuracy }
    maxParallelJobs: 2
    ranges:
      arch: { type: categorical, values: [resnet18, resnet50] }
      lr: { type: categorical, values: [0.001, 0.01, 0.1] }
`)
    expect(await deadline(config)).toBe(3 * 7200 + 1800)
  })
})
