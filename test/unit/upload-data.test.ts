import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { sdkMock } from '../helpers/mock-sdk.js'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg, pngOfSize } from '../helpers/images.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

const s3Mock = sdkMock(S3Client)
const factory = fakeAwsFactory()

function awsError(name: string, status: number, message = name): S3ServiceException {
  return new S3ServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status, requestId: 'req-1' }, message })
}

/** An existing, private bucket with nothing in it. */
function existingPrivateBucket(): void {
  s3Mock.on(HeadBucketCommand).resolves({ BucketRegion: 'us-east-1' })
  s3Mock.on(GetPublicAccessBlockCommand).resolves({
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
  })
  s3Mock.on(GetBucketPolicyCommand).rejects(awsError('NoSuchBucketPolicy', 404))
  s3Mock.on(GetBucketAclCommand).resolves({ Grants: [] })
  s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false })
  s3Mock.on(PutObjectCommand).resolves({ ETag: '"etag"' })
}

async function project(extra = '', images = 2): Promise<string> {
  const dir = await tempProject(minimalConfig(extra))
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of ['001.A', '002.B']) {
      await mkdir(path.join(dir, 'dogImages', split, cls), { recursive: true })
      for (let i = 0; i < images; i++) await writeFile(path.join(dir, 'dogImages', split, cls, `${i}.jpg`), jpeg(`${split}${cls}${i}`))
    }
  }
  return dir
}

describe('upload-data flags', () => {
  it('rejects bad values with exit 2, naming the flag, before any AWS client exists', async () => {
    const dir = await project()
    const noAws = noAwsFactory()
    const cases: [string[], string][] = [
      [['--concurrency', '0'], '--concurrency: must be at least 1 (parallel uploads), got "0".'],
      [['--concurrency', 'lots'], '--concurrency: expected a number (parallel uploads), got "lots".'],
      [['--concurrency', '300'], '--concurrency: at most 256 parallel uploads, got "300".'],
      [['--bucket', 'Bad_Bucket'], '--bucket: expected an S3 bucket name: 3-63 lower-case letters, digits, dots or hyphens, got "Bad_Bucket".'],
      [['--prefix', '/data/'], '--prefix: expected a key prefix without a leading or trailing "/" (for example dogImages), got "/data/".'],
      [['--from-url', 'ftp://example.com/d.zip'], '--from-url: must be an http:// or https:// URL, got "ftp://example.com/d.zip".'],
      [['--from-url', 'ftp://user:secret@example.com/d.zip'], '--from-url: must be an http:// or https:// URL, got "ftp://***@example.com/d.zip".'],
      [['--expect-sha256', 'a'.repeat(64)], '--expect-sha256 only applies with --from-url.'],
      [['--from-url', 'https://x/d.zip', '--expect-sha256', 'xyz'], '--expect-sha256: must be 64 hex digits, got "xyz".'],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(['upload-data', ...args, '--yes'], { cwd: dir, awsFactory: noAws })
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toContain(message)
    }
  })

  it('--help shows the flags and a worked example', async () => {
    const run = await runMlops(['upload-data', '--help'])
    expect(run.code).toBe(0)
    for (const f of ['--source', '--bucket', '--prefix', '--concurrency', '--delete', '--from-url', '--no-validate', 'Examples:'])
      expect(run.stdout).toContain(f)
  })
})

