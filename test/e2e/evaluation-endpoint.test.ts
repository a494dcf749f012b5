import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `evaluate --endpoint` and `predict --endpoint` on moto: real InvokeEndpoint, ListObjectsV2 and
 * GetObject requests over HTTP. moto answers InvokeEndpoint from a queue, one entry per distinct
 * body, so with --concurrency 1 the sorted images get the answers in the order they are queued.
 */

const CLASSES = ['Affenpinscher', 'Afghan hound', 'Airedale terrier']
const jpeg = (n: number) => Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x40 + n, 9, 9, 9])
/** The endpoint's answer naming `first` as the top class, every class with its index. */
const answer = (first: number) => ({
  Body: JSON.stringify({
    predictions: [first, ...[0, 1, 2].filter((i) => i !== first)].map((i, r) => ({ label: CLASSES[i], index: i, probability: [0.8, 0.15, 0.05][r] })),
    top_k: 3,
    model: { arch: 'resnet18' },
  }),
  ContentType: 'application/json',
})

/** Sorted as mlops sends them; the answer each gets: 2 of 2, 1 of 2, 0 of 1 right. */
const IMAGES: [string, number][] = [
  ['001.Affenpinscher/a1.jpg', 0],
  ['001.Affenpinscher/a2.jpg', 0],
  ['002.Afghan_hound/b1.jpg', 1],
  ['002.Afghan_hound/b2.jpg', 2],
  ['003.Airedale_terrier/c1.jpg', 1],
]

let moto: MotoServer
let dir: string
beforeAll(async () => {
  moto = await startMoto()
})
afterAll(async () => moto?.stop())
beforeEach(async () => {
  await moto.reset()
  const sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  await sm.send(
    new CreateModelCommand({
      ModelName: 'm',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
      PrimaryContainer: { Image: 'img', ModelDataUrl: 's3://b/m.tar.gz' },
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'c',
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'm', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
    }),
  )
  await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'c' }))
  dir = await tempProject(minimalConfig(), Object.fromEntries(IMAGES.map(([file], i) => [`dogImages/test/${file}`, jpeg(i)])))
})

const mlops = (args: string[]) => runMlops(args, { cwd: dir, env: motoEnv(moto.endpoint), clock: fastClock() })

describe('evaluation through the endpoint on moto', () => {
  it('evaluate --endpoint: per-class precision and recall, confusion and top-1 from the answers', async () => {
    await moto.setEndpointResults(IMAGES.map(([, first]) => answer(first)))
    const run = await mlops(['evaluate', '--endpoint', '--concurrency', '1', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('5 requests (40 B of images), 1 at a time')
    const r = run.json()
    expect(r).toMatchObject({ model: 'endpoint dogs-endpoint', images: 5, top1Accuracy: 0.6, top5Accuracy: 1 })
    expect(r.perClass.map((p: { label: string; recall: number; precision: number }) => [p.label, p.recall, p.precision])).toEqual([
      ['Airedale terrier', 0, 0],
      ['Afghan hound', 0.5, 0.5],
      ['Affenpinscher', 1, 1],
    ])
    const ev = JSON.parse(await readFile(r.output, 'utf8'))
    expect(ev.confusion).toEqual([
      [2, 0, 0],
      [0, 1, 1],
      [0, 1, 0],
    ])
  })

  it('predict s3://prefix --endpoint: lists and reads the objects, one row each, per-class accuracy, and resumes', async () => {
    const s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
    for (const [[file], i] of IMAGES.map((x, i) => [x, i] as const))
      await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: `new/${file}`, Body: jpeg(i) }))
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: 'new/README.md', Body: 'not an image' }))
    await moto.setEndpointResults(IMAGES.map(([, first]) => answer(first)))
    const run = await mlops(['predict', 's3://dogs-data/new/', '--endpoint', '--concurrency', '1', '-o', 'out.csv', '--top', '2', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ images: 5, predicted: 5, accuracy: 0.6 })
    expect(run.json().perClass).toEqual([
      { label: 'Airedale terrier', images: 1, correct: 0, accuracy: 0 },
      { label: 'Afghan hound', images: 2, correct: 1, accuracy: 0.5 },
      { label: 'Affenpinscher', images: 2, correct: 2, accuracy: 1 },
    ])
    const lines = (await readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n')
    expect(lines).toEqual([
      'file,true_label,label_1,probability_1,label_2,probability_2,error',
      '001.Affenpinscher/a1.jpg,Affenpinscher,Affenpinscher,0.8,Afghan hound,0.15,',
      '001.Affenpinscher/a2.jpg,Affenpinscher,Affenpinscher,0.8,Afghan hound,0.15,',
      '002.Afghan_hound/b1.jpg,Afghan hound,Afghan hound,0.8,Affenpinscher,0.15,',
      '002.Afghan_hound/b2.jpg,Afghan hound,Airedale terrier,0.8,Affenpinscher,0.15,',
      '003.Airedale_terrier/c1.jpg,Airedale terrier,Afghan hound,0.8,Affenpinscher,0.15,',
    ])
    // An interrupted run left the first three: the next one predicts only the last two.
    await writeFile(path.join(dir, 'out.csv'), lines.slice(0, 4).join('\n') + '\n')
    const again = await mlops(['predict', 's3://dogs-data/new/', '--endpoint', '--concurrency', '1', '-o', 'out.csv', '--top', '2', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.json()).toMatchObject({ predicted: 2, skipped: 3, images: 5, accuracy: 0.6 })
    expect((await readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n')).toEqual(lines)
  })
})
