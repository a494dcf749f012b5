import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { beforeEach, describe, expect, it } from 'vitest'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * `evaluate --endpoint` and `predict --endpoint|--lambda` against in-process fakes that answer by
 * the image sent: exact request shapes, per-class accuracy, resume, S3 prefixes, the bounded pool.
 */

const rt = sdkMock(SageMakerRuntimeClient)
const lambda = sdkMock(LambdaClient)
const s3 = sdkMock(S3Client)
const factory = fakeAwsFactory()

const CLASSES = ['Affenpinscher', 'Afghan hound', 'Airedale terrier']
/** A JPEG-looking file whose bytes name the class the fake model answers for it. */
const jpeg = (answer: number) => Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x10 + answer, 1, 2, 3])
const answerOf = (bytes: Uint8Array) => bytes[4] - 0x10

/** The model's answer: `answer` first (0.7), then the others in index order. */
function answer(first: number, topK: number) {
  const order = [first, ...CLASSES.map((_, i) => i).filter((i) => i !== first)]
  const probs = [0.7, 0.2, 0.1]
  return {
    predictions: order.slice(0, topK).map((i, r) => ({ label: CLASSES[i], index: i, probability: probs[r] })),
    top_k: Math.min(topK, 3),
    model: { arch: 'resnet18' },
  }
}

/** Answers InvokeEndpoint from the body (raw bytes, or JSON with base64 and top_k); counts requests in flight. */
function endpointAnswers(clock = fastClock()) {
  const seen = { inFlight: 0, most: 0, calls: 0 }
  rt.on(InvokeEndpointCommand).callsFake(async (input: { Body: Uint8Array; ContentType: string }) => {
    seen.calls++
    seen.inFlight++
    seen.most = Math.max(seen.most, seen.inFlight)
    await new Promise((r) => setTimeout(r, 2))
    seen.inFlight--
    let bytes = input.Body
    let topK = 5
    if (input.ContentType === 'application/json') {
      const doc = JSON.parse(Buffer.from(input.Body).toString('utf8')) as { image: string; top_k: number }
      bytes = Buffer.from(doc.image, 'base64')
      topK = doc.top_k
    }
    clock.advance(50)
    return { Body: new TextEncoder().encode(JSON.stringify(answer(answerOf(bytes), topK))), ContentType: 'application/json' }
  })
  return seen
}

/** test/: class 0 all right (2), class 1 one of two right, class 2 wrong (answered as class 0). */
const FILES = {
  'dogImages/test/001.Affenpinscher/a1.jpg': jpeg(0),
  'dogImages/test/001.Affenpinscher/a2.jpg': jpeg(0),
  'dogImages/test/002.Afghan_hound/b1.jpg': jpeg(1),
  'dogImages/test/002.Afghan_hound/b2.jpg': jpeg(2),
  'dogImages/test/003.Airedale_terrier/c1.jpg': jpeg(0),
  'dogImages/test/.DS_Store': Buffer.from('x'),
  'dogImages/test/003.Airedale_terrier/notes.txt': Buffer.from('not an image'),
}

let dir: string
beforeEach(async () => {
  dir = await tempProject(minimalConfig(), FILES)
})
const mlops = (args: string[], clock = fastClock()) => runMlops(args, { cwd: dir, awsFactory: factory, clock })

