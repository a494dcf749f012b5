import { existsSync, statSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { getObjectBytes } from '../../aws/s3/object-bytes.js'
import { listObjects } from '../../aws/s3/upload.js'
import { invokeEndpoint, invokeLambda, type InferenceAnswer } from '../../aws/sagemaker/invoke-model.js'
import type { CommandContext } from '../../context.js'
import { endpointKind, MAX_REALTIME_REQUEST_BYTES, maxRequestBytes } from '../../shared/endpoint-limits.js'
import { OperationError, UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { formatBytes, type ProgressBar } from '../../shared/output.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { runPool } from '../../shared/pool.js'
import { estimateCost, formatUsd, LAMBDA_REQUEST } from '../../shared/pricing.js'
import { etaText } from './evaluation-script.js'
import { THUMBNAIL_MAX_BYTES, type ScoredRow } from './summary.js'

/**
 * Images through the deployed model: the endpoint (InvokeEndpoint) or the Lambda in front of it,
 * from a local folder or an S3 prefix, a bounded number in flight, one row per image as each answer
 * comes back. The requests have the shapes `mlops invoke` sends (features/deploy/invoke.ts): raw
 * image bytes with their type for the handler's top 5, JSON `{"image": base64, "top_k"}` for more;
 * the Lambda gets `{"image": base64, "top_k"}`. The answers go through the same parser.
 */

/** Where the answers come from. */
export type RemoteTarget = { readonly kind: 'endpoint'; readonly name: string } | { readonly kind: 'lambda'; readonly name: string; readonly qualifier: string }

/** Where the images are. */
export type ImageSource = { readonly kind: 'folder'; readonly root: string } | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string }

/** One image to send: `file` is its path under the folder or prefix ("<class>/<name>" when labelled). */
export interface ImageItem {
  readonly file: string
  /** The class's display name when the image sits in a class folder, else null. */
  readonly label: string | null
  readonly size: number
}

/** model_def.IMAGE_EXTENSIONS: the files evaluation.py lists. */
const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff']
/** The handler answers the top 5 for raw image bytes; more needs the JSON form with "top_k". */
const HANDLER_DEFAULT_TOP_K = 5
/** The predictor caps top_k at its class count: asking this many returns every class with its index. */
export const EVERY_CLASS = 1000
/** Without a measurement, what one request is assumed to take (for the time and cost stated first). */
const ASSUMED_SECONDS_PER_REQUEST = 0.2

/** model_def.display_name: `001.Affenpinscher` -> `Affenpinscher`, `002.Afghan_hound` -> `Afghan hound`. */
export function displayName(folder: string): string {
  return (
    folder
      .replace(/^\d+[._\-\s]+/, '')
      .replace(/_/g, ' ')
      .trim() || folder
  )
}

function itemFor(rel: string, size: number): ImageItem | undefined {
  const name = rel.split('/').at(-1)!
  if (name.startsWith('.') || !IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase())) return undefined
  return { file: rel, label: rel.includes('/') ? displayName(rel.split('/')[0]) : null, size }
}

const byCodePoint = (a: ImageItem, b: ImageItem) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)

/** `s3://bucket/prefix` or a folder; UserError naming `what` otherwise. */
export function parseImageSource(cwd: string, input: string, what: string): ImageSource {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(input)
  if (s3) return { kind: 's3', bucket: s3[1], prefix: s3[2] && !s3[2].endsWith('/') ? `${s3[2]}/` : s3[2] }
  const root = path.resolve(cwd, input)
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new UserError('InvalidArgument', `${what} ${input} is neither a folder nor an s3:// prefix.`, {
      hint: 'Pass a folder of images or s3://<bucket>/<prefix>/, e.g. mlops predict dogImages/test --endpoint',
    })
  }
  return { kind: 'folder', root }
}

/** The images under a folder, as evaluation.py's list_images finds them (dot-files skipped, sorted). */
export async function listFolderImages(root: string): Promise<ImageItem[]> {
  const out: ImageItem[] = []
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue
      const childRel = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isDirectory()) await walk(path.join(dir, entry.name), childRel)
      else if (entry.isFile()) {
        const item = itemFor(childRel, 0)
        if (item) out.push({ ...item, size: (await stat(path.join(dir, entry.name))).size })
      }
    }
  }
  await walk(root, '')
  return out.sort(byCodePoint)
}

