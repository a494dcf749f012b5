import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { OperationError, UserError } from '../../shared/errors.js'
import { isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import type { Prediction } from './prediction.js'

/**
 * Calling the model: the endpoint (sagemaker-runtime InvokeEndpoint) or the Lambda in front of it,
 * and reading the inference JSON the predictor (scripts/deployment.py over inference.py) answers:
 * `{"predictions": [{"label", "index", "probability"}, ...], "top_k": k, "model": {...}}`.
 */

export interface InferenceAnswer {
  readonly predictions: Prediction[]
  readonly model?: Record<string, unknown>
  /** The Lambda's correlation id, when it gives one. */
  readonly requestId?: string
}

/** What is sent: raw image bytes, or a JSON document (`{"url"}` / `{"image": base64}`). */
export interface InferenceRequest {
  readonly body: Uint8Array
  readonly contentType: string
  /** For messages: "sample.jpg (14.4 KB)" or the URL. */
  readonly label: string
}

/** The inference JSON, checked; OperationError 'BadInferenceResponse' for anything else. */
export function parseInferenceAnswer(value: unknown, from: string): InferenceAnswer {
  const bad = (why: string) =>
    new OperationError('BadInferenceResponse', `${from} answered something that is not a prediction list (${why}).`, {
      hint: from.startsWith('Lambda')
        ? 'Is the function the one `mlops lambda-setup` deploys? It answers {"statusCode", "body": {"predictions": [...]}}; check its CloudWatch logs.'
        : 'The predictor (deployment.py) must answer {"predictions": [{"label", "probability"}, ...]}. Check its logs in CloudWatch.',
      details: { answer: typeof value === 'string' ? value.slice(0, 500) : value },
    })
  let doc = value
  if (typeof value === 'string') {
    try {
      doc = JSON.parse(value)
    } catch {
      throw bad('not JSON')
    }
  }
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { predictions?: unknown }).predictions)) throw bad('no "predictions" list')
  const preds = (doc as { predictions: unknown[] }).predictions
  if (preds.length === 0) throw bad('empty "predictions"')
  const out: Prediction[] = []
  for (const p of preds) {
    const { probability, index, ...rest } = (p ?? {}) as Record<string, unknown>
    // The endpoint says "label"; the Lambda in front of it says "breed".
    const label = typeof rest.label === 'string' ? rest.label : rest.breed
    if (typeof label !== 'string' || typeof probability !== 'number' || !Number.isFinite(probability) || probability < 0 || probability > 1) {
      throw bad('each prediction needs a string "label" and a "probability" between 0 and 1')
    }
    out.push({ label, probability, ...(typeof index === 'number' ? { index } : {}) })
  }
  out.sort((a, b) => b.probability - a.probability)
  const { model, requestId } = doc as { model?: unknown; requestId?: unknown }
  return {
    predictions: out,
    ...(model && typeof model === 'object' ? { model: model as Record<string, unknown> } : {}),
    ...(typeof requestId === 'string' ? { requestId } : {}),
  }
}

/**
 * A Lambda's answer: API-Gateway-proxy style `{statusCode, body}` (body being the inference JSON
 * string), or the inference JSON itself. Error status codes become OperationError with the body's message.
 */
export function parseLambdaAnswer(payload: string, functionName: string): InferenceAnswer {
  let doc: unknown
  try {
    doc = JSON.parse(payload)
  } catch {
    return parseInferenceAnswer(payload, `Lambda ${functionName}`)
  }
  if (doc && typeof doc === 'object' && 'statusCode' in doc) {
    const { statusCode, body } = doc as { statusCode: unknown; body?: unknown }
    if (typeof statusCode === 'number' && statusCode >= 400) {
      const id = requestIdOf(body)
      throw new OperationError('InvocationFailed', `Lambda ${functionName} answered HTTP ${statusCode}: ${errorText(body)}${id ? ` (request id ${id})` : ''}`, {
        hint:
          statusCode >= 500
            ? "Check the function's CloudWatch logs (/aws/lambda/" + functionName + ') and that the endpoint is InService.'
            : 'Check the image or URL you sent.',
      })
    }
    return parseInferenceAnswer(body, `Lambda ${functionName}`)
  }
  return parseInferenceAnswer(doc, `Lambda ${functionName}`)
}

