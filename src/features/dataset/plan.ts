import path from 'node:path'
import type { ObjectRecord } from './cache.js'
import type { LocalFile } from '../../shared/dataset-layout.js'
import type { ListedObject } from '../../aws/s3/upload.js'
import { ensureBucketRequests, type BucketSetupOperation } from '../../aws/s3/bucket.js'
import { mlopsWritePrefixes, projectTags } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'

export { deleteBatches } from '../../aws/s3/upload.js'

/**
 * Pure sync decisions and request shapes for `upload-data`: no I/O and no AWS client, so every rule
 * is tested without mocks. `upload-data.ts` feeds them the listing, the local record and hashes.
 */

/** One object as ListObjectsV2 reports it. */
export type RemoteObject = ListedObject

export type UploadReason = 'new' | 'changed'

/**
 * What the listing and the local record say about one file:
 * - `upload`: no object, or an object of another size;
 * - `compare`: same size, so the content hashes decide. `remoteSha` is known when this machine's
 *   record of the upload still matches the listing's ETag; otherwise HeadObject must fetch it.
 */
export type FirstPass = { readonly kind: 'upload'; readonly reason: UploadReason } | { readonly kind: 'compare'; readonly remoteSha?: string }

/** Files at or above this size go through a multipart upload (@aws-sdk/lib-storage). @default 16 MiB */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024
/** Part size of multipart uploads (S3's minimum is 5 MiB). @default 8 MiB */
export const PART_SIZE = 8 * 1024 * 1024

/** `<prefix>/<rel>`. */
export function objectKey(prefix: string, rel: string): string {
  return `${prefix.replace(/^\/+|\/+$/g, '')}/${rel}`
}

/** The listing prefix of a dataset: `<prefix>/`, so `data` never matches `data2/...`. */
export function listPrefix(prefix: string): string {
  return `${prefix.replace(/^\/+|\/+$/g, '')}/`
}

export function classifyAgainstListing(file: Pick<LocalFile, 'size'>, remote: RemoteObject | undefined, record: ObjectRecord | undefined): FirstPass {
  if (!remote) return { kind: 'upload', reason: 'new' }
  if (remote.size !== file.size) return { kind: 'upload', reason: 'changed' }
  if (record && record.size === remote.size && record.etag === remote.etag) return { kind: 'compare', remoteSha: record.sha256 }
  return { kind: 'compare' }
}

/** Dry run without credentials: the local record of earlier uploads stands in for the listing. */
export function classifyAgainstRecord(file: Pick<LocalFile, 'size'>, record: ObjectRecord | undefined): FirstPass {
  if (!record) return { kind: 'upload', reason: 'new' }
  if (record.size !== file.size) return { kind: 'upload', reason: 'changed' }
  return { kind: 'compare', remoteSha: record.sha256 }
}

/**
 * Whether an object's ETag proves its content equals a local MD5: only for single-part uploads
 * without SSE-KMS/SSE-C (a multipart ETag ends in `-<parts>`; KMS ETags are not MD5s).
 * This lets objects uploaded by hand with `aws s3 cp` (no sha256 metadata) be skipped, not re-sent.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html (ETag)
 */
export function etagIsContentMd5(etag: string, serverSideEncryption: string | undefined): boolean {
  return /^"?[0-9a-f]{32}"?$/.test(etag) && serverSideEncryption !== 'aws:kms' && serverSideEncryption !== 'aws:kms:dsse'
}

/**
 * What `--delete` removes: the objects under the dataset's own prefix (`<prefix>/`) that have no
 * local file, sorted. The dry-run plan (remote keys from the local record) and the real run (from
 * the listing) both call this, so they cannot disagree on the rule.
 */
export function keysToDelete(prefix: string, files: readonly Pick<LocalFile, 'rel'>[], remoteKeys: Iterable<string>): string[] {
  const under = listPrefix(prefix)
  return orphanKeys(
    new Set(files.map((f) => objectKey(prefix, f.rel))),
    [...remoteKeys].filter((k) => k.startsWith(under)),
  )
}

