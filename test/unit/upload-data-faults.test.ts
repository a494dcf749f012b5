import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { sdkMock } from '../helpers/mock-sdk.js'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg, pngOfSize } from '../helpers/images.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

/** Issue 19: faults and hostile input for upload-data (prefixes, a file changing mid-upload, aborts at several points). */

const s3Mock = sdkMock(S3Client)
const factory = fakeAwsFactory()
const BIG = 'dogImages/train/001.A/big.png'

function existingPrivateBucket(): void {
  s3Mock.on(HeadBucketCommand).resolves({ BucketRegion: 'us-east-1' })
  s3Mock.on(GetPublicAccessBlockCommand).resolves({
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
  })
  s3Mock
    .on(GetBucketPolicyCommand)
    .rejects(new S3ServiceException({ name: 'NoSuchBucketPolicy', $fault: 'client', $metadata: { httpStatusCode: 404 }, message: 'none' }))
  s3Mock.on(GetBucketAclCommand).resolves({ Grants: [] })
  s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false })
  s3Mock.on(PutObjectCommand).resolves({ ETag: '"etag"' })
}

async function project(extra = ''): Promise<string> {
  const dir = await tempProject(minimalConfig(extra))
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of ['001.A', '002.B']) {
      await mkdir(path.join(dir, 'dogImages', split, cls), { recursive: true })
      await writeFile(path.join(dir, 'dogImages', split, cls, `0.jpg`), jpeg(`${split}${cls}`))
    }
  }
  return dir
}

