import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import { AwsError, UserError } from '../../shared/errors.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import { partitionOf } from '../arn.js'
import { publicAccessReasons, type BucketAccessFacts } from './public-policy.js'

export interface BucketOptions {
  readonly bucket: string
  readonly region: string
  /** Tags of a created bucket. */
  readonly tags: readonly { readonly Key: string; readonly Value: string }[]
  /** SSE-KMS key id or ARN; unset means SSE-S3. */
  readonly kmsKeyId?: string
}

export interface EnsureBucketResult {
  readonly created: boolean
  /** Warnings for the user (e.g. a check we were not allowed to make). */
  readonly warnings: readonly string[]
}

/** Denies every request that does not use TLS (the AWS-recommended `aws:SecureTransport` statement). */
export function tlsOnlyPolicy(bucket: string, region: string): string {
  const arn = `arn:${partitionOf(region)}:s3:::${bucket}`
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DenyInsecureTransport',
        Effect: 'Deny',
        Principal: '*',
        Action: 's3:*',
        Resource: [arn, `${arn}/*`],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  })
}

/** The operations that set up a new data bucket, in the order they are sent. */
export type BucketSetupOperation =
  'CreateBucket' | 'PutPublicAccessBlock' | 'PutBucketEncryption' | 'PutBucketPolicy' | 'PutBucketTagging' | 'PutBucketLifecycleConfiguration'

/** One request of the bucket setup: the operation and its exact SDK input. */
export interface BucketSetupRequest {
  readonly operation: BucketSetupOperation
  readonly input: Record<string, unknown>
}

/**
 * The requests that create a data bucket, in order: private (Block Public Access, ACLs disabled),
 * encrypted by default, TLS-only, tagged, and incomplete multipart uploads (from interrupted runs)
 * cleaned up after a week. Used both to execute and (by the feature) to print under --dry-run.
 */
export function bucketSetupInputs(o: BucketOptions): BucketSetupRequest[] {
  const Bucket = o.bucket
  const encryption = o.kmsKeyId
    ? { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: o.kmsKeyId }, BucketKeyEnabled: true }
    : { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }
  return [
    {
      operation: 'CreateBucket',
      input: {
        Bucket,
        ObjectOwnership: 'BucketOwnerEnforced',
        ...(o.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: o.region } }),
      },
    },
    {
      operation: 'PutPublicAccessBlock',
      input: {
        Bucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      },
    },
    { operation: 'PutBucketEncryption', input: { Bucket, ServerSideEncryptionConfiguration: { Rules: [encryption] } } },
    { operation: 'PutBucketPolicy', input: { Bucket, Policy: tlsOnlyPolicy(Bucket, o.region) } },
    { operation: 'PutBucketTagging', input: { Bucket, Tagging: { TagSet: o.tags.map((t) => ({ Key: t.Key, Value: t.Value })) } } },
    {
      operation: 'PutBucketLifecycleConfiguration',
      input: {
        Bucket,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: 'mlops-abort-incomplete-multipart-uploads',
              Status: 'Enabled',
              Filter: { Prefix: '' },
              AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
            },
          ],
        },
      },
    },
  ]
}

/**
 * Every request `ensureDataBucket` may send after HeadBucket, in its order, for plans: the reads that
 * refuse an existing public bucket, the setup of a missing one, and the DeleteBucket that removes a
 * new bucket whose setup failed.
 */
export function ensureBucketRequests(o: BucketOptions): { operation: string; input: Record<string, unknown>; note?: string }[] {
  const Bucket = o.bucket
  return [
    ...(['GetPublicAccessBlock', 'GetBucketPolicy', 'GetBucketAcl'] as const).map((operation) => ({
      operation,
      input: { Bucket },
      note: 'an existing bucket: refused if public (on a re-sync, sent with HeadBucket)',
    })),
    ...bucketSetupInputs(o),
    { operation: 'DeleteBucket', input: { Bucket }, note: 'only if a setup step failed: the new, empty bucket goes again' },
  ]
}

const SETUP_COMMANDS: Record<BucketSetupOperation, new (input: any) => any> = {
  CreateBucket: CreateBucketCommand,
  PutPublicAccessBlock: PutPublicAccessBlockCommand,
  PutBucketEncryption: PutBucketEncryptionCommand,
  PutBucketPolicy: PutBucketPolicyCommand,
  PutBucketTagging: PutBucketTaggingCommand,
  PutBucketLifecycleConfiguration: PutBucketLifecycleConfigurationCommand,
}

