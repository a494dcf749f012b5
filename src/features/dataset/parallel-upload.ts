import type { S3Client } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { createReadStream, readFile as readFileCallback } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { promisify } from 'node:util'
import { OperationError } from '../../shared/errors.js'
import { runPool } from '../../shared/pool.js'
import { multipartInput, MULTIPART_THRESHOLD, PART_SIZE, putObjectInput } from './plan.js'
import type { LocalFile } from '../../shared/dataset-layout.js'
import type { Clock } from '../../shared/clock.js'
import { translateAwsError } from '../../aws/error-translation.js'
import { isRetryableTransfer, withRetry } from '../../aws/retry.js'
import { deleteObjects, multipartUpload, putObject } from '../../aws/s3/upload.js'

/**
 * The transfer engine of `upload-data`: parallel uploads (single PUTs for ordinary files, multipart
 * for large ones) under a memory budget, whole-file retries, and the sha256 of what was actually
 * sent. The S3 calls themselves are in aws/s3/upload.ts. Every function takes an AbortSignal; none prints.
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
  const totals = { uploaded: 0, bytes: 0, retries: 0 }

  const uploadOne = async (item: UploadItem): Promise<void> => {
    const large = item.file.size >= threshold
    const reserve = large ? partSize * (partConcurrency + 1) : item.file.size
    await budget.acquire(reserve)
    try {
      const result = await uploadWithRetries(s3, item, o, large ? { partSize, partConcurrency } : undefined, totals)
      if (!result) return
      totals.uploaded++
      totals.bytes += result.size
      o.onUploaded?.(item, result)
    } finally {
      budget.release(reserve)
    }
  }

  await runPool(items, o.concurrency, uploadOne, o.signal)
  return { ...totals, interrupted: o.signal.aborted }
}

/**
 * One file, with whole-file attempts on top of the SDK's per-request retries (capped exponential
 * backoff on the injectable clock). Undefined when the signal aborted or the file vanished.
 */
async function uploadWithRetries(
  s3: S3Client,
  item: UploadItem,
  o: UploadFilesOptions,
  multipart: { partSize: number; partConcurrency: number } | undefined,
  totals: { retries: number },
): Promise<UploadedObject | undefined> {
  let attempt = 0
  try {
    return await withRetry(
      async () => {
        attempt++
        o.signal.throwIfAborted()
        let sent = 0
        const progress = (n: number) => {
          sent += n
          o.onBytes?.(n)
        }
        try {
          // After a failed attempt the file may have changed: its cached hash is not trusted again.
          return multipart ? await putLarge(s3, item, o, multipart, attempt === 1, progress) : await putSmall(s3, item, o, progress)
        } catch (err) {
          if (sent > 0) o.onBytes?.(-sent)
          throw err
        }
      },
      {
        clock: o.clock,
        signal: o.signal,
        attempts: o.maxAttempts ?? 3,
        baseDelayMs: 250,
        maxDelayMs: 5_000,
        retryable: (err) => !o.signal.aborted && !isVanished(err) && (err instanceof FileChangedError || isRetryableTransfer(err)),
        onRetry: (n, err) => {
          totals.retries++
          o.onRetry?.(item, n, err)
        },
      },
    )
  } catch (err) {
    if (o.signal.aborted) return undefined
    if (isVanished(err)) {
      o.onVanished?.(item)
      return undefined
    }
    if (err instanceof FileChangedError) {
      throw new OperationError('FileChangedDuringUpload', `${item.file.path} kept changing while it was uploaded (${attempt} attempts); it was not recorded.`, {
        hint: 'Stop whatever writes into the dataset folder, then run the command again.',
      })
    }
    throw translateAwsError(err, { service: 's3', operation: multipart ? 'UploadPart' : 'PutObject', resource: `s3://${o.bucket}/${item.key}` })
  }
}

function isVanished(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

/** The bytes sent did not match the sha256 the object was created with: the file changed mid-upload. */
class FileChangedError extends Error {
  override readonly name = 'FileChangedError'
}

/** fs.readFile with callbacks: about half the CPU of fs/promises' readFile per small file (one read, no FileHandle). */
const readWholeFile = promisify(readFileCallback)

/** A single PUT: the body is read once, and the sha256 of exactly those bytes goes with it. */
async function putSmall(s3: S3Client, item: UploadItem, o: UploadFilesOptions, progress: (n: number) => void): Promise<UploadedObject> {
  const body = await readWholeFile(item.file.path)
  const sha256 = createHash('sha256').update(body).digest('hex')
  const input = { ...putObjectInput({ bucket: o.bucket, key: item.key, size: body.length, sha256Hex: sha256, kmsKeyId: o.kmsKeyId }), Body: body }
  const { etag } = await putObject(s3, input, { signal: o.signal })
  progress(body.length)
  return { sha256, etag, size: body.length }
}

/**
 * A multipart upload. The object's x-amz-meta-sha256 is sent first (CreateMultipartUpload), so the
 * bytes are hashed again as they stream out; if they differ from it (the file changed under us), the
 * attempt fails with FileChangedError and is retried, and the wrong sha256 is never recorded (issue 19).
 */
async function putLarge(
  s3: S3Client,
  item: UploadItem,
  o: UploadFilesOptions,
  m: { partSize: number; partConcurrency: number },
  trustCache: boolean,
  progress: (n: number) => void,
): Promise<UploadedObject> {
  const now = await stat(item.file.path)
  const unchanged = now.size === item.file.size && now.mtimeMs === item.file.mtimeMs
  const known = trustCache && unchanged ? o.knownSha256?.(item.file) : undefined
  const sha256 = known ?? (await hashFile(item.file.path, { signal: o.signal })).sha256
  const streamed = createHash('sha256')
  let streamedBytes = 0
  const body = Readable.from(
    (async function* () {
      for await (const chunk of createReadStream(item.file.path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        streamed.update(chunk)
        streamedBytes += chunk.length
        yield chunk
      }
    })(),
    { objectMode: false },
  )
  let reported = 0
  try {
    const { etag } = await multipartUpload(
      s3,
      { ...multipartInput({ bucket: o.bucket, key: item.key, size: now.size, sha256Hex: sha256, kmsKeyId: o.kmsKeyId }), Body: body },
      {
        partSize: m.partSize,
        queueSize: m.partConcurrency,
        signal: o.signal,
        onProgress: (loaded) => {
          progress(loaded - reported)
          reported = loaded
        },
        onAbortFailed: (uploadId, err) => o.onAbortFailed?.(item, uploadId, err),
      },
    )
    if (streamed.digest('hex') !== sha256) {
      // The completed object's body and its x-amz-meta-sha256 disagree: it must not stay behind as a record.
      await deleteObjects(s3, o.bucket, [item.key], o.signal)
      throw new FileChangedError(`${item.file.path} changed while it was uploaded`)
    }
    if (reported < streamedBytes) progress(streamedBytes - reported)
    return { sha256, etag, size: streamedBytes }
  } finally {
    body.destroy()
  }
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
