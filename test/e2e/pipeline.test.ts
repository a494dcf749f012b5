import { DescribeScalableTargetsCommand, ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling'
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2'
import { IAMClient, ListInstanceProfilesCommand, ListRolesCommand } from '@aws-sdk/client-iam'
import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda'
import { ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { ListEndpointConfigsCommand, ListEndpointsCommand, ListModelsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { create as createTar } from 'tar'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fastClock, makeSyntheticDataset, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const PREDICTION = {
  predictions: [
    { label: 'Golden retriever', index: 0, probability: 0.91 },
    { label: 'Labrador retriever', index: 1, probability: 0.06 },
    { label: 'Kuvasz', index: 2, probability: 0.03 },
  ],
  top_k: 3,
  model: { arch: 'resnet18' },
}
const LAMBDA_ANSWER = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    predictions: PREDICTION.predictions.map((p) => ({ breed: p.label, probability: p.probability })),
    endpointLatencyMs: 40,
    requestId: 'abcdef123456',
  }),
}

/**
 * Issue 10's end-to-end: every command of the pipeline, as a user runs them, against one moto
 * server; then status must price what runs, and teardown must leave nothing of the project but its
 * data. moto completes training instantly without an artifact, so the test puts a (tiny) one
 * where SageMaker would; the demo does the same with a really trained model.
 */