function requestIdOf(body: unknown): string | undefined {
  try {
    const id = (JSON.parse(String(body)) as { requestId?: unknown }).requestId
    return typeof id === 'string' ? id : undefined
  } catch {
    return undefined
  }
}

function errorText(body: unknown): string {
  if (typeof body !== 'string') return JSON.stringify(body) ?? 'no body'
  try {
    const d = JSON.parse(body) as { error?: unknown; message?: unknown }
    const m = d.error ?? d.message
    if (typeof m === 'string') return m
    if (m && typeof m === 'object' && typeof (m as { message?: unknown }).message === 'string') return (m as { message: string }).message
  } catch {
    // not JSON: show it as is
  }
  return body.split('\n')[0].slice(0, 300)
}

/** Sends one request to the endpoint; returns the answer and the round-trip latency. */
export async function invokeEndpoint(
  runtime: SageMakerRuntimeClient,
  endpointName: string,
  req: InferenceRequest,
  now: () => number,
): Promise<InferenceAnswer & { latencyMs: number }> {
  const started = now()
  let out
  try {
    out = await runtime.send(
      new InvokeEndpointCommand({ EndpointName: endpointName, Body: req.body, ContentType: req.contentType, Accept: 'application/json' }),
    )
  } catch (e) {
    throw invokeError(e, endpointName)
  }
  const latencyMs = now() - started
  const text = out.Body ? Buffer.from(out.Body).toString('utf8') : ''
  return { ...parseInferenceAnswer(text, `Endpoint ${endpointName}`), latencyMs }
}

function invokeError(e: unknown, endpointName: string): unknown {
  const msg = (e as { message?: string }).message ?? ''
  if (isAwsErrorNamed(e, 'ValidationException', 'ValidationError') && /not found|could not find/i.test(msg)) {
    return new UserError('EndpointNotFound', `Endpoint ${endpointName} does not exist (in this account and region).`, {
      hint: 'Deploy it with `mlops deploy`; check --region and --profile.',
      cause: e,
    })
  }
  if (isAwsErrorNamed(e, 'ModelError', 'ModelNotReadyException', 'ServiceUnavailable', 'InternalFailure', 'ValidationError', 'ValidationException')) {
    const original = (e as { OriginalStatusCode?: number }).OriginalStatusCode
    return new OperationError(
      'InvocationFailed',
      `Endpoint ${endpointName} could not answer${original ? ` (HTTP ${original} from the model)` : ''}: ${msg.split('\n')[0]}`,
      {
        hint: `The container's logs are in CloudWatch, log group /aws/sagemaker/Endpoints/${endpointName}.`,
        cause: e,
      },
    )
  }
  return translateAwsError(e, { service: 'sagemaker', operation: 'InvokeEndpoint', resource: endpointName })
}

/** Invokes the Lambda (alias `qualifier`) with a JSON event; returns the answer and latency. */
export async function invokeLambda(
  lambda: LambdaClient,
  functionName: string,
  qualifier: string,
  event: Record<string, unknown>,
  now: () => number,
): Promise<InferenceAnswer & { latencyMs: number }> {
  const started = now()
  let out
  try {
    out = await lambda.send(new InvokeCommand({ FunctionName: functionName, Qualifier: qualifier, Payload: Buffer.from(JSON.stringify(event)) }))
  } catch (e) {
    if (isAwsErrorNamed(e, 'ResourceNotFoundException')) {
      throw new UserError('FunctionNotFound', `Lambda function ${functionName}:${qualifier} does not exist.`, {
        hint: 'Create it with `mlops lambda-setup`, or call the endpoint directly (leave out --lambda).',
        cause: e,
      })
    }
    throw translateAwsError(e, { service: 'lambda', operation: 'InvokeFunction', resource: `${functionName}:${qualifier}` })
  }
  const latencyMs = now() - started
  const payload = out.Payload ? Buffer.from(out.Payload).toString('utf8') : ''
  if (out.FunctionError) {
    let message = payload
    try {
      message = (JSON.parse(payload) as { errorMessage?: string }).errorMessage ?? payload
    } catch {
      // keep the raw text
    }
    throw new OperationError('InvocationFailed', `Lambda ${functionName} failed (${out.FunctionError}): ${message.split('\n')[0]}`, {
      hint: `See its logs in CloudWatch, log group /aws/lambda/${functionName}.`,
    })
  }
  return { ...parseLambdaAnswer(payload, functionName), latencyMs }
}
