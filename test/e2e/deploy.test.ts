import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateTrainingJobCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { list as listTar } from 'tar'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { ANSWER, tinyModelTarGz } from '../fixtures/deploy.js'

/**
 * `mlops deploy` end to end on moto: repack + upload, CreateModel with the right image and
 * environment, a config per deploy, CreateEndpoint then blue/green UpdateEndpoint of the same
 * endpoint, smoke test through sagemaker-runtime, and pruning of old versions.
 */

const ARTIFACT = 's3://dogs-data/output/dogs-train-2026-11-21-09-00-00-000/output/model.tar.gz'
const STATE = JSON.stringify({
  version: 1,
  resources: [
    {
      kind: 'model-artifact',
      name: ARTIFACT,
      region: 'us-east-1',
      createdAt: '2026-11-21T10:00:00.000Z',
      details: { source: 'sagemaker', jobName: 'dogs-train-2026-11-21-09-00-00-000' },
    },
  ],
})

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
  await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
  await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: ARTIFACT.replace('s3://dogs-data/', ''), Body: await tinyModelTarGz() }))
})

/** A project folder; most tests name an existing role so they skip moto's slow first IAM call. */
async function project(extra = '', withState = true, ownRole = true): Promise<string> {
  const role = ownRole ? 'training:\n  roleArn: arn:aws:iam::123456789012:role/my-sagemaker\n' : ''
  return tempProject(minimalConfig(role + extra), withState ? { '.mlops/state.json': STATE } : {})
}

async function archiveEntries(uri: string): Promise<string[]> {
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!
  const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray())
  const names: string[] = []
  await new Promise<void>((resolve, reject) => {
    Readable.from(body)
      .pipe(
        listTar({
          onReadEntry: (e) => {
            names.push(e.path)
          },
        }) as unknown as NodeJS.WritableStream,
      )
      .on('finish', resolve)
      .on('error', reject)
  })
  return names.sort()
}

