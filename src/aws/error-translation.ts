import { AwsError, MlopsError, notAnAwsApiError, UserError } from '../shared/errors.js'

/** What was being attempted when an AWS call failed; used to make the message say which action on what. */
export interface AwsCallContext {
  /** IAM-style service prefix: s3, sagemaker, iam, lambda, ec2, ssm, ... */
  readonly service: string
  /** API operation name: CreateTrainingJob, PutObject, ... */
  readonly operation: string
  /** The resource (ARN, name or s3:// URI) the call was about. */
  readonly resource?: string
}

interface SdkLikeError {
  name?: string
  message?: string
  code?: string
  $metadata?: { requestId?: string; httpStatusCode?: number }
}

const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'AuthorizationError', 'UnauthorizedAccess', 'Forbidden'])
const BAD_CREDENTIALS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'TokenRefreshRequired',
])
/** Every service's name for "slow down": the request was refused before doing anything. The one list (aws/retry.ts uses it too). */
export const THROTTLING_ERRORS: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'SlowDown',
  'ProvisionedThroughputExceededException',
])

/**
 * Turns the SDK exceptions we understand into errors with a fix. Unknown errors come back unchanged
 * so they are never disguised (the caller rethrows them). Already-translated errors pass through.
 */
export function translateAwsError(err: unknown, ctx: AwsCallContext): unknown {
  if (err instanceof MlopsError) return err
  if (typeof err !== 'object' || err === null) return err
  const e = err as SdkLikeError
  const name = e.name ?? e.code ?? ''
  const requestId = e.$metadata?.requestId
  const action = `${ctx.service}:${ctx.operation}`
  const on = ctx.resource ? ` on ${ctx.resource}` : ''
  if (ACCESS_DENIED.has(name) || (e.$metadata?.httpStatusCode === 403 && !BAD_CREDENTIALS.has(name))) {
    return new AwsError('AccessDenied', `AWS denied ${action}${on}: ${firstLine(e.message)}`, {
      hint:
        `Grant ${action}${on} to the identity you are using (check with \`aws sts get-caller-identity\`). ` +
        '`mlops audit-iam --suggest` prints scoped policies for the roles mlops manages.',
      cause: err,
      requestId,
      details: { action, resource: ctx.resource },
    })
  }
  if (BAD_CREDENTIALS.has(name) || /Could not load credentials|Unable to locate credentials/i.test(e.message ?? '')) {
    return new UserError('NoCredentials', `No valid AWS credentials for ${action}: ${firstLine(e.message)}`, {
      hint:
        'Log in with `aws sso login --profile <name>` (then pass --profile <name>), or set AWS_ACCESS_KEY_ID and ' +
        'AWS_SECRET_ACCESS_KEY. Expired session tokens must be refreshed. Use --dry-run to see the plan without credentials.',
      cause: err,
    })
  }
  if (
    name === 'ResourceLimitExceeded' ||
    name === 'LimitExceededException' ||
    name === 'ServiceQuotaExceededException' ||
    name === 'InstanceLimitExceeded' ||
    name === 'VcpuLimitExceeded'
  ) {
    return new AwsError('QuotaExceeded', `${action}${on} hit an AWS quota: ${firstLine(e.message)}`, {
      hint:
        'New accounts often have a quota of 0 for GPU instance types. Request an increase in the Service Quotas ' +
        'console (search for the instance type and "training job usage" or "endpoint usage"), or pick another instance type.',
      cause: err,
      requestId,
    })
  }
  if (THROTTLING_ERRORS.has(name)) {
    return new AwsError('Throttled', `${action} was throttled by AWS even after retries.`, {
      hint: 'Wait a minute and run the command again; lower --concurrency where the command has it.',
      cause: err,
      requestId,
    })
  }
  const unparsable = notAnAwsApiError(err, action)
  if (unparsable) return unparsable
  const sysCode = (err as NodeJS.ErrnoException).code
  if (sysCode === 'ECONNREFUSED' || sysCode === 'ENOTFOUND' || sysCode === 'ETIMEDOUT' || sysCode === 'EAI_AGAIN') {
    return new AwsError('Unreachable', `Could not reach the AWS endpoint for ${action} (${sysCode}).`, {
      hint: 'Check your network, proxy, --region and --endpoint-url. For a local emulator, make sure it is running.',
      cause: err,
    })
  }
  return err
}

/** Runs one AWS call and translates what it throws. */
export async function callAws<T>(ctx: AwsCallContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw translateAwsError(err, ctx)
  }
}

/**
 * Runs one AWS read where "it does not exist" is an answer, not an error: not-found becomes
 * undefined, anything else is translated as by `callAws`.
 */
export async function callAwsOrUndefined<T>(ctx: AwsCallContext, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn()
  } catch (err) {
    if (isNotFound(err)) return undefined
    throw translateAwsError(err, ctx)
  }
}

/**
 * Runs one AWS call whose goal is that something is gone (Delete*, Deregister*, Detach*): "not found"
 * means the goal is already met. Returns false then, true when the call did the work; anything else
 * is translated as by `callAws` (AccessDenied must surface, never be mistaken for "already gone").
 */
export async function callAwsIgnoringNotFound(ctx: AwsCallContext, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn()
    return true
  } catch (err) {
    if (isNotFound(err)) return false
    throw translateAwsError(err, ctx)
  }
}

/** True when `err` is an SDK error with one of these names (e.g. 'ResourceNotFound', 'NoSuchEntity'). */
export function isAwsErrorNamed(err: unknown, ...names: string[]): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as SdkLikeError
  return names.includes(e.name ?? '') || names.includes(e.code ?? '')
}

/** SageMaker reports "not found" as ValidationException with text ("Could not find endpoint ..."). */
export function isNotFound(err: unknown): boolean {
  if (
    isAwsErrorNamed(
      err,
      'ResourceNotFound',
      'ResourceNotFoundException',
      'NoSuchEntity',
      'NoSuchEntityException',
      'NotFound',
      'NoSuchBucket',
      'NoSuchKey',
      'ParameterNotFound',
      'InvalidInstanceID.NotFound',
      'InvalidGroup.NotFound',
      'ObjectNotFoundException',
      'ProvisionedConcurrencyConfigNotFoundException',
      'NoSuchBucketPolicy',
      'NoSuchTagSet',
    )
  )
    return true
  if (isAwsErrorNamed(err, 'ValidationException')) {
    return /could not find|does not exist|not found/i.test((err as SdkLikeError).message ?? '')
  }
  return false
}

function firstLine(s: string | undefined): string {
  return (s ?? 'no message').split('\n')[0]
}