describe('upload-data against a fake S3', () => {
  it('retries a throttled upload (bounded) and reports it', async () => {
    const dir = await project()
    existingPrivateBucket()
    let failures = 0
    s3Mock.on(PutObjectCommand).callsFake((input: { Key: string }) => {
      if (input.Key === 'data/test/001.A/0.jpg' && failures < 2) {
        failures++
        throw awsError('SlowDown', 503, 'Please reduce your request rate.')
      }
      return { ETag: '"e"' }
    })
    const run = await runMlops(['upload-data', '--json', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ uploaded: 12, retries: 2 })
    expect(run.stderr).toContain('retrying data/test/001.A/0.jpg (attempt 2): SlowDown')

    // Past the bound (3 attempts per file), the error surfaces with its hint.
    s3Mock.on(PutObjectCommand).rejects(awsError('SlowDown', 503, 'Please reduce your request rate.'))
    const failed = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('s3:PutObject was throttled by AWS even after retries')
    expect(failed.stderr).toContain('lower --concurrency')
  })

  it('stops at the first AccessDenied with a hint, without trying every file', async () => {
    const dir = await project('', 10)
    existingPrivateBucket()
    s3Mock.on(PutObjectCommand).rejects(awsError('AccessDenied', 403, 'Access Denied'))
    const run = await runMlops(['upload-data', '--concurrency', '2', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('AWS denied s3:PutObject on s3://dogs-data/data/')
    expect(run.stderr).toContain('hint: Grant s3:PutObject')
    expect(s3Mock.commandCalls(PutObjectCommand).length).toBeLessThanOrEqual(2)
  })

  it('explains a bucket in another region, a foreign bucket and a taken name', async () => {
    const dir = await project()
    s3Mock.on(HeadBucketCommand).resolves({ BucketRegion: 'eu-west-1' })
    const region = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(region.code).toBe(2)
    expect(region.stderr).toContain('Bucket dogs-data is in eu-west-1, not us-east-1.')
    expect(region.stderr).toContain('--region eu-west-1')

    s3Mock.on(HeadBucketCommand).rejects(awsError('Forbidden', 403))
    const foreign = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(foreign.code).toBe(1)
    expect(foreign.stderr).toContain('either it belongs to another AWS account or your identity may not use it')

    s3Mock.on(HeadBucketCommand).rejects(awsError('NotFound', 404))
    s3Mock.on(CreateBucketCommand).rejects(awsError('BucketAlreadyExists', 409))
    const taken = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(taken.code).toBe(2)
    expect(taken.stderr).toContain('The bucket name dogs-data is taken by another AWS account')
  })

  it('--from-url checks access to the bucket before downloading anything', async () => {
    const dir = await tempProject(minimalConfig())
    s3Mock.on(HeadBucketCommand).rejects(awsError('Forbidden', 403))
    const run = await runMlops(['upload-data', '--from-url', 'http://127.0.0.1:9/dogImages.zip', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('Access to bucket dogs-data was denied')
    expect(run.stderr).not.toContain('Downloading')
  })

  it('deletes a bucket it just created when a setup step fails, so no half-configured bucket is trusted later', async () => {
    const dir = await project()
    s3Mock.on(HeadBucketCommand).rejects(awsError('NotFound', 404))
    s3Mock.on(PutBucketPolicyCommand).rejects(awsError('AccessDenied', 403))
    const run = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('AWS denied s3:PutBucketPolicy on s3://dogs-data')
    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, { Bucket: 'dogs-data' })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)

    s3Mock.on(DeleteBucketCommand).rejects(awsError('AccessDenied', 403))
    const stuck = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(stuck.code).toBe(1)
    expect(stuck.stderr).toContain('Setting up the new bucket dogs-data failed')
    expect(stuck.stderr).toContain('aws s3 rb s3://dogs-data')
  })

  it('uses SSE-KMS for the bucket and every object when data.kmsKeyId is set', async () => {
    const dir = await project('  kmsKeyId: alias/dogs\n')
    existingPrivateBucket()
    s3Mock.on(HeadBucketCommand).rejects(awsError('NotFound', 404))
    const run = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code, run.stderr).toBe(0)
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketEncryptionCommand, {
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/dogs' }, BucketKeyEnabled: true }],
      },
    })
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/dogs', BucketKeyEnabled: true })
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectsV2Command) // a new bucket is empty: no listing needed
  })

  it('Ctrl-C during a multipart upload aborts it only after the parts in flight have settled', async () => {
    const dir = await project()
    await writeFile(path.join(dir, 'dogImages/train/001.A/big.png'), pngOfSize(17 * 1024 * 1024, 1))
    existingPrivateBucket()
    const controller = new AbortController()
    const events: string[] = []
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' })
    s3Mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => {
      events.push(`part ${input.PartNumber} start`)
      controller.abort()
      await new Promise((r) => setTimeout(r, 30))
      events.push(`part ${input.PartNumber} end`)
      return { ETag: `"p${input.PartNumber}"` }
    })
    s3Mock.on(AbortMultipartUploadCommand).callsFake(async () => {
      events.push('abort')
      return {}
    })
    const run = await runMlops(['upload-data', '--concurrency', '1', '--yes'], { cwd: dir, awsFactory: factory, signal: controller.signal })
    expect(run.code).toBe(130)
    expect(run.stderr).toContain('unfinished multipart uploads aborted')
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, { Bucket: 'dogs-data', Key: 'data/train/001.A/big.png', UploadId: 'upload-1' })
    expect(s3Mock).not.toHaveReceivedCommand(CompleteMultipartUploadCommand)
    expect(events.at(-1)).toBe('abort')
    expect(events.filter((e) => e.endsWith('start')).length).toBe(events.filter((e) => e.endsWith('end')).length)
  })

  it('says how to remove a multipart upload it could not abort', async () => {
    const dir = await project()
    await writeFile(path.join(dir, 'dogImages/train/001.A/big.png'), pngOfSize(17 * 1024 * 1024, 1))
    existingPrivateBucket()
    const controller = new AbortController()
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-2' })
    s3Mock.on(UploadPartCommand).callsFake(async () => {
      controller.abort()
      return { ETag: '"p"' }
    })
    s3Mock.on(AbortMultipartUploadCommand).rejects(awsError('AccessDenied', 403))
    const run = await runMlops(['upload-data', '--concurrency', '1', '--yes'], { cwd: dir, awsFactory: factory, signal: controller.signal })
    expect(run.code).toBe(130)
    expect(run.stderr).toContain('could not abort the unfinished multipart upload of data/train/001.A/big.png')
    expect(run.stderr).toContain('aws s3api abort-multipart-upload --bucket dogs-data --key data/train/001.A/big.png --upload-id upload-2')
  })

  it('--delete without --yes and without a terminal refuses before uploading anything', async () => {
    const dir = await project()
    existingPrivateBucket()
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'data/old.jpg', Size: 1, ETag: '"x"' }] })
    const run = await runMlops(['upload-data', '--delete', '--json'], { cwd: dir, awsFactory: factory })
    expect(run.code).toBe(2)
    expect(run.json().error.code).toBe('ConfirmationRequired')
    expect(run.stderr).toContain('s3://dogs-data/data/old.jpg')
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
  })

  it('reports a DeleteObjects partial failure with the keys', async () => {
    const dir = await project()
    existingPrivateBucket()
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'data/old.jpg', Size: 1, ETag: '"x"' }] })
    s3Mock.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'data/old.jpg', Code: 'AccessDenied', Message: 'Access Denied' }] })
    const run = await runMlops(['upload-data', '--delete', '--yes'], { cwd: dir, awsFactory: factory })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('S3 did not delete 1 of 1 objects: data/old.jpg: AccessDenied Access Denied')
    expect(run.stderr).toContain('s3:DeleteObject')
  })

  it('draws a progress bar with files, bytes, throughput and ETA on a terminal, and plain lines otherwise', async () => {
    const dir = await project()
    existingPrivateBucket()
    const tty = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: factory, tty: true })
    expect(tty.code, tty.stderr).toBe(0)
    expect(tty.stderr).toContain('\r\x1b[2K')
    expect(tty.stderr).toMatch(/Uploading +\d+% .*\/s {2}ETA /)
    expect(tty.stderr).toContain('12/12 files')

    s3Mock.reset()
    existingPrivateBucket()
    const plain = await runMlops(['upload-data', '--yes'], { cwd: dir + '', awsFactory: factory })
    expect(plain.stderr).not.toContain('\x1b[')
  })
})