describe('data.prefix that mlops cannot use safely', () => {
  it('refuses a prefix overlapping mlops own objects (code, models, output), also in a dry run, before any AWS client', async () => {
    const dir = await project()
    for (const prefix of ['dogs', 'dogs/code', 'dogs/models/v1', 'output']) {
      for (const extra of [[], ['--dry-run']]) {
        const run = await runMlops(['upload-data', '--prefix', prefix, '--delete', '--yes', ...extra], { cwd: dir, awsFactory: noAwsFactory() })
        expect(run.code, `${prefix} ${extra}`).toBe(2)
        expect(run.stderr).toContain(`data.prefix "${prefix}" overlaps`)
      }
    }
    const fine = await runMlops(['upload-data', '--prefix', 'dogs-data', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(fine.code, fine.stderr).toBe(0)
  })

  it('refuses a prefix overlapping the checkpoints or a configured training.outputPrefix (and still output/), the prefixes teardown sweeps', async () => {
    const dir = await project('training:\n  outputPrefix: jobs/out\n')
    // The default 'output/' stays refused too (output written before outputPrefix changed).
    for (const prefix of ['dogs/checkpoints', 'dogs/checkpoints/job-1', 'jobs', 'jobs/out', 'jobs/out/dogs-train-1', 'output']) {
      const run = await runMlops(['upload-data', '--prefix', prefix, '--delete', '--yes', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(run.code, prefix).toBe(2)
      expect(run.stderr).toContain(`data.prefix "${prefix}" overlaps`)
    }
    const fine = await runMlops(['upload-data', '--prefix', 'dogs-data', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(fine.code, fine.stderr).toBe(0)
  })

  it('refuses prefixes over the key limit, with control characters or with . / .. segments, naming data.prefix', async () => {
    const cases: [string, string][] = [
      [`"${'p'.repeat(1001)}"`, 'at most 1,000 bytes'],
      ['"a\\u0000b"', 'no NUL or other control characters'],
      ['"a\\tb"', 'no NUL or other control characters'],
      ['a/../b', 'no empty, "." or ".." segments'],
      ['a//b', 'no empty, "." or ".." segments'],
    ]
    for (const [prefix, message] of cases) {
      const dir = await tempProject(`project:\n  name: dogs\ndata:\n  bucket: dogs-data\n  prefix: ${prefix}\n`)
      const run = await runMlops(['upload-data', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(run.code, prefix).toBe(2)
      expect(run.stderr).toContain('data.prefix')
      expect(run.stderr).toContain(message)
    }
  })

  it('the --delete dry run and the real run delete the same keys', async () => {
    const dir = await project()
    existingPrivateBucket()
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [{ Key: 'data/old.jpg', Size: 1, ETag: '"y"' }],
    })
    s3Mock.on(DeleteObjectsCommand).resolves({})
    const real = await runMlops(['upload-data', '--delete', '--yes', '--json'], { cwd: dir, awsFactory: factory })
    expect(real.code, real.stderr).toBe(0)
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, { Delete: { Objects: [{ Key: 'data/old.jpg' }], Quiet: true } })
    // The record now holds what the listing said is there; the dry run computes deletions with the same rule.
    const cache = JSON.parse(await readFile(path.join(dir, '.mlops/upload-cache.json'), 'utf8'))
    expect(JSON.stringify(cache)).not.toContain('data/old.jpg')
    await writeFile(path.join(dir, 'dogImages/train/001.A/gone.jpg'), jpeg('x'))
    await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    await import('node:fs/promises').then((fs) => fs.rm(path.join(dir, 'dogImages/train/001.A/gone.jpg')))
    const plan = await runMlops(['upload-data', '--delete', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(plan.json().deletes).toEqual(['data/train/001.A/gone.jpg'])
  })
})

describe('a file that changes during a multipart upload', () => {
  it('is never recorded with a sha256 that does not match the body sent: the attempt is undone and retried', async () => {
    const dir = await project()
    const big = path.join(dir, BIG)
    await writeFile(big, pngOfSize(17 * 1024 * 1024, 1))
    existingPrivateBucket()
    let uploads = 0
    let changed = false
    s3Mock.on(CreateMultipartUploadCommand).callsFake(async () => ({ UploadId: `upload-${++uploads}` }))
    s3Mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => {
      if (!changed) {
        // Someone rewrites the tail of the file while the first part is on its way.
        changed = true
        const fh = await open(big, 'r+')
        await fh.write(Buffer.alloc(1024 * 1024, 7), 0, 1024 * 1024, 16 * 1024 * 1024)
        await fh.close()
      }
      return { ETag: `"p${input.PartNumber}"` }
    })
    s3Mock.on(CompleteMultipartUploadCommand).resolves({ ETag: '"done"' })
    s3Mock.on(DeleteObjectsCommand).resolves({})
    const run = await runMlops(['upload-data', '--concurrency', '1', '--yes', '--json'], { cwd: dir, awsFactory: factory })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('retrying data/train/001.A/big.png')
    // The object whose metadata and body disagreed was deleted before the retry.
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, { Delete: { Objects: [{ Key: 'data/train/001.A/big.png' }], Quiet: true } })
    const { createHash } = await import('node:crypto')
    const now = createHash('sha256')
      .update(await readFile(big))
      .digest('hex')
    const creates = s3Mock.commandCalls(CreateMultipartUploadCommand).map((c) => c.args[0].input.Metadata?.sha256)
    expect(creates).toHaveLength(2)
    expect(creates[1]).toBe(now)
    const cache = await readFile(path.join(dir, '.mlops/upload-cache.json'), 'utf8')
    expect(cache).toContain(now)
    expect(cache).not.toContain(creates[0]!)
  })
})

describe('aborting upload-data (Ctrl-C, SIGTERM, SIGHUP all abort the same signal)', () => {
  for (const point of ['CreateMultipartUpload', 'UploadPart', 'CompleteMultipartUpload'] as const) {
    it(`aborted during ${point}: the multipart upload is aborted and nothing is completed`, async () => {
      const dir = await project()
      await writeFile(path.join(dir, BIG), pngOfSize(17 * 1024 * 1024, 1))
      existingPrivateBucket()
      const controller = new AbortController()
      const maybeAbort = (here: string) => {
        if (here === point) controller.abort(new Error('SIGTERM'))
      }
      s3Mock.on(CreateMultipartUploadCommand).callsFake(async () => {
        maybeAbort('CreateMultipartUpload')
        return { UploadId: 'upload-1' }
      })
      s3Mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => {
        maybeAbort('UploadPart')
        return { ETag: `"p${input.PartNumber}"` }
      })
      s3Mock.on(CompleteMultipartUploadCommand).callsFake(async () => {
        maybeAbort('CompleteMultipartUpload')
        throw Object.assign(new Error('aborted'), { name: 'AbortError' })
      })
      s3Mock.on(AbortMultipartUploadCommand).resolves({})
      const run = await runMlops(['upload-data', '--concurrency', '1', '--yes'], { cwd: dir, awsFactory: factory, signal: controller.signal })
      expect(run.code).toBe(130)
      expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { Bucket: 'dogs-data', Key: 'data/train/001.A/big.png', UploadId: 'upload-1' })
    })
  }

  it('an output error (stderr progress failing, as on a closed pipe) does not skip aborting the multipart upload', async () => {
    const dir = await tempProject(minimalConfig())
    await mkdir(path.join(dir, 'only-big'), { recursive: true })
    await writeFile(path.join(dir, 'only-big/big.png'), pngOfSize(17 * 1024 * 1024, 1))
    existingPrivateBucket()
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-9' })
    s3Mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => ({ ETag: `"p${input.PartNumber}"` }))
    s3Mock.on(CompleteMultipartUploadCommand).resolves({ ETag: '"done"' })
    s3Mock.on(AbortMultipartUploadCommand).resolves({})
    const { syncDataset } = await import('../../src/features/dataset/upload-data.js')
    const epipe = () => {
      throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    }
    const ui = {
      step: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      success: () => undefined,
      interactive: false,
      progress: () => ({ update: epipe, done: () => undefined }),
    }
    const s3 = new S3Client({ region: 'us-east-1' })
    await expect(
      syncDataset(s3, {
        source: path.join(dir, 'only-big'),
        bucket: 'dogs-data',
        prefix: 'data',
        region: 'us-east-1',
        project: 'dogs',
        concurrency: 1,
        delete: false,
        validate: false,
        cacheFile: path.join(dir, '.mlops/upload-cache.json'),
        signal: new AbortController().signal,
        clock: fastClock(),
        ui: ui as never,
        confirmDelete: async () => true,
        transfer: { maxAttempts: 1 },
      }),
    ).rejects.toThrow(/EPIPE/)
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { UploadId: 'upload-9' })
    expect(s3Mock).not.toHaveReceivedCommand(CompleteMultipartUploadCommand)
  })
})
