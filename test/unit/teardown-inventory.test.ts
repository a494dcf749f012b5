import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { GetBucketTaggingCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { GetFunctionCommand, GetFunctionUrlConfigCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { IAMClient } from '@aws-sdk/client-iam'
import { EC2Client } from '@aws-sdk/client-ec2'
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling'
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import { SNSClient } from '@aws-sdk/client-sns'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { SSMClient } from '@aws-sdk/client-ssm'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { collectInventory, type InventoryClients } from '../../src/features/project/inventory.js'
import { findOwnedData, ownedPrefixes } from '../../src/features/project/owned-data.js'
import { parseConfigText } from '../../src/config/load.js'
import { StateStore } from '../../src/shared/state.js'
import { FAKE_CREDENTIALS } from '../helpers/aws.js'

const opts = { region: 'us-east-1', credentials: FAKE_CREDENTIALS, maxAttempts: 1 }
const clients: InventoryClients = {
  sagemaker: new SageMakerClient(opts),
  lambda: new LambdaClient(opts),
  ec2: new EC2Client(opts),
  s3: new S3Client(opts),
  iam: new IAMClient(opts),
  autoscaling: new ApplicationAutoScalingClient(opts),
  cloudwatch: new CloudWatchClient(opts),
  sns: new SNSClient(opts),
  events: new EventBridgeClient(opts),
  ssm: new SSMClient(opts),
}
const mocks = {
  sagemaker: sdkMock(clients.sagemaker),
  lambda: sdkMock(clients.lambda),
  ec2: sdkMock(clients.ec2),
  s3: sdkMock(clients.s3),
  iam: sdkMock(clients.iam),
  autoscaling: sdkMock(clients.autoscaling),
  // Run notifications (issue 29): no rule, no topic, no webhook parameter.
  events: sdkMock(clients.events),
  sns: sdkMock(clients.sns),
  ssm: sdkMock(clients.ssm),
}
const cfg = parseConfigText('project:\n  name: dogs\ndata:\n  bucket: dogs-data\n', 'mlops.config.yaml')

/** An SDK-shaped service error. */
function awsError(name: string, status: number): Error {
  return Object.assign(new Error(`${name}: denied or missing`), { name, $metadata: { httpStatusCode: status } })
}

const notFound = () => awsError('ResourceNotFoundException', 404)

async function inventory() {
  const dir = await mkdtemp(path.join(tmpdir(), 'mlops-inv-'))
  return collectInventory(clients, cfg, 'us-east-1', new StateStore(dir), Date.parse('2026-12-01T00:00:00Z'))
}

beforeEach(() => {
  for (const m of Object.values(mocks) as { onAnyCommand(): { resolves(v: object): unknown } }[]) m.onAnyCommand().resolves({})
  // Nothing of the project exists: each lookup by name is "not found".
  mocks.sagemaker.on(DescribeEndpointCommand).rejects(notFound())
  mocks.lambda.on(GetFunctionCommand).rejects(notFound())
  mocks.iam.onAnyCommand().rejects(awsError('NoSuchEntity', 404))
  mocks.s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'data/train/a/1.jpg', Size: 10 }], KeyCount: 1 })
  mocks.s3.on(GetBucketTaggingCommand).rejects(awsError('NoSuchTagSet', 404))
})

describe('collectInventory: not found is an answer, every other error surfaces', () => {
  it('reads an untagged bucket (NoSuchTagSet) as not managed by mlops', async () => {
    const inv = await inventory()
    expect(inv.data).toMatchObject({ bucket: 'dogs-data', objects: 1, bytes: 10, bucketManagedByMlops: false })
    expect(inv.functions).toEqual([])
    expect(inv.roles).toEqual([])
  })

  it('AccessDenied on GetBucketTagging fails with the action named, instead of reporting the bucket as not ours', async () => {
    mocks.s3.on(GetBucketTaggingCommand).rejects(awsError('AccessDenied', 403))
    await expect(inventory()).rejects.toMatchObject({ code: 'AccessDenied', message: expect.stringContaining('s3:GetBucketTagging on dogs-data') })
  })

  it('AccessDenied on GetFunctionUrlConfig fails instead of hiding a public function URL', async () => {
    mocks.lambda.on(GetFunctionCommand).resolves({ Configuration: { MemorySize: 512 }, Tags: { 'mlops:project': 'dogs' } })
    mocks.lambda.on(GetFunctionUrlConfigCommand).rejects(awsError('AccessDeniedException', 403))
    await expect(inventory()).rejects.toMatchObject({ code: 'AccessDenied', message: expect.stringContaining('lambda:GetFunctionUrlConfig on dogs-') })
  })

  it('a function without a URL (ResourceNotFoundException) is listed without one', async () => {
    mocks.lambda.on(GetFunctionCommand, { FunctionName: 'dogs-invoke' }).resolves({ Configuration: { MemorySize: 512 }, Tags: { 'mlops:project': 'dogs' } })
    mocks.lambda.on(GetFunctionUrlConfigCommand).rejects(notFound())
    const inv = await inventory()
    expect(inv.functions).toHaveLength(1)
    expect(inv.functions[0].url).toBeUndefined()
    expect(inv.functions[0].memoryMb).toBe(512)
  })
})

