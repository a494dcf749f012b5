import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
  GetBucketOwnershipControlsCommand,
  GetBucketLifecycleConfigurationCommand,
} from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsClientFactory, type AwsClientFactory, type AwsSettings } from '../../src/aws/clients.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg, pngOfSize } from '../helpers/images.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

interface DatasetFile {
  readonly rel: string
  readonly content: Buffer
}

/** A dogImages-shaped dataset: 3 splits x 3 classes x 2 images of 500-3,000 random bytes. */
async function makeDataset(root: string): Promise<DatasetFile[]> {
  const classes = ['001.Affenpinscher', '002.Afghan_hound', '003.Airedale_terrier']
  const files: DatasetFile[] = []
  let seed = 7
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of classes) {
      await mkdir(path.join(root, split, cls), { recursive: true })
      for (let i = 0; i < 2; i++) {
        const content = Buffer.from(Array.from({ length: 500 + Math.floor(rand() * 2500) }, () => Math.floor(rand() * 256)))
        content.set([0xff, 0xd8, 0xff]) // a JPEG's signature: upload-data checks magic bytes
        const rel = `${split}/${cls}/${cls.slice(4)}_${String(i).padStart(5, '0')}.jpg`
        await writeFile(path.join(root, rel), content)
        files.push({ rel, content })
      }
    }
  }
  return files.sort((a, b) => (a.rel < b.rel ? -1 : 1))
}

let moto: MotoServer
let s3: S3Client
const BUCKET = 'dogs-data'

beforeAll(async () => {
  moto = await startMoto()
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
})
afterAll(async () => {
  s3?.destroy()
  await moto?.stop()
})
beforeEach(async () => {
  await moto.reset()
})

async function listKeys(bucket = BUCKET, Prefix?: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix }))
  return (out.Contents ?? []).map((o) => o.Key!).sort()
}

async function body(key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
  return Buffer.from(await out.Body!.transformToByteArray())
}

/** The real moto-backed factory, with every S3 command counted and an optional hook after each one. */
function counting(counts: Map<string, number>, after?: (command: string) => void) {
  return (settings: AwsSettings): AwsClientFactory => {
    const inner = createAwsClientFactory({ ...settings, maxAttempts: 1 })
    return (async (names: readonly string[]) => {
      const clients = (await inner(names as never)) as unknown as Record<string, S3Client>
      clients.s3?.middlewareStack.add(
        (next, context) => async (args) => {
          const out = await next(args)
          const name = String(context.commandName).replace(/Command$/, '')
          counts.set(name, (counts.get(name) ?? 0) + 1)
          after?.(name)
          return out
        },
        { step: 'initialize', name: 'testCounter' },
      )
      return clients
    }) as AwsClientFactory
  }
}

async function project(extra = '') {
  const dir = await tempProject(minimalConfig(extra))
  const files = await makeDataset(path.join(dir, 'dogImages'))
  return { dir, files, env: motoEnv(moto.endpoint) }
}

