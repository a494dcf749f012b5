import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type CreateMultipartUploadCommandInput,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import type { Readable } from 'node:stream'
import { AwsError } from '../../shared/errors.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import { withRequestSignal } from '../request-signal.js'

/**
 * The S3 object transfers `upload-data` makes: listing, single PUTs, @aws-sdk/lib-storage multipart
 * uploads (with their abort) and batched deletes. Plain values in and out; every call takes the
 * caller's AbortSignal. What to send and when is decided in features/dataset.
 */

/** One object as ListObjectsV2 reports it. */
export interface ListedObject {
  readonly key: string
  readonly size: number
  /** Quotes included, as S3 returns it. */
  readonly etag: string
}

/** Every object under `prefix`: one ListObjectsV2 page per 1,000 keys, nothing per object. */
export async function listObjects(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Map<string, ListedObject>> {
  return new Map((await listSegment(s3, bucket, prefix, undefined, undefined, undefined, signal)).map((o) => [o.key, o]))
}

/**
 * Every object under `prefix`, like `listObjects`, but listed in segments at the same time: segment i
 * starts after `splitAfter[i - 1]` (StartAfter) and pages on until it passes `splitAfter[i]`, the last
 * one to the end. Pages of one listing are sequential by nature (each needs the previous one's
 * continuation token); segments are not. The split keys (what the caller expects to find, one every
 * `pageSize` keys) only decide where the segments meet: whatever the bucket holds, every key is listed
 * once. A page asks for `pageSize` keys (MaxKeys, under S3's 1,000), so a segment's first page stops
 * near its end instead of listing the next segment's keys too. Keys are compared in UTF-8 byte order,
 * the order S3 lists them in.
 */
export async function listObjectsInSegments(
  s3: S3Client,
  bucket: string,
  prefix: string,
  splitAfter: readonly string[],
  signal?: AbortSignal,
  pageSize = 1000,
): Promise<Map<string, ListedObject>> {
  const splits = [...new Set(splitAfter)].filter((k) => k.startsWith(prefix)).sort(byUtf8)
  const maxKeys = pageSize < 1000 ? pageSize : undefined
  const segments = await Promise.all([undefined, ...splits].map((startAfter, i) => listSegment(s3, bucket, prefix, startAfter, splits[i], maxKeys, signal)))
  const out = new Map<string, ListedObject>()
  for (const segment of segments) for (const o of segment) out.set(o.key, o)
  return out
}

async function listSegment(
  s3: S3Client,
  bucket: string,
  prefix: string,
  startAfter: string | undefined,
  end: string | undefined,
  maxKeys: number | undefined,
  signal?: AbortSignal,
) {
  const out: ListedObject[] = []
  let ContinuationToken: string | undefined
  let first = true
  do {
    const page = await callAws({ service: 's3', operation: 'ListObjectsV2', resource: `s3://${bucket}/${prefix}` }, () =>
      s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(maxKeys ? { MaxKeys: maxKeys } : {}),
          ...(first && startAfter ? { StartAfter: startAfter } : {}),
          ContinuationToken,
        }),
        { abortSignal: signal },
      ),
    )
    first = false
    let passed = false
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue
      const past = end === undefined ? -1 : byUtf8(o.Key, end)
      if (past > 0) {
        passed = true // the next segment lists from here
        break
      }
      out.push({ key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' })
      if (past === 0) passed = true // the end itself: the next segment starts after it
    }
    ContinuationToken = page.IsTruncated && !passed ? page.NextContinuationToken : undefined
  } while (ContinuationToken)
  return out
}

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** DeleteObjects inputs: at most 1,000 keys per request. */
export function deleteBatches(bucket: string, keys: readonly string[], batchSize = 1000) {
  const out: { Bucket: string; Delete: { Objects: { Key: string }[]; Quiet: true } }[] = []
  for (let i = 0; i < keys.length; i += batchSize) {
    out.push({ Bucket: bucket, Delete: { Objects: keys.slice(i, i + batchSize).map((Key) => ({ Key })), Quiet: true } })
  }
  return out
}