describe('findOwnedData: one walk of each root prefix', () => {
  it('lists the data, output and project prefixes once, less those inside another, and sorts what it finds', async () => {
    const listed: (string | undefined)[] = []
    mocks.s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => {
      listed.push(input.Prefix)
      const keys: Record<string, string[]> = {
        'data/': ['data/train/a/1.jpg'],
        'output/': ['output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz', 'output/dogs-v2-train-2026-11-22-10-00-00-000/output/model.tar.gz'],
        'dogs/': ['dogs/checkpoints/j/c.pt', 'dogs/code/x/sourcedir.tar.gz', 'dogs/notes.txt'],
      }
      return { Contents: (keys[input.Prefix ?? ''] ?? []).map((Key) => ({ Key, Size: 1 })), IsTruncated: false }
    })
    mocks.s3.on(HeadObjectCommand).callsFake((input: { Key: string }) => ({ Metadata: input.Key.includes('/code/') ? { sha256: 'a'.repeat(64) } : {} }))
    const owned = await findOwnedData(clients.s3, cfg)
    expect(listed).toEqual(['data/', 'output/', 'dogs/'])
    expect(owned.keys).toEqual(['dogs/checkpoints/j/c.pt', 'dogs/code/x/sourcedir.tar.gz', 'output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz'])
    expect(owned.kept).toBe(3)
    // Inside the project prefix: listed with it.
    expect(ownedPrefixes(parseConfigText('project:\n  name: dogs\ndata:\n  bucket: dogs-data\n  prefix: dogs/data\n', 'mlops.config.yaml')).listed).toEqual([
      'output/',
      'dogs/',
    ])
  })
})

describe('collectInventory: what the bucket holds, by kind (issue 31 item 7)', () => {
  it('counts and sizes the dataset, job outputs, model archives and code packages, not only the dataset', async () => {
    const listed: (string | undefined)[] = []
    mocks.s3.on(ListObjectsV2Command).callsFake((input: { Prefix?: string }) => {
      listed.push(input.Prefix)
      const objects: Record<string, [string, number][]> = {
        'data/': [
          ['data/train/a/1.jpg', 100],
          ['data/train/b/2.jpg', 200],
        ],
        'output/': [
          ['output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz', 5000],
          ['output/dogs-v2-train-2026-11-22-10-00-00-000/output/model.tar.gz', 7000],
        ],
        'dogs/': [
          ['dogs/checkpoints/j/c.pt', 3000],
          ['dogs/models/abc/model.tar.gz', 83 * 1024 * 1024],
          ['dogs/code/x/sourcedir.tar.gz', 40],
          ['dogs/notes.txt', 1],
        ],
      }
      return { Contents: (objects[input.Prefix ?? ''] ?? []).map(([Key, Size]) => ({ Key, Size })), IsTruncated: false }
    })
    const inv = await inventory()
    expect(listed).toEqual(['data/', 'output/', 'dogs/'])
    // Another project's job output in a shared output prefix is not ours.
    expect(inv.data?.groups).toEqual([
      { kind: 'dataset', prefix: 'data/', objects: 2, bytes: 300 },
      { kind: 'job outputs', prefix: 'output/, dogs/checkpoints/', objects: 2, bytes: 8000 },
      { kind: 'model archives', prefix: 'dogs/models/', objects: 1, bytes: 83 * 1024 * 1024 },
      { kind: 'code packages', prefix: 'dogs/code/', objects: 1, bytes: 40 },
      { kind: 'other', prefix: 'dogs/', objects: 1, bytes: 1 },
    ])
    expect(inv.data).toMatchObject({ objects: 7, bytes: 300 + 8000 + 83 * 1024 * 1024 + 41 })
  })
})
