import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { tlsOnlyPolicy } from '../../src/aws/s3/bucket.js'
import { partitionOf } from '../../src/aws/arn.js'
import { publicAccessReasons, publicPolicyStatements } from '../../src/aws/s3/public-policy.js'
import { channelUris } from '../../src/shared/channels.js'
import { UploadCache } from '../../src/features/dataset/cache.js'
import {
  classifyAgainstListing,
  classifyAgainstRecord,
  contentTypeFor,
  bucketSetupRequests,
  deleteBatches,
  etagIsContentMd5,
  listPrefix,
  objectKey,
  orphanKeys,
  putObjectInput,
} from '../../src/features/dataset/plan.js'

describe('channelUris', () => {
  it('gives the three channels without a trailing slash', () => {
    expect(channelUris({ data: { bucket: 'b', prefix: 'dogImages', localDir: '.', concurrency: 1 } })).toEqual({
      train: 's3://b/dogImages/train',
      valid: 's3://b/dogImages/valid',
      test: 's3://b/dogImages/test',
    })
    expect(channelUris({ data: { bucket: 'b', prefix: 'a/b', localDir: '.', concurrency: 1 } }).test).toBe('s3://b/a/b/test')
  })
})

describe('sync decisions', () => {
  const remote = { key: 'p/train/a.jpg', size: 10, etag: '"e1"' }
  it('uploads what is missing or of another size; compares content otherwise', () => {
    expect(classifyAgainstListing({ size: 10 }, undefined, undefined)).toEqual({ kind: 'upload', reason: 'new' })
    expect(classifyAgainstListing({ size: 11 }, remote, { size: 10, sha256: 's', etag: '"e1"' })).toEqual({ kind: 'upload', reason: 'changed' })
    // The local record is trusted only while the listing's ETag is the one recorded at upload time.
    expect(classifyAgainstListing({ size: 10 }, remote, { size: 10, sha256: 's', etag: '"e1"' })).toEqual({ kind: 'compare', remoteSha: 's' })
    expect(classifyAgainstListing({ size: 10 }, remote, { size: 10, sha256: 's', etag: '"other"' })).toEqual({ kind: 'compare' })
    expect(classifyAgainstListing({ size: 10 }, remote, undefined)).toEqual({ kind: 'compare' })
  })
  it('a dry run compares with the record alone', () => {
    expect(classifyAgainstRecord({ size: 10 }, undefined)).toEqual({ kind: 'upload', reason: 'new' })
    expect(classifyAgainstRecord({ size: 9 }, { size: 10, sha256: 's', etag: 'e' })).toEqual({ kind: 'upload', reason: 'changed' })
    expect(classifyAgainstRecord({ size: 10 }, { size: 10, sha256: 's', etag: 'e' })).toEqual({ kind: 'compare', remoteSha: 's' })
  })
  it('trusts an ETag as an MD5 only for single-part, non-KMS objects', () => {
    expect(etagIsContentMd5('"9e107d9d372bb6826bd81d3542a419d6"', 'AES256')).toBe(true)
    expect(etagIsContentMd5('"9e107d9d372bb6826bd81d3542a419d6-3"', 'AES256')).toBe(false)
    expect(etagIsContentMd5('"9e107d9d372bb6826bd81d3542a419d6"', 'aws:kms')).toBe(false)
  })
  it('keys, prefixes and orphans', () => {
    expect(objectKey('dogImages', 'train/a.jpg')).toBe('dogImages/train/a.jpg')
    expect(listPrefix('data')).toBe('data/')
    expect(orphanKeys(new Set(['p/a', 'p/b']), ['p/c', 'p/a', 'p/0'])).toEqual(['p/0', 'p/c'])
    expect(contentTypeFor('x/y.JPG')).toBe('image/jpeg')
    expect(contentTypeFor('x/y.png')).toBe('image/png')
    expect(contentTypeFor('x/y.bin')).toBe('application/octet-stream')
  })
  it('PutObject carries the sha256 as metadata and as the S3 checksum; KMS when configured', () => {
    const sha = 'a'.repeat(64)
    expect(putObjectInput({ bucket: 'b', key: 'p/a.jpg', size: 3, sha256Hex: sha })).toEqual({
      Bucket: 'b',
      Key: 'p/a.jpg',
      ContentLength: 3,
      ContentType: 'image/jpeg',
      Metadata: { sha256: sha },
      ChecksumAlgorithm: 'SHA256',
      ChecksumSHA256: Buffer.from(sha, 'hex').toString('base64'),
    })
    expect(putObjectInput({ bucket: 'b', key: 'k', size: 1, sha256Hex: sha, kmsKeyId: 'alias/k' })).toMatchObject({
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/k',
      BucketKeyEnabled: true,
    })
  })
  it('deletes in batches of 1,000', () => {
    const keys = Array.from({ length: 2001 }, (_, i) => `k${i}`)
    const batches = deleteBatches('b', keys)
    expect(batches.map((b) => b.Delete.Objects.length)).toEqual([1000, 1000, 1])
    expect(batches[2]).toEqual({ Bucket: 'b', Delete: { Objects: [{ Key: 'k2000' }], Quiet: true } })
  })
})