/** Deletes keys in batches of 1,000; any key S3 could not delete fails the call, naming it. */
export async function deleteObjects(s3: S3Client, bucket: string, keys: readonly string[], signal?: AbortSignal): Promise<number> {
  let deleted = 0
  for (const input of deleteBatches(bucket, keys)) {
    const out = await callAws({ service: 's3', operation: 'DeleteObjects', resource: `s3://${bucket}` }, () =>
      s3.send(new DeleteObjectsCommand(input), { abortSignal: signal }),
    )
    const errors = out.Errors ?? []
    if (errors.length > 0) {
      const first = errors
        .slice(0, 5)
        .map((e) => `${e.Key}: ${e.Code} ${e.Message ?? ''}`.trim())
        .join('; ')
      throw new AwsError('DeleteFailed', `S3 did not delete ${errors.length} of ${input.Delete.Objects.length} objects: ${first}`, {
        hint: errors.some((e) => e.Code === 'AccessDenied') ? `Grant s3:DeleteObject on arn:aws:s3:::${bucket}/*.` : 'Run the command again.',
      })
    }
    deleted += input.Delete.Objects.length
  }
  return deleted
}

/**
 * One PutObject of an in-memory body, signed with the sha256 its input carries as `ChecksumSHA256`
 * (the body is hashed once, by the caller) and sent through the client's cached middleware stack, with
 * the signal in the input (transfer-client.ts). Errors propagate untranslated (the caller decides what
 * to retry).
 */
export async function putObject(
  s3: S3Client,
  input: PutObjectCommandInput & { readonly Body: Buffer; readonly ChecksumSHA256: string },
  o: { readonly signal?: AbortSignal },
): Promise<{ etag: string }> {
  const out = await s3.send(new PutObjectCommand(withRequestSignal(input, o.signal)))
  return { etag: out.ETag ?? '' }
}

export interface MultipartUploadOptions {
  readonly partSize: number
  /** Parts sent at once. */
  readonly queueSize: number
  readonly signal: AbortSignal
  /** Bytes confirmed sent so far (monotonic). */
  readonly onProgress?: (loaded: number) => void
  /** The unfinished upload could not be aborted (its parts keep costing storage until removed). */
  readonly onAbortFailed?: (uploadId: string, error: unknown) => void
}

/**
 * A multipart upload of a stream. On any failure, the signal's abort included, every part request
 * is first allowed to settle and then the multipart upload is aborted, so no part is left billing;
 * the original error is rethrown untranslated.
 */
export async function multipartUpload(
  s3: S3Client,
  input: CreateMultipartUploadCommandInput & { readonly Body: Readable },
  o: MultipartUploadOptions,
): Promise<{ etag: string }> {
  const tracked = trackSends(s3)
  const upload = new Upload({
    client: tracked.client,
    params: input,
    partSize: o.partSize,
    queueSize: o.queueSize,
    // The upload is aborted here, after every part request has settled (below): lib-storage's own
    // abort can race a part still in flight, which would then linger as storage.
    leavePartsOnError: true,
  })
  let reported = 0
  upload.on('httpUploadProgress', (p) => {
    if (typeof p.loaded === 'number' && p.loaded > reported) {
      reported = p.loaded
      o.onProgress?.(p.loaded)
    }
  })
  const onAbort = () => void upload.abort()
  if (o.signal.aborted) onAbort()
  else o.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const out = await upload.done()
    return { etag: out.ETag ?? '' }
  } catch (err) {
    await tracked.settled()
    if (upload.uploadId) await abortMultipartUpload(s3, input.Bucket!, input.Key!, upload.uploadId, o.onAbortFailed)
    throw err
  } finally {
    o.signal.removeEventListener('abort', onAbort)
  }
}

/** AbortMultipartUpload, sent without the (possibly aborted) signal; an upload already gone is fine. */
export async function abortMultipartUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  onFailed?: (uploadId: string, error: unknown) => void,
): Promise<void> {
  try {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
  } catch (e) {
    if (!isAwsErrorNamed(e, 'NoSuchUpload'))
      onFailed?.(uploadId, translateAwsError(e, { service: 's3', operation: 'AbortMultipartUpload', resource: `s3://${bucket}/${key}` }))
  }
}

/** A view of the client that knows when every request it sent has settled. */
function trackSends(s3: S3Client): { client: S3Client; settled(): Promise<void> } {
  const inflight = new Set<Promise<unknown>>()
  const client = new Proxy(s3, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver)
      return (...args: Parameters<S3Client['send']>) => {
        const p = (target.send as (...a: unknown[]) => Promise<unknown>)(...args)
        inflight.add(p)
        p.then(
          () => inflight.delete(p),
          () => inflight.delete(p),
        )
        return p
      }
    },
  })
  return {
    client,
    settled: async () => {
      while (inflight.size > 0) await Promise.allSettled([...inflight])
    },
  }
}
