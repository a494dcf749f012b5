import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { callAws, isAwsErrorNamed } from '../error-translation.js'

/** What one delimited listing of a prefix shows. */
export interface PrefixFolders {
  readonly bucketExists: boolean
  /** No object under the prefix. */
  readonly empty: boolean
  /** The names of the folders directly under the prefix (`<prefix><name>/…`). */
  readonly folders: readonly string[]
  /** False when the listing was cut at 1,000 entries: `folders` is then only part of them. */
  readonly complete: boolean
}

/**
 * The folders directly under a prefix, from one ListObjectsV2 with Delimiter '/' (one request
 * however many objects lie below, as keys and folders together are capped at 1,000 a page). A
 * missing bucket is an answer (`bucketExists: false`), not an error, so the caller can say how to
 * create it.
 */
export async function listFolders(s3: S3Client, bucket: string, prefix: string): Promise<PrefixFolders> {
  return callAws({ service: 's3', operation: 'ListObjectsV2', resource: `s3://${bucket}/${prefix}` }, async () => {
    try {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/' }))
      const folders = (res.CommonPrefixes ?? []).map((p) => (p.Prefix ?? '').slice(prefix.length).replace(/\/$/, '')).filter((f) => f !== '')
      const count = res.KeyCount ?? (res.Contents?.length ?? 0) + folders.length
      return { bucketExists: true, empty: count === 0, folders, complete: res.IsTruncated !== true }
    } catch (err) {
      if (isAwsErrorNamed(err, 'NoSuchBucket')) return { bucketExists: false, empty: true, folders: [], complete: true }
      throw err
    }
  })
}
