import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateEndpointConfigCommand, CreateModelCommand, CreateTrainingJobCommand, ListModelsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { tinyModelTarGz } from '../fixtures/deploy.js'
import { legacyTuningJobBase, resourceNames, shortTimestamp, uniqueName } from '../../src/shared/naming.js'

/**
 * Two projects in one account and one bucket whose names share a prefix (`dogs`, `dogs-v2`) or
 * their first 19 characters (issue 27): status, teardown (--delete-data), runs and deploy of one never
 * see, count, list or touch the other's resources.
 */

const BUCKET = 'shared-data'
const STAMP_A = '2026-11-20-09-00-00-000'
const STAMP_B = '2026-11-21-09-00-00-000'
const NOW = new Date(Date.UTC(2026, 10, 21, 9, 0, 0))
const SHA = 'a'.repeat(64)
const tags = (project: string) => [
  { Key: 'mlops:project', Value: project },
  { Key: 'mlops:managed-by', Value: 'mlops' },
]
const config = (project: string) =>
  `project:\n  name: ${project}\ndata:\n  bucket: ${BUCKET}\n  prefix: datasets/${project}\n  localDir: ./dogImages\n` +
  'training:\n  roleArn: arn:aws:iam::123456789012:role/my-sagemaker\n'

/** Every object mlops writes for a project, as train, train-ec2, tune, upload-data and deploy name them. */
function objectsOf(project: string, stamp: string): string[] {
  const tuning = uniqueName(resourceNames({ project: { name: project } }).tuningJobBase, NOW, 32, shortTimestamp)
  return [
    `datasets/${project}/train/001.A/a.jpg`,
    `output/${project}-train-${stamp}/output/model.tar.gz`,
    `output/${project}-ec2-${stamp}/output/model.tar.gz`,
    `output/${tuning}-001-1a2b3c4d/output/model.tar.gz`,
    `${project}/checkpoints/${project}-train-${stamp}/c.pt`,
    `${project}/models/${SHA}/model.tar.gz`,
  ]
}

let moto: MotoServer
let sm: SageMakerClient
let s3: S3Client
beforeAll(async () => {
  moto = await startMoto()
  sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
})
afterAll(async () => moto?.stop())
beforeEach(async () => {
  await moto.reset()
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
})

async function seed(project: string, stamp: string): Promise<void> {
  for (const Key of objectsOf(project, stamp)) {
    const marked = Key.startsWith('datasets/') || Key.includes('/models/')
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Buffer.alloc(10), ...(marked ? { Metadata: { sha256: SHA } } : {}) }))
  }
  await sm.send(
    new CreateModelCommand({
      ModelName: `${project}-model-${stamp}`,
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/my-sagemaker',
      PrimaryContainer: { Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1', ModelDataUrl: `s3://${BUCKET}/m.tar.gz` },
      Tags: tags(project),
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: `${project}-config-${stamp}`,
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `${project}-model-${stamp}`, InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
      Tags: tags(project),
    }),
  )
}

