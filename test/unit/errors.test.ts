import { describe, expect, it } from 'vitest'
import { callAws, isNotFound, translateAwsError } from '../../src/aws/error-translation.js'
import {
  AbortError,
  AwsError,
  ConfigError,
  ExitCode,
  exitCodeFor,
  FindingsError,
  InterruptedError,
  OperationError,
  UserError,
} from '../../src/shared/errors.js'

const sdkError = (name: string, message: string, status = 400) =>
  Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status, requestId: 'req-123' } })

describe('AWS error translation', () => {
  const ctx = { service: 'sagemaker', operation: 'CreateTrainingJob', resource: 'arn:aws:sagemaker:us-east-1:1:training-job/x' }

  it('AccessDenied names the action, the resource and audit-iam --suggest', () => {
    const err = translateAwsError(sdkError('AccessDeniedException', 'User: arn:aws:iam::1:user/bob is not authorized', 403), ctx)
    expect(err).toBeInstanceOf(AwsError)
    const e = err as AwsError
    expect(e.code).toBe('AccessDenied')
    expect(e.message).toBe(
      'AWS denied sagemaker:CreateTrainingJob on arn:aws:sagemaker:us-east-1:1:training-job/x: User: arn:aws:iam::1:user/bob is not authorized',
    )
    expect(e.hint).toContain('mlops audit-iam --suggest')
    expect(e.requestId).toBe('req-123')
    expect(exitCodeFor(e)).toBe(1)
  })

  it('missing or expired credentials say how to log in (exit 2)', () => {
    for (const name of ['CredentialsProviderError', 'ExpiredTokenException', 'InvalidClientTokenId']) {
      const e = translateAwsError(sdkError(name, 'Could not load credentials from any providers'), ctx) as UserError
      expect(e.code).toBe('NoCredentials')
      expect(e.hint).toMatch(/aws sso login/)
      expect(exitCodeFor(e)).toBe(2)
    }
  })

  it('ResourceLimitExceeded gives the quota hint', () => {
    const e = translateAwsError(
      sdkError('ResourceLimitExceeded', "The account-level service limit 'ml.p3.2xlarge for training job usage' is 0 Instances"),
      ctx,
    ) as AwsError
    expect(e.code).toBe('QuotaExceeded')
    expect(e.hint).toMatch(/Service Quotas/)
  })

  it('throttling after retries and unreachable endpoints are explained', () => {
    expect((translateAwsError(sdkError('ThrottlingException', 'Rate exceeded'), ctx) as AwsError).code).toBe('Throttled')
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    expect((translateAwsError(refused, ctx) as AwsError).code).toBe('Unreachable')
  })

  it('an answer that is not the AWS API (an HTML page) is named, with the endpoint to check, instead of a SyntaxError', () => {
    const html = new SyntaxError(
      `Unexpected token '<', "<!doctype "... is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.`,
    )
    const e = translateAwsError(html, ctx) as AwsError
    expect(e).toBeInstanceOf(AwsError)
    expect(e.code).toBe('NotAnAwsApi')
    expect(e.message).toBe('The endpoint for sagemaker:CreateTrainingJob answered something that is not the AWS API (an HTML page, or not JSON/XML).')
    expect(e.hint).toContain('--endpoint-url, AWS_ENDPOINT_URL and any proxy')
    expect(e.cause).toBe(html)
    expect(exitCodeFor(e)).toBe(1)
  })

  it('unknown errors pass through unchanged', async () => {
    const weird = sdkError('SomethingNew', 'boom')
    expect(translateAwsError(weird, ctx)).toBe(weird)
    await expect(
      callAws(ctx, async () => {
        throw weird
      }),
    ).rejects.toBe(weird)
  })

  it('recognises not-found in its many spellings', () => {
    expect(isNotFound(sdkError('NoSuchEntity', 'x'))).toBe(true)
    expect(isNotFound(sdkError('ValidationException', 'Could not find endpoint "x".'))).toBe(true)
    expect(isNotFound(sdkError('ValidationException', 'Bad input'))).toBe(false)
  })
})

describe('exit codes', () => {
  it.each([
    [new UserError('X', 'x'), ExitCode.Usage],
    [new ConfigError('x', []), ExitCode.Usage],
    [new AwsError('X', 'x'), ExitCode.Failure],
    [new OperationError('X', 'x'), ExitCode.Failure],
    [new AbortError(), ExitCode.Failure],
    [new InterruptedError(), ExitCode.Interrupted],
    [new FindingsError('x'), ExitCode.Findings],
    [new Error('plain'), ExitCode.Failure],
  ])('%s -> %i', (err, code) => {
    expect(exitCodeFor(err)).toBe(code)
  })
})
