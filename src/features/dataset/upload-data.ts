import type { S3Client } from '@aws-sdk/client-s3'
import { setMaxListeners } from 'node:events'
import path from 'node:path'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { UploadCache } from './cache.js'
import { fetchDataset, redactUrl, unpackedFrom, type FetchDatasetResult } from './download.js'
import { scanDataset, summarize, type DatasetScan, type LocalFile } from '../../shared/dataset-layout.js'
import {
  classifyAgainstListing,
  etagIsContentMd5,
  keysToDelete,
  listPrefix,
  objectKey,
  overlappingReservedPrefix,
  type RemoteObject,
  type UploadReason,
} from './plan.js'
import { createProgress, reportScan } from './progress.js'
import { AbortError, InterruptedError, UserError } from '../../shared/errors.js'
import { formatBytes } from '../../shared/output.js'
import { done, type Outcome } from '../../shared/outcome.js'
import { projectTags } from '../../shared/naming.js'
import { createDataBucket, headBucket, inspectBucket } from '../../aws/s3/bucket.js'
import { headObject, type RemoteHead } from '../../aws/s3/objects.js'
import { deleteObjects, listObjects, listObjectsInSegments } from '../../aws/s3/upload.js'
import { channelUris } from '../../shared/channels.js'
import { planDatasetSync } from './sync-plan.js'
import { hashFile, uploadFiles, type UploadItem } from './parallel-upload.js'
import { runPool } from '../../shared/pool.js'
import { markPhase } from '../../shared/phase-timings.js'
import type { SyncOptions, SyncPlanDetails, SyncResult, UploadDataOptions } from './types.js'

/** The `upload-data` command: optional download, then a dry-run plan or the sync itself. */
export async function runUploadData(ctx: CommandContext, cfg: MlopsConfig, o: UploadDataOptions): Promise<Outcome<SyncResult, SyncPlanDetails>> {
  refuseReservedPrefix(o.prefix, cfg)
  const workDir = path.join(ctx.projectDir, '.mlops')
  const common = {
    source: o.source,
    bucket: o.bucket,
    prefix: o.prefix,
    region: ctx.awsSettings(cfg).region,
    project: cfg.project.name,
    kmsKeyId: cfg.data.kmsKeyId,
    concurrency: o.concurrency,
    delete: o.delete,
    validate: o.validate,
    followSymlinks: o.followSymlinks,
    checksum: o.checksum,
    cacheFile: UploadCache.pathFor(ctx.projectDir),
    signal: ctx.signal,
    clock: ctx.clock,
    ui: ctx.ui,
  }
  if (ctx.dryRun) {
    const pending = o.fromUrl && !(await unpackedFrom(workDir, o.source, o.fromUrl))
    return planDatasetSync(pending ? { ...common, withoutFiles: true, download: { url: redactUrl(o.fromUrl!), into: o.source } } : common)
  }
  const { s3 } = await ctx.clients(['s3'], cfg)
  markPhase('S3 client built')
  let download: FetchDatasetResult | undefined
  if (o.fromUrl) {
    // Credentials, bucket ownership and region are checked before a download that may take minutes.
    if (!(await unpackedFrom(workDir, o.source, o.fromUrl))) await headBucket(s3, { ...common, tags: [] }, ctx.signal)
    download = await fetchDataset({ url: o.fromUrl, dest: o.source, workDir, expectSha256: o.expectSha256, signal: ctx.signal, ui: ctx.ui })
  }
  const result = await syncDataset(s3, {
    ...common,
    state: ctx.state(),
    confirmDelete: (keys) => ctx.ui.confirm(`Delete ${keys.length === 1 ? 'this object' : `these ${keys.length} objects`} from s3://${o.bucket}?`),
  })
  if (!download) return done(result)
  const { url, downloaded, archiveBytes, archiveSha256 } = download
  return done({ ...result, download: { url, downloaded, archiveBytes, archiveSha256 } })
}