describe('mlops deploy on moto', () => {
  it('creates model, config and an InService endpoint with the right image and environment, smoke-tests it', async () => {
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    const dir = await project('', true, false)
    const run = await runMlops(['deploy', '--yes', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    const r = run.json()
    expect(r).toMatchObject({
      endpoint: 'dogs-endpoint',
      status: 'InService',
      action: 'created',
      endpointConfig: 'dogs-config-2026-11-22-10-00-00-000',
      model: 'dogs-model-2026-11-22-10-00-00-000',
      source: { uri: ARTIFACT, foundIn: 'state', jobName: 'dogs-train-2026-11-21-09-00-00-000' },
      variant: { kind: 'instance', instanceType: 'ml.m5.large', instanceCount: 1 },
      hourlyUsd: 0.115,
      modelUploaded: true,
      smokeTest: { image: 'sample.jpg', predictions: ANSWER.predictions.slice(0, 3) },
      cleanup: { keptConfigs: [], deletedConfigs: [], deletedModels: [] },
    })
    expect(r.modelDataUrl).toMatch(/^s3:\/\/dogs-data\/dogs\/models\/[0-9a-f]{64}\/model\.tar\.gz$/)
    expect(await archiveEntries(r.modelDataUrl)).toEqual([
      'classes.json',
      'config.yaml',
      'deployment.py',
      'inference.py',
      'model.pth',
      'model_def.py',
      'serve_compat.py',
      'url_fetch.py',
    ])

    const model = await sm.send(new DescribeModelCommand({ ModelName: r.model }))
    expect(model.PrimaryContainer).toMatchObject({
      Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1',
      ModelDataUrl: r.modelDataUrl,
      Environment: { SAGEMAKER_REGION: 'us-east-1' },
    })
    expect(model.ExecutionRoleArn).toBe('arn:aws:iam::123456789012:role/dogs-sagemaker')
    const config = await sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: r.endpointConfig }))
    expect(config.ProductionVariants).toEqual([
      expect.objectContaining({ VariantName: 'AllTraffic', ModelName: r.model, InitialInstanceCount: 1, InstanceType: 'ml.m5.large', InitialVariantWeight: 1 }),
    ])
    const endpoint = await sm.send(new DescribeEndpointCommand({ EndpointName: 'dogs-endpoint' }))
    expect(endpoint).toMatchObject({ EndpointStatus: 'InService', EndpointConfigName: r.endpointConfig })
    const tags = (await sm.send(new ListTagsCommand({ ResourceArn: endpoint.EndpointArn }))).Tags
    expect(tags).toEqual(
      expect.arrayContaining([
        { Key: 'mlops:project', Value: 'dogs' },
        { Key: 'mlops:managed-by', Value: 'mlops' },
      ]),
    )
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')).resources
    expect(
      state
        .filter((x: { kind: string }) => ['model', 'endpoint-config', 'endpoint'].includes(x.kind))
        .map((x: { kind: string; name: string }) => `${x.kind}:${x.name}`)
        .sort(),
    ).toEqual([`endpoint-config:${r.endpointConfig}`, 'endpoint:dogs-endpoint', `model:${r.model}`])
    // Progress and cost went to stderr.
    expect(run.stderr).toContain('costs $0.12/hour')
    expect(run.stderr).toContain('billed until `mlops teardown`')
  })

  it('a second deploy updates the same endpoint through a new config; old versions are pruned beyond keepVersions', async () => {
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    const dir = await project('endpoint:\n  keepVersions: 1\n')
    const clock = fastClock()
    const env = motoEnv(moto.endpoint)
    const results = []
    for (let i = 0; i < 3; i++) {
      const run = await runMlops(['deploy', '--yes', '--json', ...(i === 1 ? ['--instance-type', 'ml.c5.xlarge'] : [])], { cwd: dir, env, clock })
      expect(run.code, run.stderr).toBe(0)
      results.push(run.json())
      clock.advance(60_000)
    }
    const [first, second, third] = results
    expect(second).toMatchObject({ action: 'updated', previousConfig: first.endpointConfig, modelUploaded: false, variant: { instanceType: 'ml.c5.xlarge' } })
    expect(second.endpointConfig).not.toBe(first.endpointConfig)
    expect(second.modelDataUrl).toBe(first.modelDataUrl) // same model and code: same content address
    expect(second.cleanup).toEqual({ keptConfigs: [first.endpointConfig], deletedConfigs: [], deletedModels: [] })
    expect(third.cleanup).toEqual({ keptConfigs: [second.endpointConfig], deletedConfigs: [first.endpointConfig], deletedModels: [first.model] })

    const endpoints = (await sm.send(new ListEndpointsCommand({}))).Endpoints ?? []
    expect(endpoints.map((e) => e.EndpointName)).toEqual(['dogs-endpoint'])
    const d = await sm.send(new DescribeEndpointCommand({ EndpointName: 'dogs-endpoint' }))
    expect(d.EndpointConfigName).toBe(third.endpointConfig)
    const configs = ((await sm.send(new ListEndpointConfigsCommand({}))).EndpointConfigs ?? []).map((c) => c.EndpointConfigName).sort()
    expect(configs).toEqual([second.endpointConfig, third.endpointConfig].sort())
    const models = ((await sm.send(new ListModelsCommand({}))).Models ?? []).map((m) => m.ModelName).sort()
    expect(models).toEqual([second.model, third.model].sort())
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')).resources
    expect(
      state
        .filter((x: { kind: string }) => x.kind === 'endpoint-config')
        .map((x: { name: string }) => x.name)
        .sort(),
    ).toEqual(configs)
  })

  it('without a state file deploys the newest completed training job; --model takes a job name; human output shows the top 3', async () => {
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    await sm.send(
      new CreateTrainingJobCommand({
        TrainingJobName: 'dogs-train-2026-11-21-09-00-00-000',
        RoleArn: 'arn:aws:iam::123456789012:role/dogs-sagemaker',
        AlgorithmSpecification: { TrainingImage: 'img', TrainingInputMode: 'File' },
        OutputDataConfig: { S3OutputPath: 's3://dogs-data/output' },
        ResourceConfig: { InstanceType: 'ml.m5.large', InstanceCount: 1, VolumeSizeInGB: 10 },
        StoppingCondition: { MaxRuntimeInSeconds: 600 },
        // mlops tags every job it starts; without state, a job is the project's only when tagged so (issue 27).
        Tags: [{ Key: 'mlops:project', Value: 'dogs' }],
      }),
    )
    const dir = await project('', false)
    const run = await runMlops(['deploy', '--yes'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain(`Model: ${ARTIFACT} (job dogs-train-2026-11-21-09-00-00-000)`)
    expect(run.stdout).toContain('Endpoint dogs-endpoint is InService (created)')
    expect(run.stdout).toContain('1. Affenpinscher 91.0%  2. Afghan_hound 5.0%  3. Airedale_terrier 2.0%')
    const byName = await runMlops(['deploy', '--yes', '--json', '--model', 'dogs-train-2026-11-21-09-00-00-000', '--no-smoke-test'], {
      cwd: dir,
      env: motoEnv(moto.endpoint),
      clock: fastClock(Date.parse('2026-11-22T11:00:00Z')),
    })
    expect(byName.code, byName.stderr).toBe(0)
    expect(byName.json()).toMatchObject({ action: 'updated', source: { uri: ARTIFACT, foundIn: 'flag' }, smokeTest: { skipped: true } })
    const missing = await runMlops(['deploy', '--yes', '--model', 'dogs-train-nope'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('No training job or tuning job named dogs-train-nope')
  })

  it('a serverless deploy (on an image of the user’s own) uses a ServerlessConfig; a bad smoke answer fails with exit 1', async () => {
    await moto.setEndpointResults([{ Body: '<html>502 Bad Gateway</html>', ContentType: 'text/html' }])
    // The Ray Serve image refuses serverless (issue 25); a CPU image of the user's own keeps it.
    const dir = await project('endpoint:\n  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu\n')
    const run = await runMlops(['deploy', '--yes', '--serverless', '--memory', '3072', '--max-concurrency', '8'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('billed per request and compute time, nothing when idle')
    expect(run.stderr).toMatch(/Smoke test failed on endpoint dogs-endpoint .*not a prediction list \(not JSON\)/)
    expect(run.stderr).toContain('no previous version to go back to')
    const d = await sm.send(new DescribeEndpointCommand({ EndpointName: 'dogs-endpoint' }))
    const config = await sm.send(new DescribeEndpointConfigCommand({ EndpointConfigName: d.EndpointConfigName }))
    expect(config.ProductionVariants?.[0]).toMatchObject({ ServerlessConfig: { MemorySizeInMB: 3072, MaxConcurrency: 8 } })
    const model = await sm.send(new DescribeModelCommand({ ModelName: config.ProductionVariants?.[0].ModelName }))
    expect(model.PrimaryContainer?.Image).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu')
  })

  it('a missing model artifact is a clear usage error and creates nothing', async () => {
    const dir = await project()
    const run = await runMlops(['deploy', '--yes', '--model', 's3://dogs-data/output/none/output/model.tar.gz'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('No model artifact at s3://dogs-data/output/none/output/model.tar.gz')
    expect((await sm.send(new ListModelsCommand({}))).Models).toEqual([])
  })
})
