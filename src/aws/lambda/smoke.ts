import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import { OperationError } from '../../shared/errors.js'
import type { Clock } from '../../shared/clock.js'
import { callAws } from '../error-translation.js'
import type { BreedPrediction as Prediction } from '../sagemaker/prediction.js'

/**
 * The test invocation at the end of lambda-setup: the bundled sample image through the `live`
 * alias, the endpoint and back. A function that deploys but cannot answer is a failure (exit 1),
 * not a warning.
 */

export interface SmokeTestPassed {
  readonly predictions: readonly Prediction[]
  readonly endpointLatencyMs?: number
  readonly requestId?: string
}

type Verdict = ({ ok: true } & SmokeTestPassed) | { ok: false; statusCode?: number; message: string; retryable: boolean }

/** Reads the function's answer (proxy format) to the test invocation. */
export function interpretTestAnswer(payload: string, functionError?: string): Verdict {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return { ok: false, message: `the function answered something that is not JSON: ${payload.slice(0, 200)}`, retryable: false }
  }
  if (functionError) {
    const err = parsed as { errorType?: string; errorMessage?: string }
    return { ok: false, message: `the function crashed (${functionError}): ${err.errorType ?? ''} ${err.errorMessage ?? ''}`.trim(), retryable: false }
  }
  const res = parsed as { statusCode?: unknown; body?: unknown }
  if (typeof res?.statusCode !== 'number' || typeof res.body !== 'string') {
    return { ok: false, message: `the function's answer is not a {statusCode, body} response: ${payload.slice(0, 200)}`, retryable: false }
  }
  let body: { predictions?: unknown; endpointLatencyMs?: number; requestId?: string; error?: { code?: string; message?: string } }
  try {
    body = JSON.parse(res.body)
  } catch {
    return { ok: false, statusCode: res.statusCode, message: 'the response body is not JSON', retryable: false }
  }
  if (res.statusCode !== 200) {
    const why = body.error ? `${body.error.code ?? 'Error'}: ${body.error.message ?? ''}` : res.body.slice(0, 200)
    return { ok: false, statusCode: res.statusCode, message: `the function answered ${res.statusCode} (${why})`, retryable: res.statusCode >= 500 }
  }
  const preds = body.predictions
  if (!Array.isArray(preds) || preds.length === 0 || !preds.every((p) => typeof p?.breed === 'string' && typeof p?.probability === 'number')) {
    return { ok: false, statusCode: 200, message: 'the function answered 200 without a list of {breed, probability} predictions', retryable: false }
  }
  return { ok: true, predictions: preds as Prediction[], endpointLatencyMs: body.endpointLatencyMs, requestId: body.requestId }
}

/** The Invoke request (the image is a placeholder string in dry-run plans). */
export function testInvokeInput(functionName: string, qualifier: string, imageBase64: string) {
  return { FunctionName: functionName, Qualifier: qualifier, Payload: JSON.stringify({ image: imageBase64 }) }
}

/**
 * Invokes `functionName:qualifier` with the image. Retries a 5xx a few times when `attempts` > 1:
 * a role created seconds ago may not yet let the function call the endpoint.
 */
export async function runSmokeTest(
  lambda: LambdaClient,
  functionName: string,
  qualifier: string,
  image: Buffer,
  opts: { clock: Clock; signal?: AbortSignal; attempts?: number; delayMs?: number; onRetry?: (attempt: number, message: string) => void },
): Promise<SmokeTestPassed> {
  const attempts = opts.attempts ?? 1
  const input = testInvokeInput(functionName, qualifier, image.toString('base64'))
  for (let attempt = 1; ; attempt++) {
    const out = await callAws({ service: 'lambda', operation: 'Invoke', resource: `${functionName}:${qualifier}` }, () =>
      lambda.send(new InvokeCommand({ ...input, Payload: new TextEncoder().encode(input.Payload) })),
    )
    const verdict = interpretTestAnswer(new TextDecoder().decode(out.Payload ?? new Uint8Array()), out.FunctionError)
    if (verdict.ok) return { predictions: verdict.predictions, endpointLatencyMs: verdict.endpointLatencyMs, requestId: verdict.requestId }
    if (!verdict.retryable || attempt >= attempts) {
      throw new OperationError('FunctionTestFailed', `The function was deployed, but its test invocation failed: ${verdict.message}.`, {
        hint:
          verdict.statusCode === 502
            ? "The function could not get an answer from the endpoint. Check it with `mlops status` and `mlops invoke`, and the function's logs in CloudWatch (/aws/lambda/" +
              functionName +
              ').'
            : `Look at the function's logs in CloudWatch (/aws/lambda/${functionName}); run with --no-test to skip the test.`,
        details: { statusCode: verdict.statusCode },
      })
    }
    opts.onRetry?.(attempt, verdict.message)
    await opts.clock.sleep(opts.delayMs ?? 10_000, opts.signal)
  }
}