/** A dataset prefix overlapping mlops's own objects would let --delete remove them (issue 19 item 3): refused, exit 2. */
function refuseReservedPrefix(prefix: string, cfg: MlopsConfig): void {
  const project = cfg.project.name
  const clash = overlappingReservedPrefix(prefix, cfg)
  if (!clash) return
  throw new UserError(
    'PrefixOverlap',
    `data.prefix "${prefix}" overlaps "${clash}", where mlops keeps its own objects (code packages, models, training output, checkpoints).`,
    {
      hint: `Choose a prefix of its own in data.prefix (mlops.config.yaml) or pass --prefix, for example --prefix ${project}-data.`,
    },
  )
}

/**
 * Syncs a local dataset folder to `s3://<bucket>/<prefix>/`: validate, make sure the bucket is safe,
 * one listing, compare, (confirm deletes), upload in parallel, delete. A no-change run reads no file
 * content and sends one ListObjectsV2 per 1,000 objects and nothing else (see UploadCache).
 */
export async function syncDataset(s3: S3Client, options: SyncOptions): Promise<SyncResult> {
  const o = { ...options, signal: childController(options.signal).controller.signal }
  try {
    return await sync(s3, o)
  } catch (err) {
    // Ctrl-C outside the upload loop (checking the bucket, listing, deleting): the SDK's AbortError
    // becomes exit 130. Nothing is half-written there: objects are whole, deletes are per batch.
    if (o.signal.aborted && !(err instanceof InterruptedError)) {
      throw new InterruptedError('Interrupted. Run the same command again to finish: what is already in S3 is skipped.', { cause: err })
    }
    throw err
  }
}

type Upload = UploadItem & { reason: UploadReason }

/** The phases of one sync, in order; each is a function below. */
async function sync(s3: S3Client, o: SyncOptions): Promise<SyncResult> {
  const started = o.clock.now()
  const prefix = listPrefix(o.prefix)
  const destination = `s3://${o.bucket}/${prefix}`
  const { scan, cache, bucketCreated, remote } = await scanAndList(s3, o)
  for (const key of cache.objectKeys(o.bucket, prefix)) if (!remote.has(key)) cache.forgetObject(o.bucket, key)

  const { uploads, skipped, headRequests } = await compareWithRemote(s3, o, scan, remote, cache)
  markPhase('compare (hashes, HeadObject)')
  const orphans = keysToDelete(o.prefix, scan.files, remote.keys())
  await confirmOrphans(o, orphans, destination, cache)
  const transfer = await transferFiles(s3, o, uploads, skipped.length, scan, cache, bucketCreated)
  markPhase('transfer and record saved')

  let deleted = 0
  if (o.delete && orphans.length > 0) {
    o.ui.step(`Deleting ${orphans.length} object${orphans.length === 1 ? '' : 's'} with no local file…`)
    deleted = await deleteObjects(s3, o.bucket, orphans, o.signal)
    for (const k of orphans) cache.forgetObject(o.bucket, k)
    await cache.save()
  }

  return {
    source: scan.root,
    destination,
    uploaded: transfer.uploaded,
    skipped: skipped.length,
    deleted,
    remoteOnly: o.delete ? 0 : orphans.length,
    bytes: transfer.bytes,
    totalBytes: scan.bytes,
    seconds: Math.round((o.clock.now() - started) / 10) / 100,
    channels: channelUris({ data: { bucket: o.bucket, prefix: o.prefix } as MlopsConfig['data'] }),
    dataset: summarize(scan),
    bucketCreated,
    headRequests,
    retries: transfer.retries,
  }
}

/**
 * The local scan, the bucket checks and the listing. On a re-sync (the local record says this
 * machine has uploaded to the bucket) they are all reads of a bucket that exists: HeadBucket, the
 * public-bucket checks and the listing go out at once and run while the folder is scanned, so the
 * sync waits for the slowest of them, not their sum. Otherwise nothing reaches S3 before the scan has
 * accepted the dataset, the checks follow HeadBucket (none for a missing bucket), and the listing
 * waits for them, so a bucket created now is never listed. Nothing is written before the scan
 * has accepted the dataset, and its refusal comes first; then the bucket's (public, another region,
 * forbidden); then the listing's. The listing of a recorded bucket that has since gone is not used.
 */
