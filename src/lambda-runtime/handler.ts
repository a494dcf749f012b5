/**
 * The Lambda function in front of the SageMaker endpoint (`mlops lambda-setup` bundles this file
 * with esbuild; the Node.js runtime provides `@aws-sdk/client-sagemaker-runtime`).
 *
 * Accepts `{"url": "https://..."}` or `{"image": "<base64>"}` (optional `"top_k"`), either as the
 * event itself (direct Invoke) or as the JSON body of an API Gateway / function URL event, and
 * answers in proxy format with the top-k breeds. It never returns the invocation context, ARNs,
 * account ids or stack traces: callers get a short correlation id, the logs get the details.
 *
 * Self-contained on purpose: nothing here may import from the rest of mlops.
 */
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import type { BreedPrediction } from '../aws/sagemaker/prediction.js'

export interface ProxyResult {
  statusCode: number
  headers: Record<string, string>
  body: string
}

/** The fields of the Lambda context the handler reads (only for logging). */
export interface InvocationContext {
  awsRequestId?: string
  getRemainingTimeInMillis?: () => number
}

export interface HandlerDeps {
  /** @default a SageMakerRuntimeClient created on first use and reused across invocations */
  readonly client?: () => Pick<SageMakerRuntimeClient, 'send'>
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** One structured log line (JSON). @default process.stdout */
  readonly log?: (line: string) => void
  /** @default Date.now */
  readonly now?: () => number
  /** Correlation id returned to callers. @default 12 hex characters from crypto.randomUUID */
  readonly newId?: () => string
}

export const DEFAULT_TOP_K = 3
/** Callers may ask for up to this many (or up to TOP_K when the operator set it higher). */
export const MAX_TOP_K = 20
/** The dog-breed model has 133 classes; TOP_K above that is a typo. */
const MAX_CLASSES = 133
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
export const MAX_URL_LENGTH = 2048

class BadRequest extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

// The Lambda's answer shape, shared with the CLI (type-only: nothing of mlops is bundled).
type Prediction = BreedPrediction

let sharedClient: SageMakerRuntimeClient | undefined
// Created lazily (the first call pays for it, cold-start imports do not) and reused while the
// execution environment lives. Region and credentials come from the Lambda environment.
const defaultClient = () => (sharedClient ??= new SageMakerRuntimeClient({}))

/** Builds a handler with injectable dependencies (tests pass a mocked client and a fixed env). */
export function createHandler(deps: HandlerDeps = {}) {
  const now = deps.now ?? Date.now
  const log = deps.log ?? ((line: string) => void process.stdout.write(line + '\n'))
  const newId = deps.newId ?? (() => globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 12))
  const getClient = deps.client ?? defaultClient

  return async function handle(event: unknown, context?: InvocationContext): Promise<ProxyResult> {
    const env = deps.env ?? process.env
    // Nothing here may throw out of the handler: Lambda would send the error and its stack to the caller.
    let requestId = 'unknown'
    try {
      requestId = newId()
    } catch {
      // keep 'unknown'
    }
    const logLine = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
      try {
        log(JSON.stringify({ level, msg, requestId, awsRequestId: context?.awsRequestId, ...fields }))
      } catch {
        // logging must never break the answer
      }
    }
    try {
      const started = now()
      const endpointName = env.ENDPOINT_NAME
      if (!endpointName) {
        logLine('error', 'ENDPOINT_NAME is not set; run `mlops lambda-setup` to configure the function')
        return reply(500, { error: { code: 'Misconfigured', message: 'The function is not configured.' }, requestId })
      }
      const defaultTopK = intEnv(env.TOP_K, DEFAULT_TOP_K, 1, MAX_CLASSES)
      const maxBody = intEnv(env.MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES, 1, 64 * 1024 * 1024)

      const payload = readPayload(event, maxBody)
      const request = validateRequest(payload, defaultTopK)
      const t0 = now()
      let answer: unknown
      try {
        const out = await getClient().send(
          new InvokeEndpointCommand({
            EndpointName: endpointName,
            ContentType: 'application/json',
            Accept: 'application/json',
            Body: new TextEncoder().encode(JSON.stringify(request.forward)),
          }),
        )
        answer = JSON.parse(new TextDecoder().decode(out.Body ?? new Uint8Array()))
      } catch (err) {
        return endpointFailure(err, requestId, logLine, now() - t0)
      }
      const endpointLatencyMs = now() - t0
      const predictions = toPredictions(answer)
      if (!predictions) {
        logLine('error', 'endpoint answered in an unexpected shape', { endpointLatencyMs })
        return reply(502, { error: { code: 'UnexpectedAnswer', message: 'The model answered in an unexpected format.' }, requestId })
      }
      logLine('info', 'prediction', {
        input: request.kind,
        bytes: request.bytes,
        urlHost: request.urlHost,
        topK: request.topK,
        status: 200,
        endpointLatencyMs,
        totalMs: now() - started,
        top: predictions[0]?.breed,
      })
      return reply(200, { predictions, endpointLatencyMs, requestId })
    } catch (err) {
      if (err instanceof BadRequest) {
        logLine('warn', 'rejected request', { status: err.status, code: err.code, reason: err.message })
        return reply(err.status, { error: { code: err.code, message: err.message }, requestId })
      }
      // A bug: the details go to the log, never to the caller.
      logLine('error', 'unexpected error', {
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      })
      return reply(500, { error: { code: 'InternalError', message: 'Something went wrong; quote the requestId when reporting it.' }, requestId })
    }
  }
}