/**
 * Makes sure the bucket exists and is safe to hold the dataset. An existing bucket is used as it is,
 * unless it is public (refused) or lives in another region (refused with the right --region).
 * A missing one is created with `bucketSetupInputs`; if a setup step fails, the new (empty) bucket
 * is deleted again so a re-run does not find a half-configured bucket and trust it.
 */
export async function ensureDataBucket(s3: S3Client, o: BucketOptions, signal?: AbortSignal): Promise<EnsureBucketResult> {
  const found = await inspectBucket(s3, o, signal)
  return found.exists ? { created: false, warnings: found.warnings } : createDataBucket(s3, o, signal)
}

/**
 * The reads of `ensureDataBucket`, which change nothing: HeadBucket, then the public-bucket checks of
 * an existing bucket (refused if public); with `together`, all at once. A caller may send them together with other reads (the
 * listing) and create a missing bucket with `createDataBucket` once its own checks have passed.
 */
export async function inspectBucket(
  s3: S3Client,
  o: BucketOptions,
  signal?: AbortSignal,
  opts: { readonly together?: boolean } = {},
): Promise<{ exists: boolean; warnings: readonly string[] }> {
  if (!opts.together) {
    const exists = await headBucket(s3, o, signal)
    return { exists, warnings: exists ? await refusePublicBucket(s3, o.bucket, signal) : [] }
  }
  // `together` (the caller expects the bucket to exist): the public-bucket reads go out with HeadBucket,
  // one round trip instead of two. Their answers count only for a bucket HeadBucket found: for a
  // missing one they fail (NoSuchBucket), and that is ignored.
  const checks = refusePublicBucket(s3, o.bucket, signal)
  checks.catch(() => undefined)
  const exists = await headBucket(s3, o, signal)
  return { exists, warnings: exists ? await checks : [] }
}

/** The writes of `ensureDataBucket`: creates a bucket `inspectBucket` found missing, with its setup (rolled back on failure). */
export async function createDataBucket(s3: S3Client, o: BucketOptions, signal?: AbortSignal): Promise<EnsureBucketResult> {
  const resource = `s3://${o.bucket}`
  const [create, ...rest] = bucketSetupInputs(o)
  try {
    await send(s3, create, resource, signal)
  } catch (err) {
    if (isAwsErrorNamed(err, 'BucketAlreadyOwnedByYou')) return { created: false, warnings: await refusePublicBucket(s3, o.bucket, signal) }
    if (isAwsErrorNamed(err, 'BucketAlreadyExists')) {
      throw new UserError('BucketNameTaken', `The bucket name ${o.bucket} is taken by another AWS account (bucket names are global).`, {
        hint: 'Choose another name in data.bucket (mlops.config.yaml) or pass --bucket <name>; adding your account id or region usually makes it unique.',
        cause: err,
      })
    }
    throw translateAwsError(err, { service: 's3', operation: 'CreateBucket', resource })
  }
  try {
    for (const op of rest) await send(s3, op, resource)
  } catch (err) {
    // Roll back: an empty bucket without its policy or encryption must not be mistaken for ours later.
    try {
      await s3.send(new DeleteBucketCommand({ Bucket: o.bucket }))
    } catch (rollback) {
      throw new AwsError('BucketHalfCreated', `Setting up the new bucket ${o.bucket} failed (${(err as Error).message}), and deleting it again failed too.`, {
        hint: `Fix the cause above, then delete the bucket (\`aws s3 rb s3://${o.bucket}\`) and run the command again; mlops only configures buckets it creates.`,
        cause: rollback,
      })
    }
    throw err
  }
  return { created: true, warnings: [] }
}

async function send(s3: S3Client, op: BucketSetupRequest, resource: string, signal?: AbortSignal): Promise<void> {
  const Command = SETUP_COMMANDS[op.operation]
  await callAws({ service: 's3', operation: op.operation, resource }, () => s3.send(new Command(op.input), { abortSignal: signal }))
}

/**
 * True when the bucket exists and is ours to use; false when it does not exist. Throws for a foreign
 * bucket, another region, or bad credentials: cheap enough to run before a long download, so those
 * fail in a second instead of after it.
 */