async function scanAndList(s3: S3Client, o: SyncOptions) {
  const cache = await UploadCache.load(o.cacheFile)
  const { controller: reads, release } = childController(o.signal)
  const bucketOptions = { bucket: o.bucket, region: o.region, tags: projectTags(o.project), kmsKeyId: o.kmsKeyId }
  const resync = cache.knowsBucket(o.bucket)
  const inspect = () => settle(inspectBucket(s3, bucketOptions, reads.signal, { together: resync }))
  // A re-sync lists in segments at once, split along the record (one page each when nothing changed);
  // a first listing pages through from the start.
  const prefix = listPrefix(o.prefix)
  const recorded = resync ? cache.objectKeys(o.bucket, prefix) : []
  const segment = resyncSegment(recorded.length)
  const splitAfter = recorded.filter((_, i) => i % segment === segment - 1 && i < recorded.length - 1)
  const list = () =>
    settle(
      splitAfter.length > 0 ? listObjectsInSegments(s3, o.bucket, prefix, splitAfter, reads.signal, segment) : listObjects(s3, o.bucket, prefix, reads.signal),
    )
  let inspected = resync ? inspect() : undefined
  const listed = resync ? list() : undefined
  try {
    // Unchanged files (size and mtime as recorded) are stat'ed, not opened; --checksum opens every one.
    const checkedBefore = o.checksum ? undefined : (p: string) => cache.checkedBefore(p, { image: o.validate })
    const scan = await scanDataset(o.source, { validate: o.validate, followSymlinks: o.followSymlinks, checkedBefore })
    markPhase(`local record and scan (${scan.unopened} of ${scan.files.length} files not opened)`)
    reportScan(o.ui, scan)
    cache.pruneHashes(scan.root, new Set(scan.files.map((f) => f.path)))

    inspected ??= inspect()
    const bucketCreated = await prepareBucket(s3, o, bucketOptions, unwrap(await inspected))
    markPhase('bucket checks')
    if (bucketCreated) reads.abort() // a bucket created now is empty: its listing is not needed
    const remote = bucketCreated ? new Map<string, RemoteObject>() : unwrap(await (listed ?? list()))
    markPhase('listing')
    return { scan, cache, bucketCreated, remote }
  } catch (err) {
    reads.abort(err)
    throw err
  } finally {
    release()
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** A promise whose failure is held (not an unhandled rejection) until `unwrap` rethrows it. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  )
}

function unwrap<T>(s: Settled<T>): T {
  if (!s.ok) throw s.error
  return s.value
}

/** Makes sure the bucket exists and is safe (inspected already); records a created one. True when it was created now. */
async function prepareBucket(
  s3: S3Client,
  o: SyncOptions,
  bucketOptions: Parameters<typeof createDataBucket>[1],
  found: { exists: boolean; warnings: readonly string[] },
): Promise<boolean> {
  const bucket = found.exists ? { created: false, warnings: found.warnings } : await createDataBucket(s3, bucketOptions, o.signal)
  for (const w of bucket.warnings) o.ui.warn(w)
  if (bucket.created) {
    o.ui.success(`Created bucket ${o.bucket} (private, ${o.kmsKeyId ? 'SSE-KMS' : 'SSE-S3'} encrypted, TLS-only, tagged)`)
    await o.state?.record({
      kind: 'bucket',
      name: o.bucket,
      region: o.region,
      createdAt: new Date(o.clock.now()).toISOString(),
      details: { kmsKeyId: o.kmsKeyId ?? null },
    })
  }
  return bucket.created
}

/**
 * Which files to upload: another size (or no object) from the listing alone; same size by content.
 * Local hashes come from the cache (no read) or are computed; remote ones from this machine's record
 * or, failing that, one HeadObject each.
 */