describe('UploadCache', () => {
  it('returns a hash only while size and mtime match, survives a reload, and writes only when changed', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-cache-'))
    const file = UploadCache.pathFor(dir)
    const cache = await UploadCache.load(file)
    const f = { path: '/data/train/a/x.jpg', size: 10, mtimeMs: 5 }
    cache.rememberHash(f, 'h1')
    cache.rememberObject('b', 'p/train/a/x.jpg', { size: 10, sha256: 'h1', etag: '"e"' })
    await cache.save()
    const again = await UploadCache.load(file)
    expect(again.hashOf(f)).toBe('h1')
    expect(again.hashOf({ ...f, mtimeMs: 6 })).toBeUndefined()
    expect(again.hashOf({ ...f, size: 11 })).toBeUndefined()
    expect(again.object('b', 'p/train/a/x.jpg')).toEqual({ size: 10, sha256: 'h1', etag: '"e"' })
    expect(again.objectKeys('b', 'p/')).toEqual(['p/train/a/x.jpg'])
    // Unchanged records do not rewrite the file.
    again.rememberObject('b', 'p/train/a/x.jpg', { size: 10, sha256: 'h1', etag: '"e"' })
    again.rememberHash(f, 'h1')
    await writeFile(file, 'sentinel')
    await again.save()
    expect(await readFile(file, 'utf8')).toBe('sentinel')
    // A corrupt file is an empty cache, not an error.
    expect((await UploadCache.load(file)).hashOf(f)).toBeUndefined()
    // Pruning drops files that are gone from the scanned folder only.
    again.rememberHash({ path: '/elsewhere/y.jpg', size: 1, mtimeMs: 1 }, 'h2')
    again.pruneHashes('/data', new Set())
    expect(again.hashOf(f)).toBeUndefined()
    expect(again.hashOf({ path: '/elsewhere/y.jpg', size: 1, mtimeMs: 1 })).toBe('h2')
  })
})

describe('bucket setup and public-bucket analysis', () => {
  it('creates buckets private, encrypted, TLS-only and tagged, in the right order', () => {
    const ops = bucketSetupRequests({ bucket: 'b', region: 'eu-west-1', project: 'dogs', kmsKeyId: 'arn:aws:kms:eu-west-1:1:key/k' })
    expect(ops.map((o) => o.operation)).toEqual([
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
    ])
    expect(ops[3].input).toEqual({ Bucket: 'b', ObjectOwnership: 'BucketOwnerEnforced', CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } })
    expect(ops[5].input).toEqual({
      Bucket: 'b',
      ServerSideEncryptionConfiguration: {
        Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'arn:aws:kms:eu-west-1:1:key/k' }, BucketKeyEnabled: true }],
      },
    })
    expect(ops[7].input).toEqual({
      Bucket: 'b',
      Tagging: {
        TagSet: [
          { Key: 'mlops:project', Value: 'dogs' },
          { Key: 'mlops:managed-by', Value: 'mlops' },
        ],
      },
    })
    expect(bucketSetupRequests({ bucket: 'b', region: 'us-east-1', project: 'p' })[3].input as object).not.toHaveProperty('CreateBucketConfiguration')
  })
  it('the TLS-only policy uses the partition of the region', () => {
    expect(partitionOf('cn-north-1')).toBe('aws-cn')
    expect(partitionOf('us-gov-west-1')).toBe('aws-us-gov')
    expect(JSON.parse(tlsOnlyPolicy('b', 'cn-north-1')).Statement[0].Resource).toEqual(['arn:aws-cn:s3:::b', 'arn:aws-cn:s3:::b/*'])
  })
  it('finds public policies and ACL grants, respecting Block Public Access', () => {
    const publicPolicy = JSON.stringify({
      Statement: [{ Sid: 'Read', Effect: 'Allow', Principal: { AWS: ['*'] }, Action: ['s3:GetObject', 's3:ListBucket'], Resource: '*' }],
    })
    expect(publicPolicyStatements(publicPolicy)).toEqual(['bucket policy statement "Read" allows s3:GetObject, s3:ListBucket to everyone (Principal "*")'])
    const scoped = JSON.stringify({
      Statement: { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-1' } } },
    })
    expect(publicPolicyStatements(scoped)).toEqual([])
    const wildcardCondition = JSON.stringify({
      Statement: { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Condition: { StringLike: { 'aws:SourceVpce': 'vpce-*' } } },
    })
    expect(publicPolicyStatements(wildcardCondition)).toHaveLength(1)
    expect(publicPolicyStatements(tlsOnlyPolicy('b', 'us-east-1'))).toEqual([])
    expect(publicPolicyStatements('not json')).toEqual([])
    const grants = [{ Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }]
    expect(publicAccessReasons({ policy: publicPolicy, grants })).toEqual([
      'bucket policy statement "Read" allows s3:GetObject, s3:ListBucket to everyone (Principal "*")',
      'its ACL grants READ to everyone (AllUsers)',
    ])
    expect(publicAccessReasons({ policy: publicPolicy, grants, publicAccessBlock: { RestrictPublicBuckets: true, IgnorePublicAcls: true } })).toEqual([])
    expect(publicAccessReasons({ grants: [{ Grantee: { URI: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers' }, Permission: 'WRITE' }] })).toEqual([
      'its ACL grants WRITE to any AWS account (AuthenticatedUsers)',
    ])
  })
})
