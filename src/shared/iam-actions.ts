/**
 * SDK operation names are not always IAM action names: one table for the preflight's permission
 * simulation and for `mlops iam-policy`, so both ask IAM about the same actions.
 */

/** The S3 operations whose IAM action has another name (or that need more than one). */
const S3_ACTIONS: Record<string, readonly string[]> = {
  HeadBucket: ['ListBucket'],
  ListObjectsV2: ['ListBucket'],
  ListObjects: ['ListBucket'],
  GetPublicAccessBlock: ['GetBucketPublicAccessBlock'],
  PutPublicAccessBlock: ['PutBucketPublicAccessBlock'],
  GetBucketEncryption: ['GetEncryptionConfiguration'],
  PutBucketEncryption: ['PutEncryptionConfiguration'],
  GetBucketLifecycleConfiguration: ['GetLifecycleConfiguration'],
  PutBucketLifecycleConfiguration: ['PutLifecycleConfiguration'],
  HeadObject: ['GetObject'],
  // lib-storage's Upload turns a large PutObject into Create/UploadPart/Complete (all s3:PutObject)
  // and aborts on failure (s3:AbortMultipartUpload).
  PutObject: ['PutObject', 'AbortMultipartUpload'],
  CreateMultipartUpload: ['PutObject'],
  UploadPart: ['PutObject'],
  CompleteMultipartUpload: ['PutObject'],
  DeleteObjects: ['DeleteObject'],
  CopyObject: ['GetObject', 'PutObject'],
}

/** The IAM actions one request (`service:operation` as plans name it) is authorised as. */
export function iamActionsOf(service: string, operation: string): string[] {
  if (service === 's3') return (S3_ACTIONS[operation] ?? [operation]).map((a) => `s3:${a}`)
  if (service === 'sagemaker-runtime') return [`sagemaker:${operation}`]
  if (service === 'lambda' && operation === 'Invoke') return ['lambda:InvokeFunction']
  return [`${service}:${operation}`]
}