describe('upload-data on moto', () => {
  it('first run puts every file at its key with its sha256; a second run sends one listing and uploads nothing', async () => {
    const { dir, files, env } = await project()
    await writeFile(path.join(dir, 'dogImages/train/.DS_Store'), 'junk')
    const first = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(first.code, first.stderr).toBe(0)
    const r = first.json()
    expect(r).toMatchObject({
      uploaded: files.length,
      skipped: 0,
      deleted: 0,
      bytes: files.reduce((n, f) => n + f.content.length, 0),
      bucketCreated: true,
      channels: { train: `s3://${BUCKET}/data/train`, valid: `s3://${BUCKET}/data/valid`, test: `s3://${BUCKET}/data/test` },
      dataset: { validated: true, classes: 3, files: files.length, splits: { train: { files: 6, classes: 3 } }, skippedFiles: 1 },
    })
    expect(typeof r.seconds).toBe('number')
    expect(first.stderr).toContain('train/.DS_Store')
    expect(await listKeys()).toEqual(files.map((f) => `data/${f.rel}`).sort())
    const one = files[4]
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `data/${one.rel}` }))
    expect(head.Metadata?.sha256).toBe(createHash('sha256').update(one.content).digest('hex'))
    expect(head.ContentType).toBe('image/jpeg')
    expect(await body(`data/${one.rel}`)).toEqual(one.content)

    const counts = new Map<string, number>()
    const second = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env, awsFactory: counting(counts) })
    expect(second.code, second.stderr).toBe(0)
    expect(second.json()).toMatchObject({ uploaded: 0, skipped: files.length, deleted: 0, bytes: 0, headRequests: 0, bucketCreated: false })
    // One listing plus the bucket checks: nothing per file.
    expect(Object.fromEntries(counts)).toEqual({ HeadBucket: 1, GetPublicAccessBlock: 1, GetBucketPolicy: 1, GetBucketAcl: 1, ListObjectsV2: 1 })
  })

  it('changing one file (same size) uploads exactly that file', async () => {
    const { dir, files, env } = await project()
    expect((await runMlops(['upload-data', '--yes'], { cwd: dir, env })).code).toBe(0)
    const target = files[10]
    const changed = Buffer.from(target.content)
    changed[changed.length - 1] ^= 0xff // the last byte: the first ones are the JPEG signature
    await writeFile(path.join(dir, 'dogImages', target.rel), changed)
    const counts = new Map<string, number>()
    const run = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env, awsFactory: counting(counts) })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ uploaded: 1, skipped: files.length - 1, bytes: changed.length })
    expect(counts.get('PutObject')).toBe(1)
    expect(await body(`data/${target.rel}`)).toEqual(changed)
  })

  it('without the local record (another machine), a re-run asks HeadObject once per object and uploads nothing', async () => {
    const { dir, files, env } = await project()
    expect((await runMlops(['upload-data', '--yes'], { cwd: dir, env })).code).toBe(0)
    await rm(path.join(dir, '.mlops'), { recursive: true })
    const counts = new Map<string, number>()
    const run = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env, awsFactory: counting(counts) })
    expect(run.json()).toMatchObject({ uploaded: 0, skipped: files.length, headRequests: files.length })
    expect(counts.get('PutObject')).toBeUndefined()
    // ...and records the answers, so the next run is back to one listing.
    const again = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(again.json()).toMatchObject({ uploaded: 0, headRequests: 0 })
  })

  it('objects uploaded by hand without sha256 metadata are recognised by their MD5 ETag and not re-sent', async () => {
    const { dir, files, env } = await project()
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
    await Promise.all(files.map((f) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `data/${f.rel}`, Body: f.content }))))
    const run = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ uploaded: 0, skipped: files.length, headRequests: files.length, bucketCreated: false })
  })

  it('--delete lists the orphans, asks, and removes exactly them', async () => {
    const { dir, files, env } = await project()
    expect((await runMlops(['upload-data', '--yes'], { cwd: dir, env })).code).toBe(0)
    const gone = [files[0], files[14]]
    for (const f of gone) await rm(path.join(dir, 'dogImages', f.rel))
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data/stray/notes.txt', Body: 'x' }))
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'data2/keep.txt', Body: 'x' }))
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'models/keep.tar.gz', Body: 'x' }))

    const noDelete = await runMlops(['upload-data', '--json'], { cwd: dir, env })
    expect(noDelete.json()).toMatchObject({ uploaded: 0, deleted: 0, remoteOnly: 3 })

    const declined = await runMlops(['upload-data', '--delete'], { cwd: dir, env, answers: ['n'] })
    expect(declined.code).toBe(1)
    expect(declined.stderr).toContain('Cancelled: nothing was uploaded or deleted.')
    expect(declined.stderr).toContain(`s3://${BUCKET}/data/stray/notes.txt`)
    expect(await listKeys(BUCKET, 'data/')).toHaveLength(files.length + 1)

    const run = await runMlops(['upload-data', '--delete', '--json', '--yes'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ uploaded: 0, deleted: 3, remoteOnly: 0 })
    for (const f of gone) expect(run.stderr).toContain(`s3://${BUCKET}/data/${f.rel}`)
    const expected = files.filter((f) => !gone.includes(f)).map((f) => `data/${f.rel}`)
    expect(await listKeys()).toEqual([...expected, 'data2/keep.txt', 'models/keep.tar.gz'].sort())
  })

  it('a run interrupted midway exits 130; the re-run uploads only the rest and ends complete', async () => {
    const { dir, files, env } = await project()
    const controller = new AbortController()
    let puts = 0
    const interrupted = await runMlops(['upload-data', '--concurrency', '2', '--yes'], {
      cwd: dir,
      env,
      signal: controller.signal,
      awsFactory: counting(new Map(), (cmd) => {
        if (cmd === 'PutObject' && ++puts === 6) controller.abort()
      }),
    })
    expect(interrupted.code).toBe(130)
    expect(interrupted.stderr).toMatch(/Interrupted after uploading \d+ of 18 files/)
    expect(interrupted.stderr).toContain('Run the same command again to resume')
    const partial = await listKeys()
    expect(partial.length).toBeGreaterThanOrEqual(6)
    expect(partial.length).toBeLessThan(files.length)

    const counts = new Map<string, number>()
    const resumed = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env, awsFactory: counting(counts) })
    expect(resumed.code, resumed.stderr).toBe(0)
    const r = resumed.json()
    expect(r).toMatchObject({ uploaded: files.length - partial.length, skipped: partial.length })
    // A request cancelled by Ctrl-C may still have landed: its object has no local record, so one
    // HeadObject (per such object, at most concurrency - 1) confirms it instead of re-sending it.
    expect(r.headRequests).toBeLessThanOrEqual(1)
    expect(counts.get('PutObject')).toBe(files.length - partial.length)
    expect(await listKeys()).toEqual(files.map((f) => `data/${f.rel}`).sort())
    for (const f of files.slice(0, 3)) expect(await body(`data/${f.rel}`)).toEqual(f.content)
  })

  it('Ctrl-C during a multipart upload aborts it (no parts left behind); the re-run uploads the file whole', async () => {
    const { dir, env } = await project()
    const big = Buffer.alloc(17 * 1024 * 1024)
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251
    big.set(pngOfSize(8)) // a PNG's signature: upload-data checks magic bytes
    await writeFile(path.join(dir, 'dogImages/train/001.Affenpinscher/big.png'), big)
    const controller = new AbortController()
    const interrupted = await runMlops(['upload-data', '--yes'], {
      cwd: dir,
      env,
      signal: controller.signal,
      awsFactory: counting(new Map(), (cmd) => {
        if (cmd === 'UploadPart') controller.abort()
      }),
    })
    expect(interrupted.code).toBe(130)
    const mpu = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }))
    expect(mpu.Uploads ?? []).toEqual([])
    const resumed = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(resumed.code, resumed.stderr).toBe(0)
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'data/train/001.Affenpinscher/big.png' }))
    expect(head.ETag).toMatch(/-3"$/) // 8 MiB parts
    expect(head.Metadata?.sha256).toBe(createHash('sha256').update(big).digest('hex'))
    expect(head.ContentType).toBe('image/png')
    const again = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(again.json()).toMatchObject({ uploaded: 0, headRequests: 0 })
  })

  it('creates the bucket private, encrypted, TLS-only, tagged, with stale multipart uploads expiring', async () => {
    const { dir, env } = await project()
    expect((await runMlops(['upload-data', '--yes'], { cwd: dir, env })).code).toBe(0)
    const bpa = await s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }))
    expect(bpa.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true })
    const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: BUCKET }))
    expect(enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256')
    const policy = JSON.parse((await s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy!)
    expect(policy.Statement).toEqual([
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ])
    const tags = await s3.send(new GetBucketTaggingCommand({ Bucket: BUCKET }))
    expect(tags.TagSet).toEqual(
      expect.arrayContaining([
        { Key: 'mlops:project', Value: 'dogs' },
        { Key: 'mlops:managed-by', Value: 'mlops' },
      ]),
    )
    const own = await s3.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET }))
    expect(own.OwnershipControls?.Rules?.[0]?.ObjectOwnership).toBe('BucketOwnerEnforced')
    const life = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }))
    expect(life.Rules?.[0]?.AbortIncompleteMultipartUpload?.DaysAfterInitiation).toBe(7)
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8'))
    expect(state.resources).toEqual([expect.objectContaining({ kind: 'bucket', name: BUCKET, region: 'us-east-1' })])
  })

  it('refuses an existing public bucket, says why, and writes nothing', async () => {
    const { dir, env } = await project()
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }))
    await s3.send(
      new PutBucketPolicyCommand({
        Bucket: BUCKET,
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }],
        }),
      }),
    )
    const run = await runMlops(['upload-data', '--yes'], { cwd: dir, env })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(
      `Bucket ${BUCKET} is public, so mlops will not upload the dataset to it: bucket policy statement "PublicRead" allows s3:GetObject to everyone`,
    )
    expect(run.stderr).toContain('put-public-access-block')
    expect(await listKeys()).toEqual([])
  })

  it('rejects an invalid layout with exit 2, every problem named, and no bucket or object created', async () => {
    const { dir, env } = await project()
    await rm(path.join(dir, 'dogImages/valid/002.Afghan_hound'), { recursive: true })
    await mkdir(path.join(dir, 'dogImages/test/004.Akita'), { recursive: true })
    await writeFile(path.join(dir, 'dogImages/test/stray.jpg'), 'x')
    const run = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, env })
    expect(run.code).toBe(2)
    const err = run.json().error
    expect(err.code).toBe('InvalidDatasetLayout')
    expect(err.details.problems).toEqual([
      'test/004.Akita/: no images (a class needs at least one image in every split)',
      'test/stray.jpg: images must be inside a class folder (test/<class>/stray.jpg)',
      'train/ lacks 1 class that test/ has: 004.Akita',
      'valid/ lacks 2 classes that train/ and test/ have: 002.Afghan_hound, 004.Akita',
    ])
    await expect(s3.send(new HeadBucketCommand({ Bucket: BUCKET }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } })
  })

  it('--no-validate uploads another layout as it is', async () => {
    const dir = await tempProject(minimalConfig(), { 'flat/a.txt': 'a', 'flat/sub/b.bin': 'bb', 'flat/.hidden': 'c' })
    const run = await runMlops(['upload-data', '--source', 'flat', '--prefix', 'misc/v1', '--no-validate', '--json', '--yes'], {
      cwd: dir,
      env: motoEnv(moto.endpoint),
    })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ uploaded: 3, dataset: { validated: false, files: 3 }, channels: { train: `s3://${BUCKET}/misc/v1/train` } })
    expect(await listKeys()).toEqual(['misc/v1/.hidden', 'misc/v1/a.txt', 'misc/v1/sub/b.bin'])
  })

  it('--dry-run without credentials lists what would be uploaded and deleted, from the local record, and sends nothing', async () => {
    const { dir, files, env } = await project()
    const fresh = await runMlops(['upload-data', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.json()).toMatchObject({ dryRun: true, comparedWith: 'local-record', wouldUpload: files.length, wouldSkip: 0, wouldDelete: 0 })

    expect((await runMlops(['upload-data', '--yes'], { cwd: dir, env })).code).toBe(0)
    const before = await listKeys()
    const changed = files[3]
    await writeFile(path.join(dir, 'dogImages', changed.rel), Buffer.concat([changed.content, Buffer.from('!')]))
    await writeFile(path.join(dir, 'dogImages/test/003.Airedale_terrier/new.jpg'), jpeg('new image'))
    await rm(path.join(dir, 'dogImages', files[7].rel))

    const plan = await runMlops(['upload-data', '--dry-run', '--delete', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(plan.code, plan.stderr).toBe(0)
    const p = plan.json()
    expect(p).toMatchObject({ dryRun: true, wouldUpload: 2, wouldSkip: files.length - 2, wouldDelete: 1, deletes: [`data/${files[7].rel}`] })
    expect(p.uploads).toEqual(
      [
        { key: `data/${changed.rel}`, size: changed.content.length + 1, reason: 'changed' },
        { key: 'data/test/003.Airedale_terrier/new.jpg', size: 12, reason: 'new' },
      ].sort((a, b) => a.key.localeCompare(b.key)),
    )
    const ops = p.operations.map((o: { operation: string }) => o.operation)
    expect(ops).toEqual([
      'HeadBucket',
      'GetPublicAccessBlock',
      'GetBucketPolicy',
      'GetBucketAcl',
      'CreateBucket',
      'PutPublicAccessBlock',
      'PutBucketEncryption',
      'PutBucketPolicy',
      'PutBucketTagging',
      'PutBucketLifecycleConfiguration',
      'DeleteBucket',
      'ListObjectsV2',
      'PutObject',
      'PutObject',
      'DeleteObjects',
    ])
    const put = p.operations.find((o: { input: { Key: string } }) => o.input.Key === 'data/test/003.Airedale_terrier/new.jpg')
    const sha = createHash('sha256').update(jpeg('new image')).digest()
    expect(put.input).toMatchObject({
      Bucket: BUCKET,
      ContentType: 'image/jpeg',
      ContentLength: 12,
      Metadata: { sha256: sha.toString('hex') },
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: sha.toString('base64'),
    })
    expect(p.operations.at(-1).input).toEqual({ Bucket: BUCKET, Delete: { Objects: [{ Key: `data/${files[7].rel}` }], Quiet: true } })
    expect(await listKeys()).toEqual(before)

    const human = await runMlops(['upload-data', '--dry-run', '--delete'], { cwd: dir, env: OFFLINE_ENV })
    expect(human.stdout).toContain('compares with the local record of earlier uploads')
    expect(human.stdout).toContain(`~ s3://${BUCKET}/data/${changed.rel}`)
    expect(human.stdout).toContain(`- s3://${BUCKET}/data/${files[7].rel}`)
  })
})
