import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { callAws, isAwsErrorNamed } from '../error-translation.js'

/**
 * Whether a prefix holds any object: one ListObjectsV2 with MaxKeys 1. A missing bucket is an
 * answer (`bucketExists: false`), not an error, so the caller can say how to create it.
 */
export async function probePrefix(s3: S3Client, bucket: string, prefix: string): Promise<{ bucketExists: boolean; empty: boolean }> {
  return callAws({ service: 's3', operation: 'ListObjectsV2', resource: `s3://${bucket}/${prefix}` }, async () => {
    try {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }))
      return { bucketExists: true, empty: (res.KeyCount ?? res.Contents?.length ?? 0) === 0 }
    } catch (err) {
      if (isAwsErrorNamed(err, 'NoSuchBucket')) return { bucketExists: false, empty: true }
      throw err
    }
  })
}
