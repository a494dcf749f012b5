/**
 * An endpoint override (`--endpoint-url`, AWS_ENDPOINT_URL) may point at something that is not AWS:
 * a web server, a proxy's page, a typo'd port. An HTML or text body fails to parse and is named by
 * `notAnAwsApiError`; an empty or `{}` 200 parses as an answer with nothing in it, and commands went on
 * to "Endpoint undefined is undefined" or a TypeError (issue 27). Every AWS API answer carries a
 * request id header (x-amzn-RequestId, or S3's x-amz-request-id), and so does moto; a success without
 * one is refused here, before the command reads it.
 *
 * Only with an endpoint override (AWS's own endpoints always answer with one), and not for S3, whose
 * stand-ins (s3rver for the upload benchmark, the tests' loopback fakes) leave the header out.
 */

const REQUEST_ID_HEADERS = ['x-amzn-requestid', 'x-amz-request-id', 'x-amz-id-2']

/** The error name notAnAwsApiError (shared/errors.ts) recognises, so callAws names the operation. */
const NOT_AN_AWS_ANSWER = 'NotAnAwsApiAnswer'

interface MiddlewareClient {
  middlewareStack: {
    add(middleware: (next: (args: unknown) => Promise<{ response?: unknown }>) => (args: unknown) => Promise<{ response?: unknown }>, options: object): void
  }
}

/** Adds the check to a client built for an endpoint override. */
export function requireAwsAnswers(client: unknown): void {
  ;(client as MiddlewareClient).middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args)
      const res = out.response as { statusCode?: number; headers?: Record<string, string | undefined> } | undefined
      const status = res?.statusCode ?? 0
      if (status >= 200 && status < 300 && status !== 204) {
        const headers = Object.fromEntries(Object.entries(res?.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
        if (!REQUEST_ID_HEADERS.some((h) => headers[h])) {
          const type = headers['content-type'] ? `, ${headers['content-type']}` : ''
          throw Object.assign(new Error(`HTTP ${status}${type} without an AWS request id`), { name: NOT_AN_AWS_ANSWER })
        }
      }
      return out
    },
    { step: 'initialize', name: 'mlopsRequireAwsAnswer' },
  )
}
