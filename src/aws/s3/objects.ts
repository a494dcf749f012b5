import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { isAwsErrorNamed, translateAwsError } from '../error-translation.js'

/** What HeadObject tells mlops about an object it may have uploaded before. */
export interface RemoteHead {
  /** The content hash mlops stores in the object's metadata (x-amz-meta-sha256). */
  readonly sha256?: string
  readonly etag: string
  readonly size: number
  readonly serverSideEncryption?: string
}

/**
 * HeadObject; undefined when the object does not exist. S3 answers a missing key with a bare 404
 * (no error code, since HEAD has no body), hence the status check beside the names.
 */
export async function headObject(s3: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<RemoteHead | undefined> {
  try {
    const out = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal })
    return { sha256: out.Metadata?.sha256, etag: out.ETag ?? '', size: out.ContentLength ?? 0, serverSideEncryption: out.ServerSideEncryption }
  } catch (err) {
    if (isAwsErrorNamed(err, 'NotFound', 'NoSuchKey') || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return undefined
    throw translateAwsError(err, { service: 's3', operation: 'HeadObject', resource: `s3://${bucket}/${key}` })
  }
}
