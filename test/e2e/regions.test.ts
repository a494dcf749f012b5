import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateRoleCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, ListEndpointsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * One project, two regions, one (global) IAM (issue 27): `status --region eu-west-1` says what the
 * state file records in us-east-1 instead of a bare "$0.00/hour", and `teardown` in eu-west-1 keeps
 * the roles the live us-east-1 endpoint and Lambda use, naming them.
 */

const TAGS = [
  { Key: 'mlops:project', Value: 'dogs' },
  { Key: 'mlops:managed-by', Value: 'mlops' },
]
const trust = (service: string) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] })
const at = '2026-11-22T10:00:00.000Z'
const STATE = {
  version: 1,
  resources: [
    { kind: 'role', name: 'dogs-sagemaker', region: 'us-east-1', createdAt: at },
    { kind: 'role', name: 'dogs-lambda', region: 'us-east-1', createdAt: at },
    { kind: 'role', name: 'dogs-ec2', region: 'us-east-1', createdAt: at },
    { kind: 'model', name: 'dogs-model-2026-11-22-10-00-00-000', region: 'us-east-1', createdAt: at },
    { kind: 'endpoint-config', name: 'dogs-config-2026-11-22-10-00-00-000', region: 'us-east-1', createdAt: at },
    { kind: 'endpoint', name: 'dogs-endpoint', region: 'us-east-1', createdAt: at },
    { kind: 'function', name: 'dogs-invoke', region: 'us-east-1', createdAt: at },
  ],
}

let moto: MotoServer
let sm: SageMakerClient
let iam: IAMClient
beforeAll(async () => {
  moto = await startMoto()
  sm = new SageMakerClient(motoClientConfig(moto.endpoint, 'us-east-1'))
  iam = new IAMClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => moto?.stop())
beforeEach(async () => {
  await moto.reset()
  await new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
  for (const [name, svc] of [
    ['dogs-sagemaker', 'sagemaker.amazonaws.com'],
    ['dogs-lambda', 'lambda.amazonaws.com'],
    ['dogs-ec2', 'ec2.amazonaws.com'],
  ]) {
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust(svc), Tags: TAGS }))
  }
  // The live endpoint in us-east-1, its model running as dogs-sagemaker.
  await sm.send(
    new CreateModelCommand({
      ModelName: 'dogs-model-2026-11-22-10-00-00-000',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/dogs-sagemaker',
      PrimaryContainer: { Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1', ModelDataUrl: 's3://dogs-data/m.tar.gz' },
      Tags: TAGS,
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'dogs-config-2026-11-22-10-00-00-000',
      ProductionVariants: [
        { VariantName: 'AllTraffic', ModelName: 'dogs-model-2026-11-22-10-00-00-000', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 },
      ],
      Tags: TAGS,
    }),
  )
  await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-2026-11-22-10-00-00-000', Tags: TAGS }))
})

const roles = async () =>
  ((await iam.send(new ListRolesCommand({}))).Roles ?? [])
    .map((r) => r.RoleName!)
    .filter((n) => n.startsWith('dogs-'))
    .sort()

describe('a project in two regions', () => {
  it('status in eu-west-1 says what runs in us-east-1 (and that it is not counted)', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/state.json': JSON.stringify(STATE) })
    const env = motoEnv(moto.endpoint)
    const json = await runMlops(['status', '--region', 'eu-west-1', '--json'], { cwd: dir, env })
    expect(json.code, json.stderr).toBe(0)
    expect(json.json()).toMatchObject({
      region: 'eu-west-1',
      endpoints: [],
      hourlyTotal: 0,
      elsewhere: [
        {
          region: 'us-east-1',
          resources: [
            'model dogs-model-2026-11-22-10-00-00-000',
            'endpoint config dogs-config-2026-11-22-10-00-00-000',
            'endpoint dogs-endpoint',
            'Lambda function dogs-invoke',
          ],
        },
      ],
    })
    const human = await runMlops(['status', '--region', 'eu-west-1'], { cwd: dir, env })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain('In other regions (recorded in .mlops/state.json; not counted below):')
    expect(human.stdout).toContain(
      '  us-east-1: model dogs-model-2026-11-22-10-00-00-000, endpoint config dogs-config-2026-11-22-10-00-00-000, endpoint dogs-endpoint',
    )
    expect(human.stdout).toContain('(mlops status --region us-east-1)')
    expect(human.stdout).toContain('Running now in eu-west-1: $0.00/hour')
    // In its own region the endpoint is counted, and nothing is "elsewhere".
    const home = await runMlops(['status', '--json'], { cwd: dir, env })
    expect(home.json()).toMatchObject({ region: 'us-east-1', endpoints: [{ name: 'dogs-endpoint', hourly: 0.115 }] })
    expect(home.json().elsewhere).toBeUndefined()
  })

  it('teardown in eu-west-1 keeps the global roles the us-east-1 endpoint and Lambda use, naming them, and keeps their records', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/state.json': JSON.stringify(STATE) })
    const env = motoEnv(moto.endpoint)
    const down = await runMlops(['teardown', '--region', 'eu-west-1', '--yes', '--json'], { cwd: dir, env })
    expect(down.code, down.stderr).toBe(0)
    expect(down.stderr).toContain('(keeping IAM role dogs-sagemaker: model dogs-model-2026-11-22-10-00-00-000 in us-east-1, endpoint config')
    expect(down.stderr).toContain('(keeping IAM role dogs-lambda: Lambda function dogs-invoke in us-east-1 uses it)')
    expect(down.stderr).not.toContain('Deleting IAM role dogs-sagemaker')
    expect(down.stderr).not.toContain('Deleting IAM role dogs-lambda')
    const r = down.json()
    expect(r.deleted).toEqual(['IAM role dogs-ec2'])
    expect(r.kept).toEqual(expect.arrayContaining([expect.stringMatching(/^IAM role dogs-lambda \(Lambda function dogs-invoke in us-east-1 uses it\)$/)]))
    expect(r.left).toEqual(
      expect.arrayContaining([
        'IAM role dogs-lambda (kept: Lambda function dogs-invoke in us-east-1 uses it)',
        expect.stringMatching(
          /^in us-east-1 \(not torn down here; run `mlops teardown --region us-east-1`\): .*endpoint dogs-endpoint, Lambda function dogs-invoke$/,
        ),
      ]),
    )
    expect(await roles()).toEqual(['dogs-lambda', 'dogs-sagemaker'])
    expect((await sm.send(new ListEndpointsCommand({}))).Endpoints?.map((e) => e.EndpointName)).toEqual(['dogs-endpoint'])
    // The us-east-1 records stay: a later teardown there still knows what to remove and what the roles serve.
    const state = JSON.parse(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')) as { resources: { kind: string; name: string }[] }
    expect(state.resources.map((x) => `${x.kind}:${x.name}`).sort()).toEqual([
      'endpoint-config:dogs-config-2026-11-22-10-00-00-000',
      'endpoint:dogs-endpoint',
      'function:dogs-invoke',
      'model:dogs-model-2026-11-22-10-00-00-000',
      'role:dogs-lambda',
      'role:dogs-sagemaker',
    ])

    // Torn down in us-east-1, nothing is used elsewhere any more: the roles go too.
    const home = await runMlops(['teardown', '--yes', '--json'], { cwd: dir, env })
    expect(home.code, home.stderr).toBe(0)
    expect(home.json().deleted).toEqual(expect.arrayContaining(['endpoint dogs-endpoint', 'IAM role dogs-sagemaker', 'IAM role dogs-lambda']))
    expect(await roles()).toEqual([])
  })
})
