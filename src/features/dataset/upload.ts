import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'
import { AwsError } from '../../shared/errors.js'
import { deleteBatches, multipartInput, MULTIPART_THRESHOLD, PART_SIZE, putObjectInput, type RemoteObject } from './plan.js'
import type { LocalFile } from './layout.js'
import type { Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../../aws/errors.js'

/**
 * The S3 transfer engine of `upload-data`: listing, HeadObject, parallel uploads (single PUTs for
 * ordinary files, @aws-sdk/lib-storage multipart for large ones), deletes. Every function takes its
 * client and an AbortSignal; none prints.
 */

export interface UploadItem {
  readonly file: LocalFile
  readonly key: string
}

export interface UploadedObject {
  readonly sha256: string
  readonly etag: string
  /** Bytes actually sent (differs from `file.size` only when the file changed during the run). */
  readonly size: number
}

export interface UploadFilesOptions {
  readonly bucket: string
  readonly kmsKeyId?: string
  /** Files uploaded at once. */
  readonly concurrency: number
  readonly signal: AbortSignal
  readonly clock: Clock
  /** @default MULTIPART_THRESHOLD (16 MiB) */
  readonly multipartThreshold?: number
  /** @default PART_SIZE (8 MiB) */
  readonly partSize?: number
  /** Parts of one multipart upload sent at once. @default 4 */
  readonly partConcurrency?: number
  /**
   * Attempts per file, on top of the SDK's own capped retries per request: a file read as a stream
   * (multipart) cannot be replayed by the SDK, and a burst of throttling can drain the SDK's retry
   * quota. @default 3
   */
  readonly maxAttempts?: number
  /** File bytes held in memory at once, across workers. Bounds peak memory whatever the file sizes. @default 256 MiB */
  readonly maxBufferedBytes?: number
  /** A sha256 already known for a file (from the cache), to spare large files a hashing pass. */
  readonly knownSha256?: (file: LocalFile) => string | undefined
  readonly onUploaded?: (item: UploadItem, result: UploadedObject) => void
  /** Bytes confirmed sent since the last call (for progress). */
  readonly onBytes?: (bytes: number) => void
  readonly onRetry?: (item: UploadItem, attempt: number, error: unknown) => void
  /** The file disappeared between the scan and its upload. */
  readonly onVanished?: (item: UploadItem) => void
  /** An unfinished multipart upload could not be aborted (its parts keep costing storage until removed). */
  readonly onAbortFailed?: (item: UploadItem, uploadId: string, error: unknown) => void
}

export interface UploadFilesResult {
  readonly uploaded: number
  readonly bytes: number
  readonly retries: number
  /** The signal aborted: some files were not uploaded, in-flight multipart uploads were aborted. */
  readonly interrupted: boolean
}

/** Every object under `prefix`: one ListObjectsV2 page per 1,000 keys, nothing per object. */
export async function listObjects(s3: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<Map<string, RemoteObject>> {
  const out = new Map<string, RemoteObject>()
  let ContinuationToken: string | undefined
  do {
    const page = await callAws({ service: 's3', operation: 'ListObjectsV2', resource: `s3://${bucket}/${prefix}` }, () =>
      s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }), { abortSignal: signal }),
    )
    for (const o of page.Contents ?? []) if (o.Key) out.set(o.Key, { key: o.Key, size: o.Size ?? 0, etag: o.ETag ?? '' })
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (ContinuationToken)
  return out
}

/** Deletes keys in batches of 1,000; any key S3 could not delete fails the call, naming it. */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[], signal?: AbortSignal): Promise<number> {
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

/** sha256 (and optionally MD5) of a file's content, streamed. */
export async function hashFile(file: string, opts: { md5?: boolean; signal?: AbortSignal } = {}): Promise<{ sha256: string; md5?: string }> {
  const sha = createHash('sha256')
  const md5 = opts.md5 ? createHash('md5') : undefined
  await pipeline(
    createReadStream(file, { highWaterMark: 1024 * 1024 }),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) {
        sha.update(chunk)
        md5?.update(chunk)
      }
    },
    { signal: opts.signal },
  )
  return { sha256: sha.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}) }
}

/**
 * Uploads files `concurrency` at a time. Stops starting new files when the signal aborts (in-flight
 * requests are cancelled and multipart uploads aborted, so nothing half-written is left behind) or
 * when a file fails for good (in-flight files finish, then the error is thrown). Each completed file
 * is reported through `onUploaded` at once, so the caller's record survives an interruption.
 */
export async function uploadFiles(s3: S3Client, items: readonly UploadItem[], o: UploadFilesOptions): Promise<UploadFilesResult> {
  const threshold = o.multipartThreshold ?? MULTIPART_THRESHOLD
  const partSize = o.partSize ?? PART_SIZE
  const partConcurrency = o.partConcurrency ?? 4
  const budget = new ByteBudget(o.maxBufferedBytes ?? 256 * 1024 * 1024)
  const maxAttempts = o.maxAttempts ?? 3
  let uploaded = 0
  let bytes = 0
  let retries = 0

  const uploadOne = async (item: UploadItem): Promise<void> => {
    const large = item.file.size >= threshold
    const reserve = large ? partSize * (partConcurrency + 1) : item.file.size
    await budget.acquire(reserve)
    try {
      for (let attempt = 1; ; attempt++) {
        if (o.signal.aborted) return
        let sent = 0
        const progress = (n: number) => {
          sent += n
          o.onBytes?.(n)
        }
        try {
          const result = large ? await putMultipart(s3, item, o, partSize, partConcurrency, progress) : await putSingle(s3, item, o, progress)
          uploaded++
          bytes += result.size
          o.onUploaded?.(item, result)
          return
        } catch (err) {
          if (sent > 0) o.onBytes?.(-sent)
          if (o.signal.aborted) return
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            o.onVanished?.(item)
            return
          }
          if (attempt >= maxAttempts || !isRetryable(err)) {
            throw translateAwsError(err, { service: 's3', operation: large ? 'UploadPart' : 'PutObject', resource: `s3://${o.bucket}/${item.key}` })
          }
          retries++
          o.onRetry?.(item, attempt, err)
          // Capped exponential backoff between whole-file attempts; sleep rejects on Ctrl-C.
          await o.clock.sleep(Math.min(250 * 2 ** (attempt - 1), 5_000), o.signal).catch(() => undefined)
        }
      }
    } finally {
      budget.release(reserve)
    }
  }

  await runPool(items, o.concurrency, uploadOne, o.signal)
  return { uploaded, bytes, retries, interrupted: o.signal.aborted }
}