/** Remote keys with no local file, sorted. */
export function orphanKeys(localKeys: ReadonlySet<string>, remoteKeys: Iterable<string>): string[] {
  return [...remoteKeys].filter((k) => !localKeys.has(k)).sort()
}

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.json': 'application/json',
  '.csv': 'text/csv',
  '.txt': 'text/plain',
}

export function contentTypeFor(name: string): string {
  return CONTENT_TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream'
}

export interface ObjectRequestOptions {
  readonly bucket: string
  readonly key: string
  readonly size: number
  readonly sha256Hex: string
  /** SSE-KMS key; unset leaves encryption to the bucket default (SSE-S3). */
  readonly kmsKeyId?: string
}

/**
 * PutObject input without the body. The sha256 travels three ways from one hash of the bytes:
 * `x-amz-meta-sha256` (what later syncs compare), `ChecksumSHA256` (S3 rejects a corrupted body)
 * and the SigV4 payload hash (set by the uploader, so the SDK does not hash the body again).
 */
export function putObjectInput(o: ObjectRequestOptions) {
  return {
    Bucket: o.bucket,
    Key: o.key,
    ContentLength: o.size,
    ContentType: contentTypeFor(o.key),
    Metadata: { sha256: o.sha256Hex },
    ChecksumAlgorithm: 'SHA256' as const,
    ChecksumSHA256: Buffer.from(o.sha256Hex, 'hex').toString('base64'),
    ...sseInput(o.kmsKeyId),
  }
}

/** Multipart uploads: no whole-object checksum up front (parts carry their own). */
export function multipartInput(o: ObjectRequestOptions) {
  return {
    Bucket: o.bucket,
    Key: o.key,
    ContentLength: o.size,
    ContentType: contentTypeFor(o.key),
    Metadata: { sha256: o.sha256Hex },
    ...sseInput(o.kmsKeyId),
  }
}

function sseInput(kmsKeyId: string | undefined) {
  return kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: kmsKeyId, BucketKeyEnabled: true } : {}
}

const SETUP_NOTES: Partial<Record<BucketSetupOperation, string>> = {
  CreateBucket: 'only if the bucket does not exist',
  PutPublicAccessBlock: 'no public access, ever',
  PutBucketPolicy: 'deny requests without TLS',
  PutBucketLifecycleConfiguration: 'interrupted multipart uploads stop costing storage after 7 days',
}

/**
 * The requests of `ensureDataBucket` after HeadBucket (aws/s3/bucket.ts) as plan operations: the
 * public-bucket checks, the setup tagged for the project, with why each is sent, and the cleanup.
 */
export function bucketSetupRequests(o: { bucket: string; region: string; project: string; kmsKeyId?: string }): PlannedOperation[] {
  return ensureBucketRequests({ bucket: o.bucket, region: o.region, tags: projectTags(o.project), kmsKeyId: o.kmsKeyId }).map((r) => {
    const note =
      r.operation === 'PutBucketEncryption'
        ? o.kmsKeyId
          ? 'SSE-KMS with the configured key'
          : 'SSE-S3'
        : (SETUP_NOTES[r.operation as BucketSetupOperation] ?? r.note)
    return { service: 's3', operation: r.operation, ...(note ? { note } : {}), input: r.input }
  })
}

/**
 * The prefix of mlops's own objects (shared/naming.ts mlopsWritePrefixes) that a dataset prefix
 * overlaps (one contains the other), or undefined: with such a prefix `--delete` would remove them.
 */
export function overlappingReservedPrefix(prefix: string, cfg: Parameters<typeof mlopsWritePrefixes>[0]): string | undefined {
  const mine = listPrefix(prefix)
  // The default `output/` stays refused with a custom training.outputPrefix too: job output written
  // before the prefix changed is still there, and --delete must not reach it.
  const reserved = [...Object.values(mlopsWritePrefixes(cfg)), 'output/']
  return reserved.find((r) => mine.startsWith(r) || r.startsWith(mine))
}