describe('the whole pipeline on moto', () => {
  let moto: MotoServer
  let dir: string
  let env: Record<string, string>
  beforeAll(async () => {
    moto = await startMoto()
    env = motoEnv(moto.endpoint)
    dir = await tempProject()
    makeSyntheticDataset(dir, { classes: 3, train: 4, valid: 2, test: 2, size: 32 })
  })
  afterAll(async () => moto?.stop())

  it('init, upload-data, train, train-ec2, deploy, lambda-setup, scale, invoke, audit-iam, status, teardown', async () => {
    // One clock for the whole session, a minute between commands, as when a person runs them.
    const clock = fastClock()
    const mlops = async (args: string[], expectCode = 0) => {
      clock.advance(60_000)
      const run = await runMlops(args, { cwd: dir, env, clock })
      expect(run.code, `mlops ${args.join(' ')}\n${run.stderr}`).toBe(expectCode)
      return run
    }
    await mlops(['init', '--project', 'pipe', '--bucket', 'pipe-data'])
    const cfgPath = path.join(dir, 'mlops.config.yaml')
    await writeFile(
      cfgPath,
      (await readFile(cfgPath, 'utf8'))
        .replace('instanceType: ml.g4dn.xlarge', 'instanceType: ml.m5.xlarge')
        .replace('sourceDir: scripts', `sourceDir: ${path.join(ROOT, 'scripts')}`),
    )

    const upload = (await mlops(['upload-data', '--yes', '--json'])).json()
    expect(upload.uploaded).toBe(24)
    // moto runs no command on the box, so this run's model never reaches S3; the SageMaker job
    // trained after it is the newer model, and that is what deploy must pick.
    await mlops(['train-ec2', '--yes', '--json'])
    const train = (await mlops(['train', '--instances', '2', '--yes', '--json'])).json()
    expect(train).toMatchObject({ status: 'Completed', distribution: { mode: 'native' } })

    // Where SageMaker would have written the model.
    const modelDir = path.join(dir, 'model')
    await mkdir(modelDir, { recursive: true })
    await writeFile(path.join(modelDir, 'model.pth'), 'weights')
    await writeFile(path.join(modelDir, 'classes.json'), JSON.stringify(['Golden retriever', 'Labrador retriever', 'Kuvasz']))
    await writeFile(path.join(modelDir, 'model-info.json'), JSON.stringify({ arch: 'resnet18', num_classes: 3, image_size: 32 }))
    await createTar({ cwd: modelDir, gzip: true, file: path.join(dir, 'model.tar.gz') }, ['model.pth', 'classes.json', 'model-info.json'])
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(train.modelArtifact)!
    const s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await readFile(path.join(dir, 'model.tar.gz')) }))

    await moto.setEndpointResults(Array.from({ length: 10 }, () => ({ Body: JSON.stringify(PREDICTION), ContentType: 'application/json' })))
    await moto.setLambdaResults(Array.from({ length: 10 }, () => JSON.stringify(LAMBDA_ANSWER)))
    const deploy = (await mlops(['deploy', '--yes', '--json'])).json()
    expect(JSON.stringify(deploy)).toContain(train.jobName)
    expect(JSON.stringify(deploy)).toContain('pipe-endpoint')
    await mlops(['lambda-setup', '--yes'])
    await mlops(['scale', '--min', '1', '--max', '3', '--yes'])
    await mlops(['scale', '--lambda-reserved', '5', '--lambda-provisioned', '1', '--yes'])
    const invoked = await mlops(['invoke', path.join(ROOT, 'assets/sample.jpg'), '--top', '3'])
    expect(invoked.stdout).toContain('Golden retriever')
    const viaLambda = await mlops(['invoke', path.join(ROOT, 'assets/sample.jpg'), '--lambda'])
    expect(viaLambda.stdout).toContain('Golden retriever')

    // The roles mlops created pass its own audit: nothing above low.
    const audit = (await mlops(['audit-iam', '--fail-on', 'medium', '--json'])).json()
    const auditedRoles = JSON.stringify(audit)
    for (const role of ['pipe-sagemaker', 'pipe-lambda', 'pipe-ec2']) expect(auditedRoles).toContain(role)

    const status = (await mlops(['status', '--json'])).json()
    expect(status.endpoints).toEqual([expect.objectContaining({ name: 'pipe-endpoint', status: 'InService', instanceType: 'ml.m5.large', hourly: 0.115 })])
    expect(status.functions).toEqual([expect.objectContaining({ name: 'pipe-invoke', provisioned: expect.objectContaining({ executions: 1 }) })])
    expect(status.functions[0].hourly).toBeGreaterThan(0)
    expect(status.scalingTargets).toEqual([expect.objectContaining({ resourceId: 'endpoint/pipe-endpoint/variant/AllTraffic', min: 1, max: 3 })])
    expect(status.roles.map((r: { name: string }) => r.name).sort()).toEqual(['pipe-ec2', 'pipe-lambda', 'pipe-sagemaker'])
    expect(status.instances).toEqual([]) // train-ec2 never leaves its box running
    expect(status.data).toMatchObject({ bucket: 'pipe-data' })
    // Grouped by kind: the model archive and code package the pipeline uploaded show beside the dataset.
    expect(status.data.groups.map((g: { kind: string }) => g.kind)).toEqual(['dataset', 'job outputs', 'model archives', 'code packages'])
    expect(status.data.groups[0]).toMatchObject({ kind: 'dataset', prefix: 'dogImages/', objects: 24 })
    expect(status.hourlyTotal).toBeCloseTo(0.115 + status.functions[0].hourly, 4)

    const down = (await mlops(['teardown', '--yes', '--json'])).json()
    expect(down.failed).toEqual([])
    expect(down.left).toEqual([
      expect.stringMatching(/^dataset s3:\/\/pipe-data\/dogImages\/ \(24 objects, [\d.]+ [KM]?B\)$/),
      expect.stringMatching(/^job outputs s3:\/\/pipe-data\/output\/, s3:\/\/pipe-data\/pipe\/checkpoints\/ \(\d+ objects?, /),
      expect.stringMatching(/^model archives s3:\/\/pipe-data\/pipe\/models\/ \(\d+ objects?, /),
      expect.stringMatching(/^code packages s3:\/\/pipe-data\/pipe\/code\/ \(\d+ objects?, /),
    ])

    const cfg = motoClientConfig(moto.endpoint)
    const sm = new SageMakerClient(cfg)
    expect((await sm.send(new ListEndpointsCommand({}))).Endpoints).toEqual([])
    expect((await sm.send(new ListEndpointConfigsCommand({}))).EndpointConfigs).toEqual([])
    expect((await sm.send(new ListModelsCommand({}))).Models).toEqual([])
    expect((await new LambdaClient(cfg).send(new ListFunctionsCommand({}))).Functions).toEqual([])
    const roles = (await new IAMClient(cfg).send(new ListRolesCommand({}))).Roles ?? []
    expect(roles.filter((r) => r.RoleName!.startsWith('pipe-'))).toEqual([])
    expect((await new IAMClient(cfg).send(new ListInstanceProfilesCommand({}))).InstanceProfiles).toEqual([])
    const instances = (
      (await new EC2Client(cfg).send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:mlops:project', Values: ['pipe'] }] }))).Reservations ?? []
    ).flatMap((r) => r.Instances ?? [])
    expect(instances.every((i) => i.State?.Name === 'terminated')).toBe(true)
    expect(
      (await new EC2Client(cfg).send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:mlops:project', Values: ['pipe'] }] }))).SecurityGroups,
    ).toEqual([])
    expect((await new ApplicationAutoScalingClient(cfg).send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker' }))).ScalableTargets).toEqual(
      [],
    )
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'pipe-data', Prefix: 'dogImages/' }))).KeyCount).toBe(24)

    const again = await mlops(['teardown', '--yes'])
    expect(again.stdout).toContain('Nothing to tear down for project pipe.')
  })
})
