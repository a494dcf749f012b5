import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { DescribeHyperParameterTuningJobCommand, DescribeTrainingJobCommand, ListTrainingJobsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { list as listTar } from 'tar'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `train` and `tune` end to end against moto: the requests as SageMaker stores them, the code
 * tarball in S3, the execution role in IAM, the records in the state file.
 */

const CONFIG = minimalConfig(`  prefix: data
training:
  sourceDir: code
  hyperparameters: { epochs: 2, arch: resnet18, batch-size: 16 }
  tuning:
    objective: { metric: val_accuracy }
    strategy: Random
    maxJobs: 4
    maxParallelJobs: 2
    ranges:
      lr: { type: continuous, min: 0.0001, max: 0.1, scaling: Logarithmic }
      batch-size: { type: categorical, values: [16, 32] }
      epochs: { type: integer, min: 1, max: 3 }
`)

let moto: MotoServer
let s3: S3Client
let sm: SageMakerClient
let iam: IAMClient

beforeAll(async () => {
  moto = await startMoto()
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
  sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  iam = new IAMClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => moto?.stop())

let dir: string
beforeEach(async () => {
  await moto.reset()
  await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
  // Two classes in every split: train refuses one class before anything is billed (one set of dataset rules).
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of ['001.Affenpinscher', '002.Afghan_hound']) {
      await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: `data/${split}/${cls}/a.jpg`, Body: 'jpeg' }))
    }
  }
  dir = await tempProject(CONFIG, { 'code/train.py': 'print("epoch=1 val_accuracy=0.5")\n', 'code/model_def.py': 'X = 1\n' })
})

const run = (args: string[]) => runMlops([...args, '--yes'], { cwd: dir, env: motoEnv(moto.endpoint) })

async function codeObjects(): Promise<string[]> {
  const res = await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data', Prefix: 'dogs/code/' }))
  return (res.Contents ?? []).map((o) => o.Key!)
}

async function tarEntries(body: Uint8Array): Promise<string[]> {
  const names: string[] = []
  await new Promise<void>((resolve, reject) => {
    Readable.from(Buffer.from(body))
      .pipe(
        listTar({
          onReadEntry: (e) => {
            names.push(e.path)
          },
        }),
      )
      .on('finish', resolve)
      .on('error', reject)
  })
  return names.sort()
}

