import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3'
import { callAws, isAwsErrorNamed } from '../errors.js'

/**
 * Whether anything is stored under `prefix` (one ListObjectsV2 of at most one key), or whether the
 * bucket does not exist at all, so a caller can say which before it starts billed work.
 */
export async function prefixHasObjects(s3: S3Client, bucket: string, prefix: string): Promise<'objects' | 'empty' | 'no-bucket'> {
  return callAws({ service: 's3', operation: 'ListObjectsV2', resource: `s3://${bucket}/${prefix.replace(/\/+$/, '')}` }, async () => {
    try {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }))
      return out.KeyCount || (out.Contents ?? []).length ? 'objects' : 'empty'
    } catch (e) {
      if (isAwsErrorNamed(e, 'NoSuchBucket')) return 'no-bucket'
      throw e
    }
  })
}
