import { readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { MAX_REALTIME_REQUEST_BYTES } from '../../shared/endpoint-limits.js'
import type { CommandContext } from '../../context.js'
import { writeFileAtomic } from '../../shared/atomic-file.js'
import { systemClock } from '../../shared/clock.js'
import { formatDuration } from '../../shared/duration.js'
import { AbortError, OperationError, UserError } from '../../shared/errors.js'
import { resourceNames, type ResourceNames } from '../../shared/naming.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { formatBytes } from '../../shared/output.js'
import { PACKAGE_ROOT } from '../../shared/package-root.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { configuredVariant, type VariantSpec } from '../../shared/endpoint-variant.js'
import type { MlopsConfig } from '../../config/schema.js'
import { costPer1000 } from './cost.js'
import { recommend, summarizeLevel } from './recommend.js'
import { preciseSystemClock, runLevels, type Sender } from './runner.js'
import { endpointSender, lambdaSender, localInvocationUrl, localSender, type Fatal } from './targets.js'
import { LOADTEST_FILE, RecommendationSchema } from '../../shared/loadtest-file.js'
import type { CostPer1000, LevelSummary, LoadtestReport, LoadtestSettingsSummary, LoadtestTarget, SavedLoadtest, TargetKind } from './types.js'

/** `mlops loadtest`: measure the endpoint, the Lambda or the local server, and recommend scaling. */

export interface LoadtestOptions {
  readonly target: TargetKind
  /** --local: the port of the local server. @default 8080 */
  readonly port: number
  /** Per level, milliseconds. */
  readonly durationMs: number
  /** Levels, in order. */
  readonly concurrency: readonly number[]
  /** The image to send; undefined: assets/sample.jpg. */
  readonly image?: string
  /** Open loop: requests per second. */
  readonly rate?: number
  readonly sloMs: number
  readonly peakRps?: number
  /** For the whole run. */
  readonly maxRequests: number
}

interface Payload {
  readonly file: string
  readonly bytes: Uint8Array
  readonly contentType: string
}

async function readPayload(ctx: CommandContext, image: string | undefined): Promise<Payload> {
  const file = image ? path.resolve(ctx.deps.cwd, image) : path.join(PACKAGE_ROOT, 'assets', 'sample.jpg')
  const info = await stat(file).catch(() => undefined)
  if (!info?.isFile()) throw new UserError('ImageNotFound', `--image: no file at ${file}.`, { hint: 'Pass a JPEG or PNG file, e.g. --image dog.jpg.' })
  if (info.size > MAX_REALTIME_REQUEST_BYTES) {
    throw new UserError('ImageTooLarge', `--image: ${path.basename(file)} is ${formatBytes(info.size)}; a request may be at most 6 MB.`, {
      hint: 'Use a smaller image (the model sees 224x224 pixels).',
    })
  }
  const bytes = new Uint8Array(await readFile(file))
  const png = bytes[0] === 0x89 && bytes[1] === 0x50
  return { file, bytes, contentType: png ? 'image/png' : 'image/jpeg' }
}

/** The most requests the run can send: the hard bound, or fewer when the rate and duration allow fewer. */
export function requestBound(opts: Pick<LoadtestOptions, 'maxRequests' | 'rate' | 'durationMs' | 'concurrency'>): number {
  if (opts.rate === undefined) return opts.maxRequests
  return Math.min(opts.maxRequests, Math.ceil((opts.durationMs / 1000) * opts.rate) * opts.concurrency.length)
}

function describeTarget(opts: LoadtestOptions, names: ResourceNames): LoadtestTarget {
  if (opts.target === 'local') return { kind: 'local', name: names.endpoint, url: localInvocationUrl(opts.port, names.endpoint) }
  if (opts.target === 'lambda') return { kind: 'lambda', name: `${names.lambdaFunction}:${names.lambdaAlias}` }
  return { kind: 'endpoint', name: names.endpoint }
}

function requestOperation(target: LoadtestTarget, payload: Payload, names: ResourceNames, bound: number): PlannedOperation {
  const shown = `<${formatBytes(payload.bytes.length)} from ${path.basename(payload.file)}>`
  const note = `repeated, at most ${bound} times`
  if (target.kind === 'local') return { service: 'http', operation: 'POST', input: { url: target.url, 'Content-Type': payload.contentType, body: shown }, note }
  if (target.kind === 'lambda') {
    return {
      service: 'lambda',
      operation: 'Invoke',
      input: { FunctionName: names.lambdaFunction, Qualifier: names.lambdaAlias, Payload: { image: `<base64 of ${shown}>` } },
      note,
    }
  }
  return {
    service: 'sagemaker-runtime',
    operation: 'InvokeEndpoint',
    input: { EndpointName: target.name, ContentType: payload.contentType, Accept: 'application/json', Body: shown },
    note,
  }
}

function settingsSummary(opts: LoadtestOptions, payload: Payload): LoadtestSettingsSummary {
  return {
    durationMs: opts.durationMs,
    concurrency: [...opts.concurrency],
    ...(opts.rate !== undefined ? { rate: opts.rate } : {}),
    sloMs: opts.sloMs,
    ...(opts.peakRps !== undefined ? { peakRps: opts.peakRps } : {}),
    maxRequests: requestBound(opts),
    image: payload.file,
    payloadBytes: payload.bytes.length,
  }
}

/** "up to 2000 requests over 4 levels (concurrency 1, 2, 4, 8) of 30s each, 14.4 KB each, to endpoint dogs-endpoint". */
export function describeLoad(target: LoadtestTarget, s: LoadtestSettingsSummary): string {
  const mode = s.rate !== undefined ? `, open loop at ${s.rate} requests/s` : ''
  return (
    `up to ${s.maxRequests} requests over ${s.concurrency.length} level${s.concurrency.length === 1 ? '' : 's'} (concurrency ${s.concurrency.join(', ')}) ` +
    `of ${s.durationMs < 1000 ? `${s.durationMs}ms` : formatDuration(s.durationMs / 1000)} each${mode}, ${formatBytes(s.payloadBytes)} each, to ${target.kind} ${target.url ?? target.name}`
  )
}

async function makeSender(ctx: CommandContext, target: LoadtestTarget, payload: Payload, fatal: Fatal): Promise<Sender> {
  const cfg = await ctx.config()
  if (target.kind === 'local') return localSender(target.url!, payload.bytes, payload.contentType, fatal)
  if (target.kind === 'lambda') {
    const { lambda } = await ctx.clients(['lambda'], cfg)
    const [functionName, qualifier] = target.name.split(':')
    return lambdaSender(lambda, functionName, qualifier, { image: Buffer.from(payload.bytes).toString('base64') }, fatal)
  }
  const { sagemakerRuntime } = await ctx.clients(['sagemakerRuntime'], cfg)
  return endpointSender(sagemakerRuntime, target.name, payload.bytes, payload.contentType, fatal)
}

export async function runLoadtest(ctx: CommandContext, opts: LoadtestOptions): Promise<Outcome<LoadtestReport>> {
  const cfg = await ctx.config()
  const names = resourceNames(cfg)
  const payload = await readPayload(ctx, opts.image)
  const target = describeTarget(opts, names)
  const settings = settingsSummary(opts, payload)
  const load = describeLoad(target, settings)

  if (ctx.dryRun) {
    return planned({
      title: `loadtest ${target.kind} ${target.name}`,
      operations: [requestOperation(target, payload, names, settings.maxRequests)],
      notes: [`Would send ${load}.`],
      details: { target, settings },
    })
  }
  // A real endpoint or Lambda bills every invocation (and may scale out): say what, and ask.
  if (target.kind !== 'local' && !(await ctx.ui.confirm(`Send ${load}? Each is a billed invocation`))) throw new AbortError()
  ctx.ui.step(`Sending ${load}`)

  const fatal: Fatal = { controller: new AbortController() }
  const signal = AbortSignal.any([ctx.signal, fatal.controller.signal])
  const send = await makeSender(ctx, target, payload, fatal)
  // Date.now() moves in whole milliseconds; time requests finer when running for real.
  const clock = ctx.clock === systemClock ? preciseSystemClock : ctx.clock
  const measured = await runLevels(
    send,
    { levels: opts.concurrency, durationMs: opts.durationMs, maxRequests: settings.maxRequests, ...(opts.rate ? { rate: opts.rate } : {}) },
    clock,
    signal,
    (m) => {
      const s = summarizeLevel(m)
      ctx.ui.step(`concurrency ${s.concurrency}: ${s.requests} requests, ${s.rps} req/s, p99 ${s.p99Ms ?? '-'} ms`)
    },
  )
  if (fatal.error) throw fatal.error
  const levels = measured.map(summarizeLevel)
  const recommendation = recommend(levels, opts.sloMs, opts.peakRps)
  // Never save what `scale --from-loadtest` would refuse: the same fields check both sides.
  const usable = recommendation.maxRps > 0 ? RecommendationSchema.safeParse(recommendation) : undefined
  if (usable && !usable.success) {
    const issue = usable.error.issues[0]
    throw new OperationError(
      'UnusableRecommendation',
      `The load test's recommendation is out of range (${issue?.path.join('.')}: ${issue?.message}); nothing was saved.`,
      {
        hint: 'Run it again with a lower --peak-rps or fewer concurrency levels.',
      },
    )
  }
  const cost = await priceLoad(ctx, cfg, target, levels, recommendation, payload)
  const report: LoadtestReport = { target, levels, recommendation, ...(cost ? { costPer1000: cost } : {}) }
  const file = await saveLoadtest(ctx.projectDir, { ...report, savedAt: new Date(ctx.clock.now()).toISOString(), settings })
  ctx.ui.info(`Saved to ${path.relative(ctx.deps.cwd, file) || file}; apply it with \`mlops scale --from-loadtest\`.`)
  return done(report)
}

/**
 * What the endpoint serves on: the variant deploy recorded for it, else what the config would deploy
 * (always the config for --local, which measures this machine).
 */
async function servingVariant(ctx: CommandContext, cfg: MlopsConfig, target: LoadtestTarget, endpointName: string): Promise<VariantSpec> {
  if (target.kind !== 'local') {
    const recorded = (await ctx.state().latest('endpoint', (r) => r.name === endpointName))?.details?.variant as VariantSpec | undefined
    if (recorded?.kind === 'instance' || recorded?.kind === 'serverless') return recorded
  }
  return configuredVariant(cfg.endpoint)
}

/** The cost per 1,000 predictions at the recommendation, priced with the region's price book. */
async function priceLoad(
  ctx: CommandContext,
  cfg: MlopsConfig,
  target: LoadtestTarget,
  levels: readonly LevelSummary[],
  recommendation: LoadtestReport['recommendation'],
  payload: Payload,
): Promise<CostPer1000 | undefined> {
  const serving = await servingVariant(ctx, cfg, target, resourceNames(cfg).endpoint)
  const prices = serving.kind === 'instance' ? await ctx.prices([serving.instanceType], 'hosting', cfg) : undefined
  const hourly = serving.kind === 'instance' ? prices?.hourly(serving.instanceType) : undefined
  return costPer1000({
    target: target.kind,
    levels,
    recommendation,
    serving,
    ...(hourly !== undefined ? { hourly } : {}),
    priceSource: prices && serving.kind === 'instance' ? prices.note([serving.instanceType]) : '',
    payloadBytes: payload.bytes.length,
    ...(target.kind === 'lambda' ? { lambda: { memoryMb: cfg.lambda.memoryMb, architecture: cfg.lambda.architecture } } : {}),
  })
}

async function saveLoadtest(projectDir: string, doc: SavedLoadtest): Promise<string> {
  const file = path.join(projectDir, LOADTEST_FILE)
  await writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n')
  return file
}
