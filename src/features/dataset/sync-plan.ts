import { UploadCache } from './cache.js'
import { scanDataset, summarize, type DatasetSummary } from './layout.js'
import {
  classifyAgainstRecord,
  deleteBatches,
  listPrefix,
  multipartInput,
  MULTIPART_THRESHOLD,
  objectKey,
  orphanKeys,
  PART_SIZE,
  putObjectInput,
  type FirstPass,
  type UploadReason,
} from './plan.js'
import { reportScan } from './render.js'
import type { MlopsConfig } from '../../config/schema.js'
import { planToJson, type PlannedOperation } from '../../shared/plan.js'
import { bucketSetupRequests } from '../../aws/s3/bucket.js'
import { channelUris, type ChannelUris } from '../../shared/channels.js'
import type { SyncOptions } from './run.js'
import { hashFile } from './upload.js'

export interface PlannedUpload {
  readonly key: string
  readonly size: number
  readonly reason: UploadReason
}

export interface SyncPlan {
  readonly dryRun: true
  readonly operations: ReturnType<typeof planToJson>
  /** A dry run uses no credentials: it compares with the local record of earlier uploads, not with S3. */
  readonly comparedWith: 'local-record'
  readonly source: string
  readonly destination: string
  readonly wouldUpload: number
  readonly wouldSkip: number
  readonly wouldDelete: number
  readonly bytes: number
  readonly uploads: readonly PlannedUpload[]
  readonly deletes: readonly string[]
  readonly channels: ChannelUris
  readonly dataset?: DatasetSummary
  readonly notes: readonly string[]
  readonly download?: { readonly url: string; readonly into: string }
}

/**
 * --dry-run: the requests a sync would send, with full inputs, using no credentials and no network.
 * S3 cannot be asked, so the local record of earlier uploads stands in for the listing (and the plan
 * says so). Hashes are read from the cache or computed locally; nothing is written.
 */
export async function planDatasetSync(o: Omit<SyncOptions, 'confirmDelete' | 'state'> & { withoutFiles?: boolean }): Promise<SyncPlan> {
  const channels = channelUris({ data: { bucket: o.bucket, prefix: o.prefix } as MlopsConfig['data'] })
  const destination = `s3://${o.bucket}/${listPrefix(o.prefix)}`
  const ops: PlannedOperation[] = [
    { service: 's3', operation: 'HeadBucket', input: { Bucket: o.bucket }, note: 'does the bucket exist, and is it private?' },
    ...bucketSetupRequests({ bucket: o.bucket, region: o.region, project: o.project, kmsKeyId: o.kmsKeyId }),
    { service: 's3', operation: 'ListObjectsV2', input: { Bucket: o.bucket, Prefix: listPrefix(o.prefix) }, note: 'one request per 1,000 objects' },
  ]
  const notes = [
    'No credentials are used in a dry run, so this compares with the local record of earlier uploads (.mlops/upload-cache.json), ' +
      'not with S3: objects changed by others are not seen. The bucket requests run only if the bucket does not exist.',
  ]
  if (o.withoutFiles) {
    notes.push('The files to upload are known only after --from-url has been downloaded and unpacked.')
    return {
      dryRun: true,
      operations: planToJson(ops),
      comparedWith: 'local-record',
      source: o.source,
      destination,
      wouldUpload: 0,
      wouldSkip: 0,
      wouldDelete: 0,
      bytes: 0,
      uploads: [],
      deletes: [],
      channels,
      notes,
    }
  }
  const scan = await scanDataset(o.source, { validate: o.validate })
  reportScan(o.ui, scan)
  const cache = await UploadCache.load(o.cacheFile)
  const uploads: PlannedUpload[] = []
  let wouldSkip = 0
  for (const file of scan.files) {
    const key = objectKey(o.prefix, file.rel)
    const first: FirstPass = classifyAgainstRecord(file, cache.object(o.bucket, key))
    // Hashed here (locally) even for new files, so every PutObject below shows the exact checksum it would carry.
    const sha = cache.hashOf(file) ?? (await hashFile(file.path, { signal: o.signal })).sha256
    if (first.kind === 'compare' && sha === first.remoteSha) {
      wouldSkip++
      continue
    }
    uploads.push({ key, size: file.size, reason: first.kind === 'upload' ? first.reason : 'changed' })
    const req = { bucket: o.bucket, key, size: file.size, sha256Hex: sha, kmsKeyId: o.kmsKeyId }
    if (file.size >= (o.transfer?.multipartThreshold ?? MULTIPART_THRESHOLD)) {
      const parts = Math.ceil(file.size / (o.transfer?.partSize ?? PART_SIZE))
      ops.push({
        service: 's3',
        operation: 'CreateMultipartUpload',
        input: multipartInput(req),
        note: `then ${parts} UploadPart and CompleteMultipartUpload (${file.path})`,
      })
    } else {
      ops.push({ service: 's3', operation: 'PutObject', input: { ...putObjectInput(req), Body: `<contents of ${file.path}>` } })
    }
  }
  const deletes = o.delete ? orphanKeys(new Set(scan.files.map((f) => objectKey(o.prefix, f.rel))), cache.objectKeys(o.bucket, listPrefix(o.prefix))) : []
  for (const input of deleteBatches(o.bucket, deletes)) ops.push({ service: 's3', operation: 'DeleteObjects', input })
  return {
    dryRun: true,
    operations: planToJson(ops),
    comparedWith: 'local-record',
    source: scan.root,
    destination,
    wouldUpload: uploads.length,
    wouldSkip,
    wouldDelete: deletes.length,
    bytes: uploads.reduce((n, u) => n + u.size, 0),
    uploads,
    deletes,
    channels,
    dataset: summarize(scan),
    notes,
  }
}
