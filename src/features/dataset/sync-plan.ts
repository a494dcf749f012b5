import { UploadCache } from './cache.js'
import { scanDataset, summarize, type LocalFile } from '../../shared/dataset-layout.js'
import {
  bucketSetupRequests,
  classifyAgainstRecord,
  deleteBatches,
  keysToDelete,
  listPrefix,
  multipartInput,
  MULTIPART_THRESHOLD,
  objectKey,
  PART_SIZE,
  putObjectInput,
} from './plan.js'
import { reportScan } from './progress.js'
import type { MlopsConfig } from '../../config/schema.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { planned, type Plan } from '../../shared/outcome.js'
import { channelUris } from '../../shared/channels.js'
import type { PlannedUpload, SyncOptions, SyncPlanDetails } from './types.js'
import { hashFile } from './parallel-upload.js'

type PlanOptions = Omit<SyncOptions, 'confirmDelete' | 'state'> & { withoutFiles?: boolean; download?: { url: string; into: string } }

/**
 * --dry-run: the requests a sync would send, with full inputs, using no credentials and no network.
 * S3 cannot be asked, so the local record of earlier uploads stands in for the listing (and the plan
 * says so). Hashes are read from the cache or computed locally; nothing is written.
 */
export async function planDatasetSync(o: PlanOptions): Promise<{ kind: 'plan'; plan: Plan<SyncPlanDetails> }> {
  const channels = channelUris({ data: { bucket: o.bucket, prefix: o.prefix } as MlopsConfig['data'] })
  const destination = `s3://${o.bucket}/${listPrefix(o.prefix)}`
  const title = `upload-data ${o.source} -> ${destination}`
  const ops: PlannedOperation[] = [
    { service: 's3', operation: 'HeadBucket', input: { Bucket: o.bucket }, note: 'does the bucket exist, and is it private?' },
    ...bucketSetupRequests({ bucket: o.bucket, region: o.region, project: o.project, kmsKeyId: o.kmsKeyId }),
    {
      service: 's3',
      operation: 'ListObjectsV2',
      input: { Bucket: o.bucket, Prefix: listPrefix(o.prefix) },
      note:
        'one request per 1,000 objects (on a re-sync, per segment); sent with HeadBucket, on a re-sync while the folder is scanned and in segments at once ' +
        '(StartAfter along the record: about eight pages of 250 to 1,000 keys, MaxKeys under 1,000); none for a bucket created now',
    },
  ]
  const notes = [
    'No credentials are used in a dry run, so this compares with the local record of earlier uploads (.mlops/upload-cache.json), ' +
      'not with S3: objects changed by others are not seen. The bucket requests run only if the bucket does not exist.',
  ]
  const base = { comparedWith: 'local-record' as const, destination, channels, notes }
  if (o.withoutFiles) {
    notes.push('The files to upload are known only after --from-url has been downloaded and unpacked.')
    const details = { ...base, source: o.source, wouldUpload: 0, wouldSkip: 0, wouldDelete: 0, bytes: 0, uploads: [], deletes: [], download: o.download }
    return planned({ title, operations: ops, details: reorder(details) })
  }
  const cache = await UploadCache.load(o.cacheFile)
  const checkedBefore = o.checksum ? undefined : (p: string) => cache.checkedBefore(p, { image: o.validate })
  const scan = await scanDataset(o.source, { validate: o.validate, followSymlinks: o.followSymlinks, checkedBefore })
  reportScan(o.ui, scan)
  const { uploads, wouldSkip, uploadOps } = await planUploads(o, scan.files, cache)
  ops.push(...uploadOps)
  const deletes = o.delete ? keysToDelete(o.prefix, scan.files, cache.objectKeys(o.bucket, listPrefix(o.prefix))) : []
  for (const input of deleteBatches(o.bucket, deletes)) ops.push({ service: 's3', operation: 'DeleteObjects', input })
  const details: SyncPlanDetails = {
    ...base,
    source: scan.root,
    wouldUpload: uploads.length,
    wouldSkip,
    wouldDelete: deletes.length,
    bytes: uploads.reduce((n, u) => n + u.size, 0),
    uploads,
    deletes,
    dataset: summarize(scan),
  }
  return planned({ title, operations: ops, details: reorder(details) })
}

/** The PutObject / CreateMultipartUpload each changed or new file would send, with its exact checksum. */
async function planUploads(o: PlanOptions, files: readonly LocalFile[], cache: UploadCache) {
  const uploads: PlannedUpload[] = []
  const uploadOps: PlannedOperation[] = []
  let wouldSkip = 0
  for (const file of files) {
    const key = objectKey(o.prefix, file.rel)
    const first = classifyAgainstRecord(file, cache.object(o.bucket, key))
    // Hashed here (locally) even for new files, so every PutObject below shows the exact checksum it would carry.
    const sha = (o.checksum ? undefined : cache.hashOf(file)) ?? (await hashFile(file.path, { signal: o.signal })).sha256
    if (first.kind === 'compare' && sha === first.remoteSha) {
      wouldSkip++
      continue
    }
    uploads.push({ key, size: file.size, reason: first.kind === 'upload' ? first.reason : 'changed' })
    const req = { bucket: o.bucket, key, size: file.size, sha256Hex: sha, kmsKeyId: o.kmsKeyId }
    if (file.size >= (o.transfer?.multipartThreshold ?? MULTIPART_THRESHOLD)) {
      const parts = Math.ceil(file.size / (o.transfer?.partSize ?? PART_SIZE))
      uploadOps.push({
        service: 's3',
        operation: 'CreateMultipartUpload',
        input: multipartInput(req),
        note: `then ${parts} UploadPart and CompleteMultipartUpload (${file.path})`,
      })
    } else {
      uploadOps.push({ service: 's3', operation: 'PutObject', input: { ...putObjectInput(req), Body: `<contents of ${file.path}>` } })
    }
  }
  return { uploads, wouldSkip, uploadOps }
}

/** The dry-run JSON keeps its historical member order (tools diff it). */
function reorder(d: SyncPlanDetails): SyncPlanDetails {
  const { comparedWith, source, destination, wouldUpload, wouldSkip, wouldDelete, bytes, uploads, deletes, channels, dataset, notes, download } = d
  return {
    comparedWith,
    source,
    destination,
    wouldUpload,
    wouldSkip,
    wouldDelete,
    bytes,
    uploads,
    deletes,
    channels,
    ...(dataset ? { dataset } : {}),
    notes,
    ...(download ? { download } : {}),
  }
}
