import { DeleteBucketCommand, GetBucketTaggingCommand, type S3Client, type Tag } from '@aws-sdk/client-s3'
import { callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'
import { listObjects, type ListedObject } from './upload.js'

/**
 * The S3 reads and deletes of `status` and `teardown --delete-data` that upload-data does not make
 * too (listing and batched deletes are upload.ts listObjects and deleteObjects; an emptiness check
 * is prefix-probe.ts probePrefix).
 */

const ctx = (operation: string, resource: string) => ({ service: 's3', operation, resource })

/** Every object under `prefix` (upload.ts listObjects, all pages); undefined when the bucket does not exist. */
export function listObjectsIfBucketExists(s3: S3Client, bucket: string, prefix: string): Promise<Map<string, ListedObject> | undefined> {
  return callAwsOrUndefined(ctx('ListObjectsV2', `s3://${bucket}/${prefix}`), () => listObjects(s3, bucket, prefix))
}

/** The bucket's tags; undefined when it has none (NoSuchTagSet) or does not exist. */
export async function getBucketTagsIfAny(s3: S3Client, bucket: string): Promise<Tag[] | undefined> {
  return (await callAwsOrUndefined(ctx('GetBucketTagging', bucket), () => s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))))?.TagSet
}

export function deleteBucket(s3: S3Client, bucket: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteBucket', bucket), () => s3.send(new DeleteBucketCommand({ Bucket: bucket })))
}