/** The images under an S3 prefix (ListObjectsV2, paged): labelled when keys are <prefix>/<class>/<file>. */
export async function listS3Images(ctx: CommandContext, source: Extract<ImageSource, { kind: 's3' }>): Promise<ImageItem[]> {
  const { s3 } = await ctx.clients(['s3'], await ctx.config())
  const listed = await listObjects(s3, source.bucket, source.prefix, ctx.signal)
  const out: ImageItem[] = []
  for (const o of listed.values()) {
    const item = o.key.endsWith('/') ? undefined : itemFor(o.key.slice(source.prefix.length), o.size)
    if (item) out.push(item)
  }
  return out.sort(byCodePoint)
}

/** Content types the handler reads, by extension (anything else goes as application/x-image). */
const TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.bmp': 'image/bmp',
  '.webp': 'image/webp',
}

export function contentTypeOf(file: string): string {
  return TYPES[path.extname(file).toLowerCase()] ?? 'application/x-image'
}

/** The endpoint request for one image: `invoke`'s shape (raw bytes for the top 5, else JSON with "top_k"). */
export function endpointBody(bytes: Uint8Array, file: string, topK: number): { body: Uint8Array; contentType: string; label: string } {
  const label = `${file} (${formatBytes(bytes.length)})`
  if (topK <= HANDLER_DEFAULT_TOP_K) return { body: bytes, contentType: contentTypeOf(file), label }
  return { body: Buffer.from(JSON.stringify({ image: Buffer.from(bytes).toString('base64'), top_k: topK })), contentType: 'application/json', label }
}

/** The project's endpoint, or `--endpoint <name>`; the project's Lambda (alias live), or `--lambda <name>`. */
export async function resolveTarget(ctx: CommandContext, kind: 'endpoint' | 'lambda', name: string | true): Promise<RemoteTarget> {
  const names = resourceNames(await ctx.config())
  if (kind === 'lambda') return { kind, name: name === true ? names.lambdaFunction : name, qualifier: names.lambdaAlias }
  return { kind, name: name === true ? names.endpoint : name }
}

/** What the endpoint takes per request: 4 MB serverless, 6 MB real-time (as `invoke` checks). */
async function requestLimit(ctx: CommandContext, target: RemoteTarget): Promise<number> {
  const cfg = await ctx.config()
  const names = resourceNames(cfg)
  if (target.kind === 'endpoint' && target.name !== names.endpoint) return MAX_REALTIME_REQUEST_BYTES
  return maxRequestBytes(await endpointKind(cfg, names.endpoint, ctx.state()))
}

/** The requests a run makes, for --dry-run (reads of S3 first, then one invocation per image). */
export function remoteOperations(target: RemoteTarget, source: ImageSource, topK: number, count: string): PlannedOperation[] {
  const ops: PlannedOperation[] = []
  if (source.kind === 's3') {
    ops.push({ service: 's3', operation: 'ListObjectsV2', input: { Bucket: source.bucket, Prefix: source.prefix }, note: 'paged, 1,000 keys a page' })
    ops.push({
      service: 's3',
      operation: 'GetObject',
      input: { Bucket: source.bucket, Key: `<each image under ${source.prefix || 'the bucket'}>` },
      note: count,
    })
  }
  if (target.kind === 'lambda') {
    ops.push({
      service: 'lambda',
      operation: 'Invoke',
      input: { FunctionName: target.name, Qualifier: target.qualifier, Payload: { image: '<each image, base64>', top_k: topK } },
      note: count,
    })
  } else {
    const json = topK > HANDLER_DEFAULT_TOP_K
    ops.push({
      service: 'sagemaker-runtime',
      operation: 'InvokeEndpoint',
      input: {
        EndpointName: target.name,
        ContentType: json ? 'application/json' : '<each image: image/jpeg, image/png, ...>',
        Accept: 'application/json',
        Body: json ? `<each image as {"image": base64, "top_k": ${topK}}>` : '<each image, its bytes>',
      },
      note: count,
    })
  }
  return ops
}

/** The cost, said before anything is sent: the request count, and what the endpoint bills anyway. */
export async function costStatement(ctx: CommandContext, target: RemoteTarget, images: number, bytes: number, concurrency: number): Promise<string> {
  const cfg = await ctx.config()
  const seconds = Math.max(1, Math.round((images * ASSUMED_SECONDS_PER_REQUEST) / concurrency))
  const head = `${images} request${images === 1 ? '' : 's'} (${formatBytes(bytes)} of images), ${concurrency} at a time, about ${seconds} s`
  if (target.kind === 'lambda') {
    const requests = formatUsd(images * LAMBDA_REQUEST)
    return `${head} to Lambda ${target.name}:${target.qualifier}: ${requests} in Lambda requests plus its duration, and each one invokes the endpoint behind it.`
  }
  const ours = target.name === resourceNames(cfg).endpoint
  const kind = ours ? await endpointKind(cfg, target.name, ctx.state()) : 'instance'
  if (kind === 'serverless') return `${head} to serverless endpoint ${target.name}: billed per request by compute time and data processed.`
  const bills = `${head} to endpoint ${target.name}: no charge per request; it bills per instance-hour whether called or not`
  // Another endpoint's instances are not in the config: its price is not guessed from the project's.
  if (!ours) return `${bills}, plus $0.016/GB data processed.`
  const share = estimateCost(cfg.endpoint.instanceType, cfg.endpoint.instanceCount, seconds)
  return `${bills} (${cfg.endpoint.instanceCount} x ${cfg.endpoint.instanceType}: ${formatUsd(share)} of its time for this run, plus $0.016/GB data processed).`
}

