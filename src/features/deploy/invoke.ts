import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { invokeEndpoint, invokeLambda, type InferenceRequest } from '../../aws/sagemaker/invoke-model.js'
import { endpointKind, MAX_REALTIME_REQUEST_BYTES, maxRequestBytes } from '../../shared/endpoint-limits.js'
import type { Prediction } from '../../aws/sagemaker/prediction.js'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { formatBytes } from '../../shared/output.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'

/**
 * `mlops invoke`: one image (a local file or an https URL) through the endpoint or the Lambda,
 * printing the top-k breeds and the round-trip latency.
 */

/** The handler answers the top 5 for raw image bytes; more needs the JSON form with "top_k". */
const HANDLER_DEFAULT_TOP_K = 5

export interface ImageInput {
  readonly kind: 'file' | 'url'
  /** Absolute path or the URL. */
  readonly value: string
  readonly bytes?: Uint8Array
  readonly contentType?: string
}

const EXTENSION_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png' }

/** JPEG and PNG by their first bytes, for files without a telling extension. */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg'
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'image/png'
  return undefined
}

/** Reads and checks the argument of `invoke`: an https URL, or a JPEG/PNG file within `limit` (6 MB real-time, 4 MB serverless). */
export async function readImageInput(arg: string, cwd: string, limit = MAX_REALTIME_REQUEST_BYTES): Promise<ImageInput> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) {
    let url: URL
    try {
      url = new URL(arg)
    } catch {
      throw new UserError('InvalidImageUrl', `"${arg}" is not a valid URL.`, { hint: 'Pass an https:// URL of a JPEG or PNG, or a local file.' })
    }
    if (url.protocol !== 'https:') {
      throw new UserError('InvalidImageUrl', `Only https URLs are accepted, got ${url.protocol}//…`, {
        hint: 'The endpoint fetches the URL itself and refuses plain http; download the image and pass the file instead.',
      })
    }
    return { kind: 'url', value: url.toString() }
  }
  const file = path.resolve(cwd, arg)
  const info = await stat(file).catch(() => undefined)
  if (!info?.isFile()) {
    throw new UserError('ImageNotFound', `No image file at ${file}.`, { hint: 'Pass a JPEG or PNG file, or an https:// URL.' })
  }
  if (info.size > limit) {
    throw new UserError('ImageTooLarge', `${path.basename(file)} is ${formatBytes(info.size)}; ${limitText(limit)}.`, {
      hint: 'Resize or re-compress it (the model sees 224x224 pixels anyway), or pass an https URL the endpoint fetches itself.',
    })
  }
  const bytes = new Uint8Array(await readFile(file))
  const contentType = EXTENSION_TYPES[path.extname(file).toLowerCase()] ?? sniffImageType(bytes)
  if (!contentType) {
    throw new UserError('UnsupportedImageType', `${path.basename(file)} is neither a JPEG nor a PNG.`, { hint: 'Convert it to .jpg or .png first.' })
  }
  return { kind: 'file', value: file, bytes, contentType }
}

/** The endpoint request: raw bytes when the handler's default top-5 suffices, else JSON with "top_k". */
export function endpointRequest(img: ImageInput, topK: number, limit = MAX_REALTIME_REQUEST_BYTES): InferenceRequest {
  if (img.kind === 'url') {
    return { body: Buffer.from(JSON.stringify({ url: img.value, top_k: topK })), contentType: 'application/json', label: img.value }
  }
  const label = `${path.basename(img.value)} (${formatBytes(img.bytes!.length)})`
  if (topK <= HANDLER_DEFAULT_TOP_K) return { body: img.bytes!, contentType: img.contentType!, label }
  const body = Buffer.from(JSON.stringify({ image: Buffer.from(img.bytes!).toString('base64'), top_k: topK }))
  assertFits(body.length, `--top ${topK} sends the image base64-encoded`, limit)
  return { body, contentType: 'application/json', label }
}

/** The Lambda event: `{"image": base64}` or `{"url"}`, with "top_k" only when --top was given. */
export function lambdaEvent(img: ImageInput, topK?: number, limit = MAX_REALTIME_REQUEST_BYTES): Record<string, unknown> {
  const base = img.kind === 'url' ? { url: img.value } : { image: Buffer.from(img.bytes!).toString('base64') }
  const event = topK === undefined ? base : { ...base, top_k: topK }
  if (img.kind === 'file') assertFits(Buffer.byteLength(JSON.stringify(event)), 'the Lambda receives the image base64-encoded', limit)
  return event
}