async function keys(): Promise<string[]> {
  return ((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? []).map((o) => o.Key!).sort()
}

describe.each([
  ['dogs', 'dogs-v2'],
  ['abcdefghijklmnopqrs-a', 'abcdefghijklmnopqrs-b'],
])('projects %s and %s side by side in one account and bucket', (a, b) => {
  it('status counts only its own objects, models and configs; teardown --delete-data deletes only its own', async () => {
    await seed(a, STAMP_A)
    await seed(b, STAMP_B)
    // An older mlops named tuning jobs from the first 19 characters: such output is never claimed by name.
    // It is this project's when its job is tagged so (deleted); a job SageMaker does not know leaves it kept.
    const oldBase = uniqueName(legacyTuningJobBase(a), NOW, 32, shortTimestamp)
    const oldTuning = `output/${oldBase}-002-00000000/output/model.tar.gz`
    const oldTagged = `output/${oldBase}-001-1a2b3c4d/output/model.tar.gz`
    for (const Key of [oldTuning, oldTagged]) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: 'old' }))
    await sm.send(
      new CreateTrainingJobCommand({
        TrainingJobName: `${oldBase}-001-1a2b3c4d`,
        RoleArn: 'arn:aws:iam::123456789012:role/my-sagemaker',
        AlgorithmSpecification: { TrainingImage: 'img', TrainingInputMode: 'File' },
        OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/output` },
        ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
        StoppingCondition: { MaxRuntimeInSeconds: 600 },
        Tags: tags(a),
      }),
    )
    const env = motoEnv(moto.endpoint)
    const dirA = await tempProject(config(a))
    const dirB = await tempProject(config(b))

    for (const [project, dir, stamp] of [
      [a, dirA, STAMP_A],
      [b, dirB, STAMP_B],
    ]) {
      const status = await runMlops(['status', '--json'], { cwd: dir, env })
      expect(status.code, status.stderr).toBe(0)
      const s = status.json()
      expect(s.models).toEqual([`${project}-model-${stamp}`])
      expect(s.endpointConfigs).toEqual([`${project}-config-${stamp}`])
      expect(s.data).toMatchObject({ bucket: BUCKET, objects: objectsOf(project, stamp).length, bytes: 10 * objectsOf(project, stamp).length })
    }

    const down = await runMlops(['teardown', '--yes', '--delete-data', '--verbose', '--json'], { cwd: dirA, env })
    expect(down.code, down.stderr).toBe(0)
    for (const key of objectsOf(b, STAMP_B)) expect(down.stderr).not.toContain(key)
    expect(await keys()).toEqual([...objectsOf(b, STAMP_B), oldTuning].sort())
    expect((await sm.send(new ListModelsCommand({}))).Models!.map((m) => m.ModelName)).toEqual([`${b}-model-${STAMP_B}`])
  })

  it('runs lists only its own jobs: never the other project’s, even one tagged for this project or named like it', async () => {
    const job = async (name: string, project: string) =>
      sm.send(
        new CreateTrainingJobCommand({
          TrainingJobName: name,
          RoleArn: 'arn:aws:iam::123456789012:role/my-sagemaker',
          AlgorithmSpecification: { TrainingImage: 'img', TrainingInputMode: 'File' },
          OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/output` },
          ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
          StoppingCondition: { MaxRuntimeInSeconds: 600 },
          Tags: tags(project),
        }),
      )
    await job(`${a}-train-${STAMP_A}`, a)
    await job(`${b}-train-${STAMP_B}`, b)
    // Named as this project's but tagged for the other, and the other's name tagged for this one: neither is ours.
    await job(`${a}-train-${STAMP_B}`, b)
    await job(`${b}-train-${STAMP_A}`, a)
    const env = { ...motoEnv(moto.endpoint), MLOPS_PRICE_LIST: 'off' }
    for (const [project, own] of [
      [a, `${a}-train-${STAMP_A}`],
      [b, `${b}-train-${STAMP_B}`],
    ]) {
      const run = await runMlops(['runs', '--json'], { cwd: await tempProject(config(project)), env })
      expect(run.code, run.stderr).toBe(0)
      expect(run.json().runs.map((r: { name: string }) => r.name)).toEqual([own])
    }
  })

  it('deploy with no state file deploys its own model, never the other project’s', async () => {
    const train = async (project: string, stamp: string) => {
      const job = `${project}-train-${stamp}`
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `output/${job}/output/model.tar.gz`, Body: await tinyModelTarGz() }))
      await sm.send(
        new CreateTrainingJobCommand({
          TrainingJobName: job,
          RoleArn: 'arn:aws:iam::123456789012:role/my-sagemaker',
          AlgorithmSpecification: { TrainingImage: 'img', TrainingInputMode: 'File' },
          OutputDataConfig: { S3OutputPath: `s3://${BUCKET}/output` },
          ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
          StoppingCondition: { MaxRuntimeInSeconds: 600 },
          Tags: tags(project),
        }),
      )
    }
    const env = motoEnv(moto.endpoint)
    const dir = await tempProject(config(a))
    // Only the other project has trained: nothing of this project's to deploy, and nothing is created.
    await train(b, STAMP_B)
    const none = await runMlops(['deploy', '--yes', '--no-smoke-test'], { cwd: dir, env })
    expect(none.code, none.stderr).toBe(2)
    expect(none.stderr).toContain(`No trained model found for project ${a}.`)
    expect((await sm.send(new ListModelsCommand({}))).Models).toEqual([])
    // Its own (older) model is the one deployed.
    await train(a, STAMP_A)
    const run = await runMlops(['deploy', '--yes', '--json', '--no-smoke-test'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().source).toMatchObject({ jobName: `${a}-train-${STAMP_A}`, foundIn: 'sagemaker' })
  })
})