export async function headBucket(s3: S3Client, o: BucketOptions, signal?: AbortSignal): Promise<boolean> {
  try {
    const out = await s3.send(new HeadBucketCommand({ Bucket: o.bucket }), { abortSignal: signal })
    if (out.BucketRegion && out.BucketRegion !== o.region) throw wrongRegion(o, out.BucketRegion)
    return true
  } catch (err) {
    if (err instanceof UserError) throw err
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
    if (status === 404 || isAwsErrorNamed(err, 'NotFound', 'NoSuchBucket')) return false
    if (status === 301 || isAwsErrorNamed(err, 'PermanentRedirect')) {
      const region = (err as { $response?: { headers?: Record<string, string> } }).$response?.headers?.['x-amz-bucket-region']
      throw wrongRegion(o, region)
    }
    if (status === 403) {
      throw new AwsError(
        'BucketForbidden',
        `Access to bucket ${o.bucket} was denied (HTTP 403): either it belongs to another AWS account or your identity may not use it.`,
        {
          hint:
            'If the name belongs to someone else, choose another data.bucket or pass --bucket <name>. Otherwise grant s3:ListBucket on ' +
            `arn:aws:s3:::${o.bucket} (check who you are with \`aws sts get-caller-identity\`).`,
          cause: err,
        },
      )
    }
    throw translateAwsError(err, { service: 's3', operation: 'HeadBucket', resource: `s3://${o.bucket}` })
  }
}

function wrongRegion(o: BucketOptions, actual: string | undefined): UserError {
  return new UserError('BucketInOtherRegion', `Bucket ${o.bucket} is in ${actual ?? 'another region'}, not ${o.region}.`, {
    hint: actual
      ? `Pass --region ${actual} (or set aws.region), or choose another bucket.`
      : "Set aws.region to the bucket's region, or choose another bucket.",
  })
}

/**
 * Refuses a public bucket: training data does not belong where anyone can read it. Checks we are
 * not allowed to make come back as warnings, so a narrowly-scoped identity can still upload.
 */
async function refusePublicBucket(s3: S3Client, bucket: string, signal?: AbortSignal): Promise<string[]> {
  const warnings: string[] = []
  const facts: { publicAccessBlock?: BucketAccessFacts['publicAccessBlock']; policy?: string; grants?: BucketAccessFacts['grants'] } = {}
  // The three reads are independent: sent together they cost one round trip instead of three (a
  // no-change re-sync at 20 ms RTT pays for every serial call). Warnings keep this fixed order.
  const denied = new Set<string>()
  const tryGet = async <T>(operation: string, fn: () => Promise<T>, absent: string[]): Promise<T | undefined> => {
    try {
      return await fn()
    } catch (err) {
      if (isAwsErrorNamed(err, ...absent)) return undefined
      const translated = translateAwsError(err, { service: 's3', operation, resource: `s3://${bucket}` })
      if (translated instanceof AwsError && translated.code === 'AccessDenied') {
        denied.add(operation)
        return undefined
      }
      throw translated
    }
  }
  const [bpa, policy, acl] = await Promise.all([
    tryGet('GetPublicAccessBlock', () => s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }), { abortSignal: signal }), [
      'NoSuchPublicAccessBlockConfiguration',
    ]),
    tryGet('GetBucketPolicy', () => s3.send(new GetBucketPolicyCommand({ Bucket: bucket }), { abortSignal: signal }), ['NoSuchBucketPolicy']),
    tryGet('GetBucketAcl', () => s3.send(new GetBucketAclCommand({ Bucket: bucket }), { abortSignal: signal }), []),
  ])
  for (const operation of ['GetPublicAccessBlock', 'GetBucketPolicy', 'GetBucketAcl']) {
    if (denied.has(operation)) warnings.push(`could not check whether ${bucket} is public: s3:${operation} was denied`)
  }
  facts.publicAccessBlock = bpa?.PublicAccessBlockConfiguration
  facts.policy = policy?.Policy
  facts.grants = acl?.Grants
  const reasons = publicAccessReasons(facts)
  if (reasons.length > 0) {
    throw new UserError('PublicBucket', `Bucket ${bucket} is public, so mlops will not upload the dataset to it: ${reasons.join('; ')}.`, {
      hint:
        `Make it private with \`aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration ` +
        'BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`, or use another bucket (--bucket <name>; ' +
        'mlops creates a missing one private, encrypted and TLS-only).',
      details: { bucket, reasons },
    })
  }
  return warnings
}