describe('train on moto', () => {
  it('training.keepAlive and training.inputMode reach the stored job (issue 17 items 3 and 4)', async () => {
    await writeFile(path.join(dir, 'mlops.config.yaml'), CONFIG.replace('  sourceDir: code\n', '  sourceDir: code\n  keepAlive: 10m\n  inputMode: FastFile\n'))
    const r = await run(['train', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const job = await sm.send(new DescribeTrainingJobCommand({ TrainingJobName: r.json().jobName }))
    expect(job.ResourceConfig).toEqual({ InstanceCount: 1, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30, KeepAlivePeriodInSeconds: 600 })
    expect(job.AlgorithmSpecification?.TrainingInputMode).toBe('FastFile')
  })

  it('--instances 4 creates exactly one distributed job from the uploaded code and data, and records it', async () => {
    const r = await run(['train', '--instances', '4', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    expect(out).toMatchObject({
      status: 'Completed',
      instanceCount: 4,
      instanceType: 'ml.g4dn.xlarge',
      codeUploaded: true,
      distribution: { mode: 'torch_distributed' },
      estimatedCost: { hourlyUsd: 0.736, instances: 4, maxRuntimeSeconds: 7200, maxUsd: 5.89 },
    })
    expect(out.distribution.reason).toContain('4 hosts')

    const jobs = (await sm.send(new ListTrainingJobsCommand({}))).TrainingJobSummaries ?? []
    expect(jobs.map((j) => j.TrainingJobName)).toEqual([out.jobName])
    const job = await sm.send(new DescribeTrainingJobCommand({ TrainingJobName: out.jobName }))
    expect(job.ResourceConfig).toEqual({ InstanceCount: 4, InstanceType: 'ml.g4dn.xlarge', VolumeSizeInGB: 30 })
    expect(job.HyperParameters).toMatchObject({
      epochs: '2',
      arch: '"resnet18"',
      'batch-size': '16',
      sagemaker_program: '"train.py"',
      sagemaker_container_log_level: '20',
      sagemaker_job_name: JSON.stringify(out.jobName),
      sagemaker_region: '"us-east-1"',
      sagemaker_torch_distributed_enabled: 'true',
      sagemaker_instance_type: '"ml.g4dn.xlarge"',
    })
    expect(job.RoleArn).toBe('arn:aws:iam::123456789012:role/dogs-sagemaker')
    expect(job.AlgorithmSpecification?.TrainingImage).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker')
    expect(job.OutputDataConfig?.S3OutputPath).toBe('s3://dogs-data/output/')
    expect(job.StoppingCondition?.MaxRuntimeInSeconds).toBe(7200)
    expect(job.InputDataConfig?.map((c) => [c.ChannelName, c.DataSource?.S3DataSource?.S3Uri, c.DataSource?.S3DataSource?.S3DataDistributionType])).toEqual([
      ['train', 's3://dogs-data/data/train', 'FullyReplicated'],
      ['valid', 's3://dogs-data/data/valid', 'FullyReplicated'],
      ['test', 's3://dogs-data/data/test', 'FullyReplicated'],
    ])

    // The code tarball the job points at exists and holds train.py.
    const codeUri = JSON.parse(job.HyperParameters!.sagemaker_submit_directory) as string
    expect(codeUri).toMatch(/^s3:\/\/dogs-data\/dogs\/code\/[0-9a-f]{64}\/sourcedir\.tar\.gz$/)
    const key = codeUri.replace('s3://dogs-data/', '')
    const obj = await s3.send(new GetObjectCommand({ Bucket: 'dogs-data', Key: key }))
    expect(await tarEntries(await obj.Body!.transformToByteArray())).toEqual(['model_def.py', 'train.py'])

    // The least-privilege execution role was created once, with no managed (FullAccess) policy.
    const role = await iam.send(new GetRoleCommand({ RoleName: 'dogs-sagemaker' }))
    expect(role.Role?.Tags).toEqual(expect.arrayContaining([{ Key: 'mlops:project', Value: 'dogs' }]))
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'dogs-sagemaker' }))).AttachedPolicies).toEqual([])

    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
      resources: { kind: string; name: string; details?: Record<string, unknown> }[]
    }
    const byKind = (k: string) => state.resources.filter((x) => x.kind === k)
    expect(byKind('training-job')).toMatchObject([{ name: out.jobName, details: { status: 'Completed', instanceCount: 4, source: 'sagemaker' } }])
    expect(byKind('model-artifact')).toMatchObject([
      { name: `s3://dogs-data/output/${out.jobName}/output/model.tar.gz`, details: { source: 'sagemaker', jobName: out.jobName } },
    ])
    expect(byKind('role')).toMatchObject([{ name: 'dogs-sagemaker', details: { purpose: 'execution' } }])
  })

  it('a re-run with unchanged code uploads no new tarball; changed code gets a new one', async () => {
    const first = await run(['train', '--json'])
    expect(first.code, first.stderr).toBe(0)
    const before = await codeObjects()
    expect(before).toHaveLength(1)
    const second = await runMlops(['train', '--json', '--yes'], {
      cwd: dir,
      env: motoEnv(moto.endpoint),
      clock: { now: () => Date.now() + 5000, sleep: async () => undefined },
    })
    expect(second.code, second.stderr).toBe(0)
    expect(second.json()).toMatchObject({ codeUploaded: false, codeUri: first.json().codeUri })
    expect(await codeObjects()).toEqual(before)
    expect(second.stderr).toContain('Code unchanged')
    await writeFile(path.join(dir, 'code/train.py'), 'print("epoch=1 val_accuracy=0.6")\n')
    const third = await runMlops(['train', '--json', '--yes'], {
      cwd: dir,
      env: motoEnv(moto.endpoint),
      clock: { now: () => Date.now() + 10_000, sleep: async () => undefined },
    })
    expect(third.code, third.stderr).toBe(0)
    expect(third.json().codeUploaded).toBe(true)
    expect(await codeObjects()).toHaveLength(2)
  })

  it('an empty data prefix fails with the upload-data hint and creates no job', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'dogs-empty' }))
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-empty', Key: 'data/train/001.Affenpinscher/a.jpg', Body: 'jpeg' }))
    const emptyDir = await tempProject(CONFIG.replace('bucket: dogs-data', 'bucket: dogs-empty'), { 'code/train.py': '' })
    const r = await runMlops(['train', '--yes'], { cwd: emptyDir, env: motoEnv(moto.endpoint) })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('No training data in S3 for: valid (s3://dogs-empty/data/valid/), test (s3://dogs-empty/data/test/)')
    expect(r.stderr).toContain('mlops upload-data')
    expect((await sm.send(new ListTrainingJobsCommand({}))).TrainingJobSummaries ?? []).toEqual([])
  })
})