export interface RemoteRun {
  readonly target: RemoteTarget
  readonly source: ImageSource
  readonly items: readonly ImageItem[]
  readonly topK: number
  readonly concurrency: number
  /** Called with each finished row, in the order they finish. */
  readonly onRow: (row: ScoredRow) => void
  /** Keep each small image's bytes on its row (for evaluation's worst-file thumbnails). */
  readonly keepBytes?: boolean
  readonly progressLabel: string
}

/** A problem with one image (unreadable, too large, refused by the model): a row with an error, not a failed run. */
function imageProblem(e: unknown): string | undefined {
  if (e instanceof UserError && ['ImageTooLarge', 'ImageNotFound'].includes(e.code)) return e.message
  if (e instanceof OperationError && e.code === 'InvocationFailed') {
    const status = (e.cause as { OriginalStatusCode?: number } | undefined)?.OriginalStatusCode
    if ((status !== undefined && status >= 400 && status < 500) || /answered HTTP 4\d\d/.test(e.message)) return e.message.split('\n')[0]
  }
  return undefined
}

/** Sends every item, `concurrency` at once, with progress and the time left; rows go to `onRow`. */
export async function predictRemote(ctx: CommandContext, run: RemoteRun): Promise<void> {
  const cfg = await ctx.config()
  const limit = await requestLimit(ctx, run.target)
  const s3 = run.source.kind === 's3' ? (await ctx.clients(['s3'], cfg)).s3 : undefined
  const runtime = run.target.kind === 'endpoint' ? (await ctx.clients(['sagemakerRuntime'], cfg)).sagemakerRuntime : undefined
  const lambda = run.target.kind === 'lambda' ? (await ctx.clients(['lambda'], cfg)).lambda : undefined
  const now = () => ctx.clock.now()
  const read = async (item: ImageItem): Promise<Uint8Array> => {
    if (item.size > limit) {
      throw new UserError('ImageTooLarge', `${item.file} is ${formatBytes(item.size)}; a request may be at most ${formatBytes(limit)}.`)
    }
    if (run.source.kind === 's3') return getObjectBytes(s3!, run.source.bucket, run.source.prefix + item.file, limit, ctx.signal)
    return new Uint8Array(await readFile(path.join(run.source.root, ...item.file.split('/'))))
  }
  const ask = async (item: ImageItem, bytes: Uint8Array): Promise<InferenceAnswer> => {
    if (run.target.kind === 'lambda') {
      const event = { image: Buffer.from(bytes).toString('base64'), top_k: run.topK }
      return invokeLambda(lambda!, run.target.name, run.target.qualifier, event, now)
    }
    const req = endpointBody(bytes, item.file, run.topK)
    if (req.body.length > limit)
      throw new UserError('ImageTooLarge', `${item.file}: the request would be ${formatBytes(req.body.length)}; at most ${formatBytes(limit)}.`)
    return invokeEndpoint(runtime!, run.target.name, req, now)
  }
  const started = now()
  let finished = 0
  let bar: ProgressBar | undefined
  if (run.items.length) bar = ctx.ui.progress(run.progressLabel, run.items.length)
  try {
    await runPool(
      run.items,
      run.concurrency,
      async (item) => {
        let row: ScoredRow
        try {
          const bytes = await read(item)
          const answer = await ask(item, bytes)
          row = {
            file: item.file,
            label: item.label,
            predictions: answer.predictions.slice(0, run.topK),
            ...(run.keepBytes && bytes.length <= THUMBNAIL_MAX_BYTES ? { bytes, contentType: contentTypeOf(item.file) } : {}),
          }
        } catch (e) {
          const problem = imageProblem(e)
          if (problem === undefined) throw e
          row = { file: item.file, label: item.label, error: problem }
        }
        run.onRow(row)
        finished++
        bar?.update(finished, etaText(finished, run.items.length, now() - started))
      },
      ctx.signal,
    )
  } finally {
    bar?.done()
  }
}
