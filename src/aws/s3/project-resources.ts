import { DeleteBucketCommand, DeleteObjectsCommand, GetBucketTaggingCommand, ListObjectsV2Command, type S3Client, type Tag } from '@aws-sdk/client-s3'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined } from '../errors.js'

/** The S3 reads and deletes of `status` and `teardown --delete-data`. */

const ctx = (operation: string, resource: string) => ({ service: 's3', operation, resource })

export interface ListedObject {
  readonly key: string
  readonly size: number
}

/** Every object under `prefix` (all pages); undefined when the bucket does not exist. */
export async function listObjectsIfBucketExists(s3: S3Client, bucket: string, prefix: string): Promise<ListedObject[] | undefined> {
  const out: ListedObject[] = []
  let token: string | undefined
  do {
    const page = await callAwsOrUndefined(ctx('ListObjectsV2', `s3://${bucket}/${prefix}`), () =>
      s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })),
    )
    if (!page) return undefined
    for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0 })
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
  return out
}

/** The bucket's tags; undefined when it has none (NoSuchTagSet) or does not exist. */
export async function getBucketTagsIfAny(s3: S3Client, bucket: string): Promise<Tag[] | undefined> {
  return (await callAwsOrUndefined(ctx('GetBucketTagging', bucket), () => s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))))?.TagSet
}

/** Deletes these keys, 1,000 per request (the DeleteObjects limit). */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000).map((Key) => ({ Key }))
    const out = await callAws(ctx('DeleteObjects', bucket), () =>
      s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch, Quiet: true } })),
    )
    const failed = out.Errors ?? []
    if (failed.length)
      throw new Error(`S3 did not delete ${failed.length} object(s), first ${failed[0].Key}: ${failed[0].Code} ${failed[0].Message ?? ''}`.trim())
  }
}

/** True when the bucket holds at least one object. */
export async function bucketHasObjects(s3: S3Client, bucket: string): Promise<boolean> {
  const out = await callAws(ctx('ListObjectsV2', bucket), () => s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 })))
  return (out.KeyCount ?? out.Contents?.length ?? 0) > 0
}

export function deleteBucket(s3: S3Client, bucket: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteBucket', bucket), () => s3.send(new DeleteBucketCommand({ Bucket: bucket })))
}
