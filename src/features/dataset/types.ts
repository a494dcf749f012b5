import type { ChannelUris } from '../../shared/channels.js'
import type { Clock } from '../../shared/clock.js'
import type { StateStore } from '../../shared/state.js'
import type { FetchDatasetResult } from './download.js'
import type { DatasetSummary } from '../../shared/dataset-layout.js'
import type { UploadReason } from './plan.js'
import type { SyncUi } from './progress.js'
import type { UploadFilesOptions } from './parallel-upload.js'

/** What `upload-data` was asked to do, after flags were merged over the config. */
export interface UploadDataOptions {
  /** Absolute path of the dataset folder. */
  readonly source: string
  readonly bucket: string
  readonly prefix: string
  readonly concurrency: number
  readonly delete: boolean
  readonly validate: boolean
  /** Upload what symbolic links leading out of the folder point to (--follow-symlinks). */
  readonly followSymlinks?: boolean
  /** Read and hash every file, trusting no recorded size and mtime (--checksum). */
  readonly checksum?: boolean
  readonly fromUrl?: string
  readonly expectSha256?: string
}

export interface SyncOptions {
  readonly source: string
  readonly bucket: string
  readonly prefix: string
  readonly region: string
  readonly project: string
  readonly kmsKeyId?: string
  readonly concurrency: number
  readonly delete: boolean
  readonly validate: boolean
  readonly followSymlinks?: boolean
  /**
   * Open, check and hash every file. Otherwise a file whose size and mtime equal the local record's is
   * not opened: its recorded sha256 and image check stand (the trade-off `aws s3 sync` makes too).
   */
  readonly checksum?: boolean
  /** `.mlops/upload-cache.json` (see UploadCache for why it exists). */
  readonly cacheFile: string
  readonly signal: AbortSignal
  readonly clock: Clock
  readonly ui: SyncUi
  /** Asked once, before anything is uploaded, when --delete found objects with no local file. */
  readonly confirmDelete: (keys: readonly string[]) => Promise<boolean>
  /** Where a created bucket is recorded. */
  readonly state?: Pick<StateStore, 'record'>
  /** Transfer tuning (tests force multipart with small sizes). */
  readonly transfer?: Partial<Pick<UploadFilesOptions, 'multipartThreshold' | 'partSize' | 'maxAttempts' | 'maxBufferedBytes'>>
}

export interface SyncResult {
  readonly source: string
  /** `s3://<bucket>/<prefix>/` */
  readonly destination: string
  readonly uploaded: number
  readonly skipped: number
  readonly deleted: number
  /** Objects under the prefix with no local file, left alone (pass --delete to remove them). */
  readonly remoteOnly: number
  /** Bytes uploaded. */
  readonly bytes: number
  /** Bytes of the whole local dataset. */
  readonly totalBytes: number
  readonly seconds: number
  readonly channels: ChannelUris
  readonly dataset: DatasetSummary
  readonly bucketCreated: boolean
  /** HeadObject calls made (only for objects this machine has no record of). */
  readonly headRequests: number
  readonly retries: number
  readonly download?: Pick<FetchDatasetResult, 'url' | 'downloaded' | 'archiveBytes' | 'archiveSha256'>
}

export interface PlannedUpload {
  readonly key: string
  readonly size: number
  readonly reason: UploadReason
}

/** The JSON members of an upload-data plan beside `dryRun` and `operations` (Plan.details). */
export interface SyncPlanDetails {
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