async function putSingle(s3: S3Client, item: UploadItem, o: UploadFilesOptions, progress: (n: number) => void): Promise<UploadedObject> {
  const body = await readFile(item.file.path)
  const sha256 = createHash('sha256').update(body).digest('hex')
  const command = new PutObjectCommand({
    ...putObjectInput({ bucket: o.bucket, key: item.key, size: body.length, sha256Hex: sha256, kmsKeyId: o.kmsKeyId }),
    Body: body,
  })
  // The SigV4 payload hash is the same sha256: hand it to the signer so the body is hashed once, not twice.
  command.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers?: Record<string, string> }
      if (req.headers) req.headers['x-amz-content-sha256'] = sha256
      return next(args)
    },
    { step: 'build', name: 'mlopsPresetPayloadHash' },
  )
  const out = await s3.send(command, { abortSignal: o.signal })
  progress(body.length)
  return { sha256, etag: out.ETag ?? '', size: body.length }
}

async function putMultipart(
  s3: S3Client,
  item: UploadItem,
  o: UploadFilesOptions,
  partSize: number,
  queueSize: number,
  progress: (n: number) => void,
): Promise<UploadedObject> {
  const sha256 = o.knownSha256?.(item.file) ?? (await hashFile(item.file.path, { signal: o.signal })).sha256
  const tracked = trackSends(s3)
  const body = createReadStream(item.file.path, { highWaterMark: 1024 * 1024 })
  const upload = new Upload({
    client: tracked.client,
    params: { ...multipartInput({ bucket: o.bucket, key: item.key, size: item.file.size, sha256Hex: sha256, kmsKeyId: o.kmsKeyId }), Body: body },
    partSize,
    queueSize,
    // mlops aborts the multipart upload itself, after every part request has settled (below):
    // lib-storage's own abort can race a part still in flight, which would then linger as storage.
    leavePartsOnError: true,
  })
  let reported = 0
  upload.on('httpUploadProgress', (p) => {
    if (typeof p.loaded === 'number' && p.loaded > reported) {
      progress(p.loaded - reported)
      reported = p.loaded
    }
  })
  const onAbort = () => void upload.abort()
  o.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const out = await upload.done()
    if (reported < item.file.size) progress(item.file.size - reported)
    return { sha256, etag: out.ETag ?? '', size: item.file.size }
  } catch (err) {
    await tracked.settled()
    if (upload.uploadId) {
      try {
        await s3.send(new AbortMultipartUploadCommand({ Bucket: o.bucket, Key: item.key, UploadId: upload.uploadId }))
      } catch (e) {
        if (!isAwsErrorNamed(e, 'NoSuchUpload'))
          o.onAbortFailed?.(
            item,
            upload.uploadId,
            translateAwsError(e, { service: 's3', operation: 'AbortMultipartUpload', resource: `s3://${o.bucket}/${item.key}` }),
          )
      }
    }
    throw err
  } finally {
    o.signal.removeEventListener('abort', onAbort)
    body.destroy()
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

const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeoutException',
  'NetworkingError',
])
const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED'])

/** Throttling, 5xx and dropped connections are worth another attempt; AccessDenied and friends are not. */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown }
  const status = e.$metadata?.httpStatusCode ?? 0
  return status >= 500 || status === 429 || RETRYABLE_NAMES.has(e.name ?? '') || RETRYABLE_CODES.has(e.code ?? '') || Boolean(e.$retryable)
}

/** Runs `worker` over items with bounded concurrency. Stops taking new items on abort or on the first failure. */
export async function runPool<T>(items: readonly T[], concurrency: number, worker: (item: T) => Promise<void>, signal: AbortSignal): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async () => {
    while (!failure && !signal.aborted && next < items.length) {
      const item = items[next++]
      try {
        await worker(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane))
  if (failure && !signal.aborted) throw failure.error
}

/** A counting semaphore over bytes, so many workers with large files cannot exhaust memory. */
class ByteBudget {
  private used = 0
  private readonly waiters: { n: number; resolve: () => void }[] = []
  constructor(private readonly max: number) {}

  acquire(n: number): Promise<void> {
    // One item larger than the whole budget still runs, alone.
    if (this.used === 0 || this.used + n <= this.max) {
      this.used += n
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiters.push({ n, resolve }))
  }

  release(n: number): void {
    this.used -= n
    while (this.waiters.length > 0 && (this.used === 0 || this.used + this.waiters[0].n <= this.max)) {
      const w = this.waiters.shift()!
      this.used += w.n
      w.resolve()
    }
  }
}