async function compareWithRemote(s3: S3Client, o: SyncOptions, scan: DatasetScan, remote: ReadonlyMap<string, RemoteObject>, cache: UploadCache) {
  let headRequests = 0
  const skipped: LocalFile[] = []
  const uploads: Upload[] = []
  const compare: { file: LocalFile; key: string; remote: RemoteObject; remoteSha?: string }[] = []
  for (const file of scan.files) {
    const key = objectKey(o.prefix, file.rel)
    const first = classifyAgainstListing(file, remote.get(key), cache.object(o.bucket, key))
    if (first.kind === 'upload') uploads.push({ file, key, reason: first.reason })
    else compare.push({ file, key, remote: remote.get(key)!, remoteSha: first.remoteSha })
  }
  try {
    await runPool(
      compare,
      o.concurrency,
      async (c) => {
        // The HeadObject goes first, so one read of the file gives every digest the comparison needs.
        let remoteSha = c.remoteSha
        let head: RemoteHead | undefined
        if (remoteSha === undefined) {
          headRequests++
          head = await headObject(s3, o.bucket, c.key, o.signal)
        }
        // Uploaded by other means (`aws s3 cp`): a single-part ETag is the MD5 of the content.
        const needMd5 = head !== undefined && !head.sha256 && etagIsContentMd5(head.etag, head.serverSideEncryption)
        const cachedSha = o.checksum ? undefined : cache.hashOf(c.file)
        const hashed = cachedSha === undefined || needMd5 ? await hashFile(c.file.path, { md5: needMd5, signal: o.signal }) : undefined
        const localSha = cachedSha ?? hashed!.sha256
        cache.rememberHash(c.file, localSha, { image: scan.validated })
        if (remoteSha === undefined) {
          if (!head) return void uploads.push({ file: c.file, key: c.key, reason: 'new' })
          if (head.sha256) remoteSha = head.sha256
          else if (needMd5 && (`"${hashed!.md5}"` === head.etag || hashed!.md5 === head.etag)) remoteSha = localSha
        }
        if (remoteSha === localSha) {
          skipped.push(c.file)
          cache.rememberObject(o.bucket, c.key, { size: c.file.size, sha256: localSha, etag: c.remote.etag })
        } else uploads.push({ file: c.file, key: c.key, reason: 'changed' })
      },
      o.signal,
    )
  } finally {
    if (o.signal.aborted) await cache.save()
  }
  if (o.signal.aborted) throw new InterruptedError('Interrupted while comparing files; nothing was uploaded. Run the command again.')
  uploads.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return { uploads, skipped, headRequests }
}

/** Lists the objects with no local file; with --delete asks once (before anything is uploaded). */
async function confirmOrphans(o: SyncOptions, orphans: readonly string[], destination: string, cache: UploadCache): Promise<void> {
  if (orphans.length === 0) return
  const these = `${orphans.length} object${orphans.length === 1 ? '' : 's'} under ${destination} ha${orphans.length === 1 ? 's' : 've'} no local file`
  if (!o.delete) return void o.ui.info(`${these} (kept; --delete removes them).`)
  o.ui.warn(`--delete: ${these} and will be deleted:`)
  for (const k of orphans.slice(0, 50)) o.ui.info(`    s3://${o.bucket}/${k}`)
  if (orphans.length > 50) o.ui.info(`    … and ${orphans.length - 50} more (\`mlops upload-data --delete --dry-run --json\` lists them all)`)
  if (!(await o.confirmDelete(orphans))) {
    await cache.save()
    throw new AbortError('Cancelled: nothing was uploaded or deleted.')
  }
}