/** The function's entry point (`handler.handler`). */
export const handler = createHandler()

function reply(statusCode: number, body: unknown, extraHeaders: Record<string, string> = {}): ProxyResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extraHeaders },
    body: JSON.stringify(body),
  }
}

function intEnv(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = Number(value)
  return value !== undefined && /^\d+$/.test(value.trim()) && n >= min && n <= max ? n : fallback
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** API Gateway (REST or HTTP API) and function URL events carry the request in `body`. */
function isProxyEvent(e: Record<string, unknown>): boolean {
  return 'requestContext' in e || 'httpMethod' in e || 'routeKey' in e || 'rawPath' in e || ('body' in e && !('url' in e) && !('image' in e))
}

/** Returns the request object from a direct or proxy event, enforcing the size limit. */
function readPayload(event: unknown, maxBody: number): Record<string, unknown> {
  if (!isObject(event)) throw new BadRequest(400, 'InvalidRequest', 'Send a JSON object: {"url": "https://..."} or {"image": "<base64>"}.')
  if (!isProxyEvent(event)) {
    if (Buffer.byteLength(JSON.stringify(event)) > maxBody) throw tooLarge(maxBody)
    return event
  }
  const ctx = isObject(event.requestContext) ? event.requestContext : {}
  const method = (isObject(ctx.http) ? ctx.http.method : undefined) ?? event.httpMethod
  if (typeof method === 'string' && method.toUpperCase() !== 'POST') {
    throw new BadRequest(405, 'MethodNotAllowed', 'Use POST with a JSON body.')
  }
  const raw = event.body
  if (typeof raw !== 'string' || raw.length === 0) {
    throw new BadRequest(400, 'EmptyBody', 'The request body is empty; send {"url": "https://..."} or {"image": "<base64>"}.')
  }
  // Check the size before decoding, so a huge body costs nothing.
  const approxBytes = event.isBase64Encoded === true ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw)
  if (approxBytes > maxBody) throw tooLarge(maxBody)
  const text = event.isBase64Encoded === true ? Buffer.from(raw, 'base64').toString('utf8') : raw
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new BadRequest(400, 'InvalidJson', 'The request body is not valid JSON.')
  }
  if (!isObject(parsed)) throw new BadRequest(400, 'InvalidRequest', 'The request body must be a JSON object.')
  return parsed
}

function tooLarge(maxBody: number): BadRequest {
  return new BadRequest(413, 'PayloadTooLarge', `The request is larger than ${maxBody} bytes; send a smaller image or a URL.`)
}