describe('evaluate --endpoint', () => {
  it('sends every image asking for every class, 4 at a time, and writes the same evaluation as the local path', async () => {
    const seen = endpointAnswers()
    const run = await mlops(['evaluate', '--endpoint', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain(
      '5 requests (40 B of images), 4 at a time, about 1 s to endpoint dogs-endpoint: no charge per request; it bills per instance-hour whether called or not (1 x ml.m5.large: <$0.0001 of its time for this run, plus $0.016/GB data processed).',
    )
    expect(seen.calls).toBe(5)
    expect(seen.most).toBeLessThanOrEqual(4)
    expect(rt).toHaveReceivedCommandWith(InvokeEndpointCommand, {
      EndpointName: 'dogs-endpoint',
      ContentType: 'application/json',
      Accept: 'application/json',
      Body: new Uint8Array(Buffer.from(JSON.stringify({ image: jpeg(2).toString('base64'), top_k: 1000 }))),
    })
    const r = run.json()
    expect(r).toMatchObject({ model: 'endpoint dogs-endpoint', split: 'test', images: 5, top1Accuracy: 0.6, top5Accuracy: 1 })
    const byLabel = Object.fromEntries(r.perClass.map((p: { label: string }) => [p.label, p]))
    expect(byLabel['Affenpinscher']).toMatchObject({ recall: 1, precision: 0.6667, support: 2, predicted: 3 })
    expect(byLabel['Afghan hound']).toMatchObject({ recall: 0.5, precision: 1, support: 2 })
    expect(byLabel['Airedale terrier']).toMatchObject({ recall: 0, precision: 0, support: 1 })
    const ev = JSON.parse(await readFile(r.output, 'utf8'))
    expect(r.output).toBe(path.join(dir, '.mlops', 'evaluate', 'dogs-endpoint-test.json'))
    expect(ev.classes).toEqual(CLASSES)
    expect(ev.confusion).toEqual([
      [2, 0, 0],
      [0, 1, 1],
      [1, 0, 0],
    ])
    // Worst first: the lowest probability on the true class, then the file.
    expect(ev.worst.map((w: { file: string }) => w.file)).toEqual(['002.Afghan_hound/b2.jpg', '003.Airedale_terrier/c1.jpg'])
    expect(ev.worst[0]).toMatchObject({ true: 'Afghan hound', predicted: 'Airedale terrier', confidence: 0.7, true_probability: 0.1 })
    expect(ev.worst[0].thumbnail).toBe(`data:image/jpeg;base64,${jpeg(2).toString('base64')}`)
  })

  it('--endpoint <name> --concurrency 1 sends one at a time to that endpoint; a bad --concurrency is exit 2 naming it', async () => {
    const seen = endpointAnswers()
    const run = await mlops(['evaluate', '--endpoint', 'other-endpoint', '--concurrency', '1', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(seen.most).toBe(1)
    expect(rt).toHaveReceivedCommandWith(InvokeEndpointCommand, { EndpointName: 'other-endpoint' })
    // Not the project's endpoint: its instances are unknown, so no price is made up.
    expect(run.stderr).toContain(
      'to endpoint other-endpoint: no charge per request; it bills per instance-hour whether called or not, plus $0.016/GB data processed.',
    )
    const bad = await mlops(['evaluate', '--endpoint', '--concurrency', '0'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--concurrency: must be at least 1')
    const mixed = await mlops(['evaluate', '--endpoint', '--model', 'x.tar.gz'])
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toContain('--endpoint evaluates the deployed model; --model is for a local model.')
  })

  it('--dry-run plans one InvokeEndpoint per image and states the cost, sending nothing', async () => {
    const run = await runMlops(['evaluate', '--endpoint', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({
      dryRun: true,
      operations: [
        {
          service: 'sagemaker-runtime',
          operation: 'InvokeEndpoint',
          input: {
            EndpointName: 'dogs-endpoint',
            ContentType: 'application/json',
            Accept: 'application/json',
            Body: '<each image as {"image": base64, "top_k": 1000}>',
          },
        },
      ],
      images: 5,
      concurrency: 4,
    })
  })
})

describe('predict --endpoint / --lambda', () => {
  it('writes one row per image with the raw-bytes request invoke sends, reports per-class accuracy, and resumes', async () => {
    const seen = endpointAnswers()
    const run = await mlops(['predict', 'dogImages/test', '--endpoint', '-o', 'p.csv', '--top', '2', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(rt).toHaveReceivedCommandWith(InvokeEndpointCommand, {
      EndpointName: 'dogs-endpoint',
      ContentType: 'image/jpeg',
      Accept: 'application/json',
      Body: new Uint8Array(jpeg(1)),
    })
    expect(run.json()).toMatchObject({ model: 'endpoint dogs-endpoint', images: 5, predicted: 5, skipped: 0, accuracy: 0.6 })
    expect(run.json().perClass).toEqual([
      { label: 'Airedale terrier', images: 1, correct: 0, accuracy: 0 },
      { label: 'Afghan hound', images: 2, correct: 1, accuracy: 0.5 },
      { label: 'Affenpinscher', images: 2, correct: 2, accuracy: 1 },
    ])
    const csv = (await readFile(path.join(dir, 'p.csv'), 'utf8')).trim().split('\n')
    expect(csv[0]).toBe('file,true_label,label_1,probability_1,label_2,probability_2,error')
    expect(csv.slice(1).sort()).toEqual([
      '001.Affenpinscher/a1.jpg,Affenpinscher,Affenpinscher,0.7,Afghan hound,0.2,',
      '001.Affenpinscher/a2.jpg,Affenpinscher,Affenpinscher,0.7,Afghan hound,0.2,',
      '002.Afghan_hound/b1.jpg,Afghan hound,Afghan hound,0.7,Affenpinscher,0.2,',
      '002.Afghan_hound/b2.jpg,Afghan hound,Airedale terrier,0.7,Affenpinscher,0.2,',
      '003.Airedale_terrier/c1.jpg,Airedale terrier,Affenpinscher,0.7,Afghan hound,0.2,',
    ])
    // Resume: three rows kept from an interrupted run; only the other two are sent.
    await (await import('node:fs/promises')).writeFile(path.join(dir, 'p.csv'), [csv[0], ...csv.slice(1, 4)].join('\n') + '\n')
    seen.calls = 0
    const again = await mlops(['predict', 'dogImages/test', '--endpoint', '-o', 'p.csv', '--top', '2', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(seen.calls).toBe(2)
    expect(again.json()).toMatchObject({ predicted: 2, skipped: 3, images: 5, accuracy: 0.6 })
    expect((await readFile(path.join(dir, 'p.csv'), 'utf8')).trim().split('\n')).toHaveLength(6)
  })

  it('shows progress with the time left on stderr (a terminal), and nothing of it on stdout', async () => {
    const clock = fastClock()
    endpointAnswers(clock)
    const run = await runMlops(['predict', 'dogImages/test', '--endpoint', '--concurrency', '1', '-o', 'p.csv'], {
      cwd: dir,
      awsFactory: factory,
      clock,
      tty: true,
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toMatch(/Predicting +40% 2\/5 +0 s left/)
    expect(run.stdout).not.toContain('left')
  })

  it('Ctrl-C stops taking images, keeps the rows that came back, and the next run sends only the rest', async () => {
    const seen = endpointAnswers()
    const controller = new AbortController()
    rt.on(InvokeEndpointCommand).callsFake(async (input: { Body: Uint8Array }) => {
      seen.calls++
      if (seen.calls === 2) controller.abort() // Ctrl-C while the second image is in flight
      return { Body: new TextEncoder().encode(JSON.stringify(answer(answerOf(input.Body), 5))), ContentType: 'application/json' }
    })
    const run = await runMlops(['predict', 'dogImages/test', '--endpoint', '--concurrency', '1', '-o', 'p.jsonl'], {
      cwd: dir,
      awsFactory: factory,
      signal: controller.signal,
    })
    expect(run.code).toBe(130)
    const kept = (await readFile(path.join(dir, 'p.jsonl'), 'utf8')).trim().split('\n')
    expect(kept.map((l) => JSON.parse(l).file)).toEqual(['001.Affenpinscher/a1.jpg', '001.Affenpinscher/a2.jpg'])
    seen.calls = 0
    const again = await mlops(['predict', 'dogImages/test', '--endpoint', '--concurrency', '1', '-o', 'p.jsonl', '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(seen.calls).toBe(3)
    expect(again.json()).toMatchObject({ predicted: 3, skipped: 2, images: 5 })
  })

  it('an image the model refuses is an error row; a missing endpoint stops the run (exit 2) keeping the rows done', async () => {
    rt.on(InvokeEndpointCommand)
      .resolvesOnce({ Body: new TextEncoder().encode(JSON.stringify(answer(0, 5))), ContentType: 'application/json' } as never)
      .rejectsOnce(
        Object.assign(new Error('Received client error (400) from primary with message "not an image"'), {
          name: 'ModelError',
          OriginalStatusCode: 400,
          $metadata: { httpStatusCode: 424 },
        }),
      )
      .rejects(
        Object.assign(new Error('Endpoint dogs-endpoint of account 123456789012 not found.'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }),
      )
    const run = await mlops(['predict', 'dogImages/test', '--endpoint', '--concurrency', '1', '-o', 'p.jsonl'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('Endpoint dogs-endpoint does not exist')
    const rows = (await readFile(path.join(dir, 'p.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(rows).toHaveLength(2)
    expect(rows[0]).toMatchObject({ file: '001.Affenpinscher/a1.jpg', label: 'Affenpinscher', predictions: answer(0, 5).predictions })
    expect(rows[1]).toMatchObject({ file: '001.Affenpinscher/a2.jpg', label: 'Affenpinscher' })
    expect(rows[1].error).toContain('could not answer (HTTP 400 from the model)')
  })

  it('an s3:// prefix is listed page by page and each image read; --lambda sends {"image", "top_k"} to the live alias', async () => {
    s3.on(ListObjectsV2Command, { Bucket: 'dogs-data', Prefix: 'new/', ContinuationToken: undefined }).resolves({
      Contents: [
        { Key: 'new/001.Affenpinscher/x.jpg', Size: 8 },
        { Key: 'new/readme.md', Size: 3 },
      ],
      IsTruncated: true,
      NextContinuationToken: 't2',
    })
    s3.on(ListObjectsV2Command, { Bucket: 'dogs-data', Prefix: 'new/', ContinuationToken: 't2' }).resolves({
      Contents: [{ Key: 'new/003.Airedale_terrier/y.jpg', Size: 8 }],
      IsTruncated: false,
    })
    s3.on(GetObjectCommand).callsFake((input: { Key: string }) => ({
      ContentLength: 8,
      Body: Readable.from([input.Key.includes('/x.jpg') ? jpeg(0) : jpeg(1)]),
    }))
    lambda.on(InvokeCommand).callsFake((input: { Payload: Uint8Array }) => {
      const event = JSON.parse(Buffer.from(input.Payload).toString('utf8')) as { image: string; top_k: number }
      const first = answerOf(Buffer.from(event.image, 'base64'))
      const body = { predictions: answer(first, event.top_k).predictions.map((p) => ({ breed: p.label, probability: p.probability })), requestId: 'r1' }
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify({ statusCode: 200, body: JSON.stringify(body) })) }
    })
    const run = await mlops(['predict', 's3://dogs-data/new', '--lambda', '--top', '3', '-o', 's3.jsonl', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2)
    expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'dogs-data', Key: 'new/001.Affenpinscher/x.jpg' })
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: 'dogs-invoke',
      Qualifier: 'live',
      Payload: Buffer.from(JSON.stringify({ image: jpeg(0).toString('base64'), top_k: 3 })),
    })
    expect(run.json()).toMatchObject({ model: 'Lambda dogs-invoke', images: 2, predicted: 2, accuracy: 0.5 })
    const rows = (await readFile(path.join(dir, 's3.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(rows.map((r) => r.file).sort()).toEqual(['001.Affenpinscher/x.jpg', '003.Airedale_terrier/y.jpg'])
  })

  it('refuses what cannot work before sending anything (exit 2, naming the flag)', async () => {
    const cases: [string[], string][] = [
      [['predict', 's3://dogs-data/new'], 'an s3:// prefix is read by the deployed model only'],
      [['predict', 'dogImages/test', '--lambda', '--top', '30'], '--top 30: the Lambda answers at most 20 classes per image.'],
      [['predict', 'dogImages/test', '--endpoint', '--lambda'], '--endpoint and --lambda each choose the model; pass one.'],
      [['predict', 'dogImages/test', '--concurrency', '2'], '--concurrency only applies with --endpoint or --lambda.'],
      [['predict', 'nowhere', '--endpoint'], '<folder> nowhere is neither a folder nor an s3:// prefix.'],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(args, { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })
})
