import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { invokeEndpoint, invokeLambda } from '../../aws/sagemaker/invoke-model.js'
import { MlopsError, UserError } from '../../shared/errors.js'
import type { Sender } from './runner.js'

/**
 * What one load-test request is, per target: the endpoint (sagemaker-runtime InvokeEndpoint with the
 * raw image), the Lambda (Invoke of the `live` alias with `{"image": base64}`), or a local server that
 * speaks the SageMaker runtime contract (POST /endpoints/<name>/invocations).
 *
 * A sender never throws for a failed request: it answers the status, so the run can count errors by
 * kind. Errors that make every further request pointless (no such endpoint, nothing listening) go to
 * `fatal`, which stops the run and is rethrown with its fix.
 */

/** Each request gives up after this long and counts as the error "timeout". */
export const REQUEST_TIMEOUT_MS = 60_000

export interface Fatal {
  error?: unknown
  readonly controller: AbortController
}

/** The HTTP status or error code of a failed call: "500", "429", "timeout", "ModelError"... */
export function statusOf(e: unknown): string {
  for (let cur = e as { cause?: unknown; $metadata?: { httpStatusCode?: number }; message?: string } | undefined; cur; cur = cur.cause as typeof cur) {
    const code = cur.$metadata?.httpStatusCode
    if (code) return String(code)
    const m = /HTTP (\d{3})/.exec(cur.message ?? '')
    if (m) return m[1]
  }
  const err = e as { name?: string; code?: string }
  if (err?.name === 'TimeoutError') return 'timeout'
  return (e instanceof MlopsError ? err.code : undefined) ?? err?.code ?? err?.name ?? 'error'
}

function stopOn(fatal: Fatal, e: unknown): void {
  fatal.error ??= e
  fatal.controller.abort()
}

export function endpointSender(runtime: SageMakerRuntimeClient, endpointName: string, body: Uint8Array, contentType: string, fatal: Fatal): Sender {
  const request = { body, contentType, label: 'load test' }
  return async () => {
    try {
      await invokeEndpoint(runtime, endpointName, request, Date.now)
      return { ok: true }
    } catch (e) {
      if (e instanceof UserError) stopOn(fatal, e)
      return { ok: false, status: statusOf(e) }
    }
  }
}

export function lambdaSender(lambda: LambdaClient, functionName: string, qualifier: string, event: Record<string, unknown>, fatal: Fatal): Sender {
  return async () => {
    try {
      await invokeLambda(lambda, functionName, qualifier, event, Date.now)
      return { ok: true }
    } catch (e) {
      if (e instanceof UserError) stopOn(fatal, e)
      return { ok: false, status: statusOf(e) }
    }
  }
}

/** The local server's invocation URL for an endpoint. */
export function localInvocationUrl(port: number, endpointName: string): string {
  return `http://127.0.0.1:${port}/endpoints/${encodeURIComponent(endpointName)}/invocations`
}

export function localSender(url: string, body: Uint8Array, contentType: string, fatal: Fatal): Sender {
  return async (signal) => {
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': contentType, Accept: 'application/json' },
        body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      })
      await res.arrayBuffer()
      return res.ok ? { ok: true } : { ok: false, status: String(res.status) }
    } catch (e) {
      const code = (e as { cause?: { code?: string } }).cause?.code
      if (code === 'ECONNREFUSED') {
        stopOn(
          fatal,
          new UserError('LocalServerNotRunning', `Nothing answers at ${new URL(url).origin}.`, {
            hint: 'Start the local server first (`mlops serve`), or pass the --port it listens on.',
            cause: e,
          }),
        )
      }
      return { ok: false, status: code ?? statusOf(e) }
    }
  }
}