interface ValidRequest {
  kind: 'url' | 'image'
  forward: { url: string; top_k: number } | { image: string; top_k: number }
  topK: number
  bytes?: number
  urlHost?: string
}

function validateRequest(p: Record<string, unknown>, defaultTopK: number): ValidRequest {
  const hasUrl = p.url !== undefined && p.url !== null
  const hasImage = p.image !== undefined && p.image !== null
  if (hasUrl === hasImage) {
    throw new BadRequest(
      400,
      'InvalidRequest',
      hasUrl ? 'Send either "url" or "image", not both.' : 'Missing input: send {"url": "https://..."} or {"image": "<base64>"}.',
    )
  }
  let topK = defaultTopK
  const maxTopK = Math.max(MAX_TOP_K, defaultTopK)
  if (p.top_k !== undefined) {
    if (typeof p.top_k !== 'number' || !Number.isInteger(p.top_k) || p.top_k < 1 || p.top_k > maxTopK) {
      throw new BadRequest(400, 'InvalidTopK', `"top_k" must be a whole number from 1 to ${maxTopK}.`)
    }
    topK = p.top_k
  }
  if (hasUrl) {
    const url = checkUrl(p.url)
    return { kind: 'url', forward: { url: url.href, top_k: topK }, topK, urlHost: url.hostname }
  }
  const image = checkImage(p.image)
  return { kind: 'image', forward: { image: image.base64, top_k: topK }, topK, bytes: image.bytes }
}

/** Cheap checks before the endpoint, which fetches the URL with its own SSRF guard. */
export function checkUrl(value: unknown): URL {
  if (typeof value !== 'string' || value.trim() === '') throw new BadRequest(400, 'InvalidUrl', '"url" must be a non-empty string.')
  if (value.length > MAX_URL_LENGTH) throw new BadRequest(400, 'InvalidUrl', `"url" is longer than ${MAX_URL_LENGTH} characters.`)
  let url: URL
  try {
    url = new URL(value.trim())
  } catch {
    throw new BadRequest(400, 'InvalidUrl', '"url" is not a well-formed URL.')
  }
  if (url.protocol !== 'https:') throw new BadRequest(400, 'InvalidUrl', 'Only https:// image URLs are accepted.')
  if (url.username || url.password) throw new BadRequest(400, 'InvalidUrl', 'URLs with credentials (user:password@) are not accepted.')
  const host = url.hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
  if (!host) throw new BadRequest(400, 'InvalidUrl', '"url" has no host.')
  if (host === 'localhost' || host.endsWith('.localhost') || isPrivateAddress(host)) {
    throw new BadRequest(400, 'InvalidUrl', 'The URL points to a private or local address.')
  }
  return url
}

/** True for IP literals in loopback, private, link-local, carrier-grade NAT, multicast and reserved ranges. */
export function isPrivateAddress(host: string): boolean {
  const v4 = parseIPv4(host)
  if (v4) return isPrivateIPv4(v4)
  if (!host.includes(':')) return false // a DNS name: the endpoint resolves and checks it
  const groups = parseIPv6(host)
  if (!groups) return true // unparsable IPv6 literal: refuse rather than guess
  if (groups.every((g) => g === 0)) return true // ::
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return true // ::1
  if ((groups[0] & 0xfe00) === 0xfc00) return true // fc00::/7 unique local
  if ((groups[0] & 0xffc0) === 0xfe80) return true // fe80::/10 link local
  if ((groups[0] & 0xff00) === 0xff00) return true // multicast
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses
  if (groups.slice(0, 5).every((g) => g === 0) && (groups[5] === 0xffff || groups[5] === 0)) {
    return isPrivateIPv4([groups[6] >> 8, groups[6] & 0xff, groups[7] >> 8, groups[7] & 0xff])
  }
  return false
}

function parseIPv4(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (!m) return undefined
  const parts = m.slice(1).map(Number)
  return parts.every((n) => n <= 255) ? parts : undefined
}

function isPrivateIPv4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    a >= 224 || // this network, private, loopback, multicast/reserved
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link local (and the instance metadata service)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19))
  ) // benchmarking
}

