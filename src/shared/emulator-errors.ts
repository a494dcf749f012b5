import { AbortError, AwsError, ConfigError, FindingsError, InterruptedError, MlopsError, notAnAwsApiError, OperationError, UserError } from './errors.js'

/**
 * A local AWS emulator (`mlops emulator`, moto) behind `--endpoint-url`: errors that came from it say
 * so, since "AWS denied …" or "not found" read differently when no AWS was involved (issue 31 item 5).
 */

/** The port `mlops emulator` listens on unless told otherwise (moto's own default). */
export const EMULATOR_DEFAULT_PORT = 5000

/** True for http(s)://localhost, 127.x.x.x and [::1] URLs: an emulator on this machine, not AWS. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '')
    return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1'
  } catch {
    return false
  }
}

/** Errors that are about the user's own choice or input, not an answer from AWS: left as they are. */
const NOT_FROM_AWS = [AbortError, InterruptedError, ConfigError, FindingsError]

/**
 * `err`, told as coming from the emulator at `url`: its hint ends by saying so (nothing answering
 * there says how to start it). Errors that are not answers (Ctrl-C, a declined prompt, config) pass
 * through; an untranslated SDK error becomes an AwsError that says where it came from.
 */
export function fromEmulator(err: unknown, url: string): unknown {
  if (NOT_FROM_AWS.some((c) => err instanceof c)) return err
  const port = new URL(url).port || '80'
  const start = `\`mlops emulator${port === String(EMULATOR_DEFAULT_PORT) ? '' : ` --port ${port}`}\``
  const where = `this came from the local AWS emulator at ${url} (--endpoint-url, AWS_ENDPOINT_URL or aws.endpointUrl), not from AWS`
  if (err instanceof MlopsError && err.code === 'Unreachable') {
    return new AwsError('EmulatorUnreachable', `Nothing answers at ${url}, the local AWS emulator --endpoint-url names.`, {
      hint: `Start it in another terminal with ${start}, or to reach AWS drop --endpoint-url (and unset AWS_ENDPOINT_URL, aws.endpointUrl).`,
      cause: err,
    })
  }
  if (err instanceof UserError && err.code === 'NoCredentials') {
    return new UserError(err.code, err.message, {
      hint: `--endpoint-url (or AWS_ENDPOINT_URL, aws.endpointUrl) points at a local AWS emulator, ${url}, which takes any credentials: export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test.`,
      cause: err,
    })
  }
  if (err instanceof MlopsError) {
    // Said at the end of the hint, so the fix the error already gives stays first.
    if (err.code === 'NotAnAwsApi' || err.hint?.includes(url)) return err
    const options = { hint: err.hint ? `${err.hint} (${where})` : where, cause: err.cause ?? err, ...(err.details ? { details: err.details } : {}) }
    if (err instanceof AwsError) return new AwsError(err.code, err.message, { ...options, ...(err.requestId ? { requestId: err.requestId } : {}) })
    if (err instanceof UserError) return new UserError(err.code, err.message, options)
    if (err instanceof OperationError) return new OperationError(err.code, err.message, options)
    return new MlopsError(err.code, err.message, options)
  }
  // An answer that is not the AWS API at all is named as such by the CLI (notAnAwsApiError).
  if (notAnAwsApiError(err)) return err
  if (err instanceof Error) {
    return new AwsError('EmulatorError', `The AWS emulator at ${url} answered ${err.name}: ${err.message.split('\n')[0]}`, {
      hint: `${where[0].toUpperCase()}${where.slice(1)}. An emulator lacks some AWS operations and answers others differently; ${start} starts moto with the fixes mlops needs. To reach AWS drop --endpoint-url.`,
      cause: err,
    })
  }
  return err
}