function limitText(limit: number): string {
  const mb = `${limit / (1024 * 1024)} MB`
  return limit < MAX_REALTIME_REQUEST_BYTES ? `a serverless endpoint takes at most ${mb} per request` : `an endpoint request may be at most ${mb}`
}

function assertFits(bytes: number, why: string, limit: number): void {
  if (bytes > limit) {
    throw new UserError('ImageTooLarge', `The request would be ${formatBytes(bytes)} (${why}); ${limitText(limit)}.`, {
      hint: `Use a smaller image (under about ${formatBytes(Math.floor((limit * 3) / 4))}), or an https URL.`,
    })
  }
}

export interface InvokeOptions {
  readonly input: string
  /** --top; undefined: 3. */
  readonly top?: number
  readonly lambda?: boolean
}

export interface InvokeResult {
  readonly target: 'endpoint' | 'lambda'
  /** Endpoint name, or `function:alias`. */
  readonly name: string
  readonly input: { readonly kind: 'file' | 'url'; readonly value: string; readonly bytes?: number; readonly contentType?: string }
  readonly predictions: Prediction[]
  readonly latencyMs: number
  readonly model?: Record<string, unknown>
  /** The Lambda's correlation id (for its logs). */
  readonly requestId?: string
}

/** The facts of an invoke plan that go into its JSON beside the request. */
export interface InvokeDryRun {
  readonly target: 'endpoint' | 'lambda'
  readonly name: string
}

export async function runInvoke(ctx: CommandContext, opts: InvokeOptions): Promise<Outcome<InvokeResult, InvokeDryRun>> {
  const cfg = await ctx.config()
  const names = resourceNames(cfg)
  // Serverless endpoints take 4 MB per request, real-time ones 6 MB (the Lambda forwards the same body).
  const limit = maxRequestBytes(await endpointKind(cfg, names.endpoint, ctx.state()))
  const img = await readImageInput(opts.input, ctx.deps.cwd, limit)
  const topK = opts.top ?? 3
  const inputSummary = { kind: img.kind, value: img.value, ...(img.bytes ? { bytes: img.bytes.length, contentType: img.contentType } : {}) }
  if (opts.lambda) {
    const event = lambdaEvent(img, opts.top, limit)
    const name = `${names.lambdaFunction}:${names.lambdaAlias}`
    if (ctx.dryRun) {
      const shown = img.kind === 'file' ? { ...event, image: `<base64 of ${img.bytes!.length} bytes from ${path.basename(img.value)}>` } : event
      const ops: PlannedOperation[] = [
        { service: 'lambda', operation: 'Invoke', input: { FunctionName: names.lambdaFunction, Qualifier: names.lambdaAlias, Payload: shown } },
      ]
      return planned({ title: `invoke the lambda ${name}`, operations: ops, details: { target: 'lambda', name } })
    }
    const { lambda } = await ctx.clients(['lambda'], cfg)
    const answer = await invokeLambda(lambda, names.lambdaFunction, names.lambdaAlias, event, () => ctx.clock.now())
    return done({
      target: 'lambda',
      name,
      input: inputSummary,
      predictions: answer.predictions.slice(0, topK),
      latencyMs: answer.latencyMs,
      ...(answer.model ? { model: answer.model } : {}),
      ...(answer.requestId ? { requestId: answer.requestId } : {}),
    })
  }
  const req = endpointRequest(img, topK, limit)
  if (ctx.dryRun) {
    const body =
      req.contentType === 'application/json' && img.kind === 'url' ? Buffer.from(req.body).toString('utf8') : `<${req.body.length} bytes: ${req.label}>`
    const ops: PlannedOperation[] = [
      {
        service: 'sagemaker-runtime',
        operation: 'InvokeEndpoint',
        input: { EndpointName: names.endpoint, ContentType: req.contentType, Accept: 'application/json', Body: body },
      },
    ]
    return planned({ title: `invoke the endpoint ${names.endpoint}`, operations: ops, details: { target: 'endpoint', name: names.endpoint } })
  }
  const { sagemakerRuntime } = await ctx.clients(['sagemakerRuntime'], cfg)
  const answer = await invokeEndpoint(sagemakerRuntime, names.endpoint, req, () => ctx.clock.now())
  return done({
    target: 'endpoint',
    name: names.endpoint,
    input: inputSummary,
    predictions: answer.predictions.slice(0, topK),
    latencyMs: answer.latencyMs,
    ...(answer.model ? { model: answer.model } : {}),
  })
}