describe('tune on moto', () => {
  it('creates a tuning job with the configured ranges, objective, metric regex and strategy', async () => {
    const r = await run(['tune', '--max-jobs', '6', '--max-parallel', '3', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    // The tuning base carries a hash of the whole project name (issue 27): dogs-23bcd2-<yymmdd-HHMM>.
    expect(out.tuningJobName).toMatch(/^dogs-23bcd2-\d{6}-\d{4}$/)
    expect(out.tuningJobName.length).toBeLessThanOrEqual(32)
    const d = await sm.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: out.tuningJobName }))
    const c = d.HyperParameterTuningJobConfig!
    expect(c.Strategy).toBe('Random')
    expect(c.ResourceLimits).toEqual({ MaxNumberOfTrainingJobs: 6, MaxParallelTrainingJobs: 3 })
    expect(c.HyperParameterTuningJobObjective).toEqual({ Type: 'Maximize', MetricName: 'val_accuracy' })
    expect(c.TrainingJobEarlyStoppingType).toBe('Auto')
    expect(c.ParameterRanges).toEqual({
      ContinuousParameterRanges: [{ Name: 'lr', MinValue: '0.0001', MaxValue: '0.1', ScalingType: 'Logarithmic' }],
      IntegerParameterRanges: [{ Name: 'epochs', MinValue: '1', MaxValue: '3', ScalingType: 'Auto' }],
      CategoricalParameterRanges: [{ Name: 'batch-size', Values: ['16', '32'] }],
    })
    const def = d.TrainingJobDefinition!
    const metric = def.AlgorithmSpecification!.MetricDefinitions!.find((m) => m.Name === 'val_accuracy')!
    // The regex SageMaker scrapes with matches the line train.py prints (first group = value).
    expect(new RegExp(metric.Regex!).exec('epoch=3 train_loss=0.912 val_loss=0.805 val_accuracy=0.771 images_per_sec=412.5')?.[1]).toBe('0.771')
    // Tuned keys are not static; the rest are, JSON-encoded, with the script-mode keys.
    expect(def.StaticHyperParameters).toMatchObject({ arch: '"resnet18"', sagemaker_program: '"train.py"', sagemaker_estimator_class_name: '"PyTorch"' })
    expect(def.StaticHyperParameters).not.toHaveProperty('epochs')
    expect(def.StaticHyperParameters).not.toHaveProperty('batch-size')
    const code = JSON.parse(def.StaticHyperParameters!.sagemaker_submit_directory) as string
    expect(await codeObjects()).toEqual([code.replace('s3://dogs-data/', '')])
    // moto reports a placeholder best job: reported, but no model is recorded for it.
    expect(out).toMatchObject({ status: 'Completed', bestTrainingJob: { trainingJobName: 'FakeTrainingJobName' } })
    expect(r.stderr).toContain('cannot describe it')
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
      resources: { kind: string; name: string; details?: Record<string, unknown> }[]
    }
    expect(state.resources.filter((x) => x.kind === 'tuning-job')).toMatchObject([
      { name: out.tuningJobName, details: { status: 'Completed', bestTrainingJob: 'FakeTrainingJobName' } },
    ])
    expect(state.resources.filter((x) => x.kind === 'model-artifact')).toEqual([])
  })
})