/** Uploads, with progress and the record saved as files complete; throws InterruptedError on Ctrl-C / SIGTERM. */
async function transferFiles(
  s3: S3Client,
  o: SyncOptions,
  uploads: readonly Upload[],
  unchanged: number,
  scan: DatasetScan,
  cache: UploadCache,
  bucketCreated: boolean,
) {
  const uploadBytes = uploads.reduce((n, u) => n + u.file.size, 0)
  const destination = `s3://${o.bucket}/${listPrefix(o.prefix)}`
  if (uploads.length > 0) {
    const counts = { new: uploads.filter((u) => u.reason === 'new').length, changed: uploads.filter((u) => u.reason === 'changed').length }
    o.ui.step(
      `Uploading ${uploads.length.toLocaleString('en-US')} file${uploads.length === 1 ? '' : 's'} (${formatBytes(uploadBytes)}; ${counts.new} new, ${counts.changed} changed), ${unchanged.toLocaleString('en-US')} unchanged, ${o.concurrency} at a time`,
    )
  } else o.ui.step(`All ${scan.files.length.toLocaleString('en-US')} files are already in ${destination}`)

  let transfer: Awaited<ReturnType<typeof uploadFiles>>
  const progress = uploads.length > 0 ? createProgress(o.ui, o.clock, uploads.length, uploadBytes) : undefined
  let lastSave = o.clock.now()
  try {
    transfer = await uploadFiles(s3, uploads, {
      ...o.transfer,
      bucket: o.bucket,
      kmsKeyId: o.kmsKeyId,
      concurrency: o.concurrency,
      signal: o.signal,
      clock: o.clock,
      knownSha256: (f) => (o.checksum ? undefined : cache.hashOf(f)),
      onBytes: (n) => progress?.bytes(n),
      onRetry: (item, attempt, err) => o.ui.warn(`retrying ${item.key} (attempt ${attempt + 1}): ${(err as Error).name ?? err}`),
      onVanished: (item) => o.ui.warn(`${item.file.path} disappeared before it was uploaded; skipped`),
      onAbortFailed: (item, uploadId, err) =>
        o.ui.warn(
          `could not abort the unfinished multipart upload of ${item.key} (${(err as Error).message}); ` +
            `remove it with \`aws s3api abort-multipart-upload --bucket ${o.bucket} --key ${item.key} --upload-id ${uploadId}\`` +
            (bucketCreated ? " (the bucket's lifecycle rule also removes it after 7 days)" : ''),
        ),
      onUploaded: (item, r) => {
        progress?.file()
        if (r.size === item.file.size) cache.rememberHash(item.file, r.sha256, { image: scan.validated })
        cache.rememberObject(o.bucket, item.key, { size: r.size, sha256: r.sha256, etag: r.etag })
        // Save now and then, so even a killed process (no chance to clean up) resumes cheaply. A failed
        // save here is not fatal: the records stay dirty and the save after the loop reports any error.
        if (o.clock.now() - lastSave > 10_000) {
          lastSave = o.clock.now()
          void cache.save().catch(() => undefined)
        }
      },
    })
  } finally {
    progress?.done()
    await cache.save()
  }
  if (transfer.interrupted) {
    throw new InterruptedError(
      `Interrupted after uploading ${transfer.uploaded} of ${uploads.length} files (${formatBytes(transfer.bytes)}); in-flight uploads were cancelled and ` +
        'unfinished multipart uploads aborted. Run the same command again to resume: files already uploaded are skipped.',
    )
  }
  return transfer
}

/**
 * A controller whose signal follows `parent` and may carry many listeners: every in-flight request
 * adds one, and Node warns about a "possible memory leak" past 10 on the caller's signal. It can also
 * be aborted alone; `release()` stops following the parent.
 */
function childController(parent: AbortSignal): { readonly controller: AbortController; release(): void } {
  const controller = new AbortController()
  setMaxListeners(0, controller.signal)
  const follow = () => controller.abort(parent.reason)
  if (parent.aborted) follow()
  else parent.addEventListener('abort', follow, { once: true })
  return { controller, release: () => parent.removeEventListener('abort', follow) }
}

/**
 * Keys per segment of a re-sync's listing: the record in about eight segments listed at once, each one
 * page of 250 to 1,000 keys. A page's time grows with its keys, so 934 keys listed as four pages at once
 * answer sooner than as one; more than eight would only queue at the server.
 */
export function resyncSegment(recordedKeys: number): number {
  return Math.min(1000, Math.max(250, Math.ceil(recordedKeys / 8)))
}
