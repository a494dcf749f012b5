import { GetBucketLocationCommand, type S3Client } from '@aws-sdk/client-s3'
import { callAwsOrUndefined } from '../error-translation.js'

/**
 * The region a bucket lives in, from GetBucketLocation: an empty LocationConstraint means
 * us-east-1 and the legacy `EU` means eu-west-1. Undefined when the bucket does not exist.
 */
export async function bucketRegion(s3: S3Client, bucket: string): Promise<string | undefined> {
  const res = await callAwsOrUndefined({ service: 's3', operation: 'GetBucketLocation', resource: `s3://${bucket}` }, () =>
    s3.send(new GetBucketLocationCommand({ Bucket: bucket })),
  )
  if (!res) return undefined
  const c = res.LocationConstraint as string | undefined | null
  if (!c) return 'us-east-1'
  return c === 'EU' ? 'eu-west-1' : c
}