function parseIPv6(host: string): number[] | undefined {
  let text = host
  // A dotted IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const v4 = /(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(text)
  if (v4) {
    const p = parseIPv4(v4[1])
    if (!p) return undefined
    text = `${text.slice(0, -v4[1].length)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? parseInt(g, 16) : NaN)))
  const head = parse(halves[0])
  const rest = halves.length === 2 ? parse(halves[1]) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...Array<number>(Math.max(0, missing)).fill(0), ...rest]
  return groups.every((g) => Number.isInteger(g)) ? groups : undefined
}

/** Magic numbers of the formats the endpoint can decode. */
const IMAGE_SIGNATURES: readonly (readonly number[])[] = [
  [0xff, 0xd8, 0xff], // JPEG
  [0x89, 0x50, 0x4e, 0x47], // PNG
  [0x47, 0x49, 0x46, 0x38], // GIF
  [0x42, 0x4d], // BMP
  [0x52, 0x49, 0x46, 0x46], // RIFF (WebP)
]

/** The endpoint's limits (scripts/inference.py MAX_PIXELS, MAX_ASPECT_RATIO), checked here first: a 157-byte PNG of 1x20000 pixels is cheap to send and costly to resize (issue 27). */
export const MAX_IMAGE_PIXELS = 40_000_000
export const MAX_IMAGE_ASPECT_RATIO = 20

/**
 * Width and height from the header of a PNG, JPEG, GIF, BMP or WebP, without decoding a pixel;
 * undefined when the header does not say (a truncated or malformed file).
 */
export function imageDimensions(b: Uint8Array): { width: number; height: number } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const has = (n: number) => b.length >= n
  const ascii = (at: number, text: string) => has(at + text.length) && [...text].every((ch, i) => b[at + i] === ch.charCodeAt(0))
  if (b[0] === 0x89 && ascii(1, 'PNG')) {
    // The first chunk must be IHDR: width and height as big-endian 32-bit numbers.
    return ascii(12, 'IHDR') && has(24) ? { width: view.getUint32(16), height: view.getUint32(20) } : undefined
  }
  if (b[0] === 0xff && b[1] === 0xd8) {
    // Walk the marker segments to the first start-of-frame (SOF0-SOF15 but DHT, JPG, DAC).
    let p = 2
    while (p + 4 <= b.length) {
      if (b[p] !== 0xff) return undefined
      const marker = b[p + 1]
      if (marker === 0xff) {
        p++ // fill byte
        continue
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        p += 2 // markers without a length
        continue
      }
      const length = view.getUint16(p + 2)
      if (length < 2) return undefined
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return has(p + 9) ? { width: view.getUint16(p + 7), height: view.getUint16(p + 5) } : undefined
      }
      if (marker === 0xda || marker === 0xd9) return undefined // scan data before any frame header
      p += 2 + length
    }
    return undefined
  }
  if (ascii(0, 'GIF8')) return has(10) ? { width: view.getUint16(6, true), height: view.getUint16(8, true) } : undefined
  if (ascii(0, 'BM')) return has(26) ? { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) } : undefined
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) {
    if (ascii(12, 'VP8X') && has(30)) {
      const u24 = (at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)
      return { width: u24(24) + 1, height: u24(27) + 1 }
    }
    if (ascii(12, 'VP8L') && has(25)) {
      const bits = view.getUint32(21, true)
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
    }
    if (ascii(12, 'VP8 ') && has(30)) return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff }
  }
  return undefined
}

/** Refuses, from the header alone, an image the endpoint would refuse (or spend gigabytes resizing). */
function checkDimensions(bytes: Uint8Array): void {
  const dims = imageDimensions(bytes)
  const isPngOrJpeg = (bytes[0] === 0x89 && bytes[1] === 0x50) || (bytes[0] === 0xff && bytes[1] === 0xd8)
  if (!dims) {
    // Both formats put their size in a header every decoder needs; without it the file is broken.
    if (isPngOrJpeg) throw new BadRequest(400, 'InvalidImage', '"image" has no readable size in its header (a truncated or damaged file).')
    return
  }
  const { width, height } = dims
  if (width < 1 || height < 1) throw new BadRequest(400, 'InvalidImage', `"image" has no pixels (${width}x${height}).`)
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new BadRequest(
      400,
      'ImageTooLarge',
      `"image" is ${width}x${height}, more than ${MAX_IMAGE_PIXELS.toLocaleString('en-US')} pixels; send a smaller one.`,
    )
  }
  if (Math.max(width, height) > Math.min(width, height) * MAX_IMAGE_ASPECT_RATIO) {
    throw new BadRequest(
      400,
      'ImageTooLarge',
      `"image" is ${width}x${height}, more than ${MAX_IMAGE_ASPECT_RATIO}:1 between its sides; send a photo, not a strip.`,
    )
  }
}

function checkImage(value: unknown): { base64: string; bytes: number } {
  if (typeof value !== 'string' || value.trim() === '') throw new BadRequest(400, 'InvalidImage', '"image" must be a non-empty base64 string.')
  const b64 = value.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '')
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new BadRequest(400, 'InvalidImage', '"image" is not valid base64.')
  }
  const bytes = Buffer.from(b64, 'base64')
  if (!IMAGE_SIGNATURES.some((sig) => sig.every((byte, i) => bytes[i] === byte))) {
    throw new BadRequest(400, 'InvalidImage', '"image" is not a JPEG, PNG, GIF, BMP or WebP image.')
  }
  checkDimensions(bytes)
  return { base64: b64, bytes: bytes.length }
}

/** `{"predictions": [{"label", "probability"}]}` from the endpoint -> `[{breed, probability}]`. */
function toPredictions(answer: unknown): Prediction[] | undefined {
  if (!isObject(answer) || !Array.isArray(answer.predictions)) return undefined
  const out: Prediction[] = []
  for (const p of answer.predictions) {
    if (!isObject(p) || typeof p.label !== 'string' || typeof p.probability !== 'number') return undefined
    out.push({ breed: p.label, probability: p.probability })
  }
  return out
}

/**
 * The endpoint refused (a 4xx from the model: a bad image or a URL it would not fetch) -> 400, or
 * failed -> 502. Callers get one fixed message per code: the model's own words can name resolved
 * private addresses, hosts it refused and the endpoint (issue 19), so they go to the log only.
 */
const CALLER_MESSAGES = {
  ImageRejected:
    'The model could not use this input: send a JPEG or PNG image, or an https URL of one on a public host. Quote the requestId when reporting it.',
  EndpointError: 'The model endpoint could not answer. Try again later; quote the requestId when reporting it.',
} as const

function endpointFailure(
  err: unknown,
  requestId: string,
  logLine: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
  endpointLatencyMs: number,
): ProxyResult {
  const e = (isObject(err) ? err : {}) as { name?: string; message?: string; OriginalStatusCode?: number; OriginalMessage?: string }
  const original = e.OriginalStatusCode
  const modelSaid = String(e.OriginalMessage ?? '').split('\n')[0]
  logLine('error', 'endpoint call failed', {
    error: e.name ?? String(err),
    detail: e.message,
    originalStatus: original,
    ...(modelSaid ? { modelMessage: scrub(modelSaid).slice(0, 500) } : {}),
    endpointLatencyMs,
  })
  if (e.name === 'ModelError' && typeof original === 'number' && original >= 400 && original < 500 && original !== 429) {
    return reply(400, { error: { code: 'ImageRejected', message: CALLER_MESSAGES.ImageRejected }, requestId })
  }
  return reply(502, { error: { code: 'EndpointError', message: CALLER_MESSAGES.EndpointError }, requestId })
}

/** Defence in depth: never echo anything that looks like an ARN or an account id. */
function scrub(text: string): string {
  return text
    .replace(/arn:aws[\w-]*:[^\s"']+/g, '<arn>')
    .replace(/\b\d{12}\b/g, '<id>')
    .trim()
}
