import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from './atomic-file.js'

/**
 * On-demand list prices in USD per hour, us-east-1, as remembered in 2026-11 (the g6, g6e, p5, inf2
 * and trn1 rows are approximate). They are the offline and `--dry-run` fallback: commands that can
 * reach AWS ask the Price List API for the configured region (see `resolvePrices`), and every
 * estimate names the source and date it used. Unknown types give `undefined`, and the caller says
 * "price unknown" rather than inventing a number.
 */
export const BUILTIN_TABLE_DATE = '2026-11'

/** SageMaker training and hosting (ml.*). */
const SAGEMAKER_HOURLY: Record<string, number> = {
  'ml.t2.medium': 0.056,
  'ml.t3.medium': 0.05,
  'ml.m4.xlarge': 0.24,
  'ml.m5.large': 0.115,
  'ml.m5.xlarge': 0.23,
  'ml.m5.2xlarge': 0.461,
  'ml.m5.4xlarge': 0.922,
  'ml.m5.12xlarge': 2.765,
  'ml.c5.large': 0.102,
  'ml.c5.xlarge': 0.204,
  'ml.c5.2xlarge': 0.408,
  'ml.c5.4xlarge': 0.816,
  'ml.c5.9xlarge': 1.836,
  'ml.g4dn.xlarge': 0.736,
  'ml.g4dn.2xlarge': 0.94,
  'ml.g4dn.4xlarge': 1.505,
  'ml.g4dn.8xlarge': 2.72,
  'ml.g4dn.12xlarge': 4.89,
  'ml.g5.xlarge': 1.408,
  'ml.g5.2xlarge': 1.515,
  'ml.g5.4xlarge': 2.03,
  'ml.g5.12xlarge': 7.09,
  'ml.p3.2xlarge': 3.825,
  'ml.p3.8xlarge': 14.688,
  'ml.p3.16xlarge': 28.152,
  'ml.p4d.24xlarge': 37.688,
  // Approximate (2026-11): newer families.
  'ml.g6.xlarge': 1.0064,
  'ml.g6.2xlarge': 1.222,
  'ml.g6.4xlarge': 1.654,
  'ml.g6.12xlarge': 5.752,
  'ml.g6.48xlarge': 16.688,
  'ml.g6e.xlarge': 2.326,
  'ml.g6e.2xlarge': 2.803,
  'ml.g6e.4xlarge': 3.755,
  'ml.g6e.12xlarge': 13.116,
  'ml.g6e.48xlarge': 37.664,
  'ml.p5.48xlarge': 113.068,
  'ml.inf2.xlarge': 0.99,
  'ml.inf2.8xlarge': 2.36,
  'ml.inf2.24xlarge': 7.79,
  'ml.inf2.48xlarge': 15.58,
  'ml.trn1.2xlarge': 1.548,
  'ml.trn1.32xlarge': 24.78,
}

/** EC2 (no ml. prefix). */
const EC2_HOURLY: Record<string, number> = {
  't3.micro': 0.0104,
  't3.medium': 0.0416,
  'm5.large': 0.096,
  'm5.xlarge': 0.192,
  'c5.xlarge': 0.17,
  'g4dn.xlarge': 0.526,
  'g4dn.2xlarge': 0.752,
  'g4dn.4xlarge': 1.204,
  'g4dn.12xlarge': 3.912,
  'g5.xlarge': 1.006,
  'g5.2xlarge': 1.212,
  'g5.12xlarge': 5.672,
  'p3.2xlarge': 3.06,
  'p3.8xlarge': 12.24,
  'p4d.24xlarge': 32.773,
  // Approximate (2026-11): newer families.
  'g6.xlarge': 0.805,
  'g6.2xlarge': 0.978,
  'g6.4xlarge': 1.323,
  'g6.12xlarge': 4.602,
  'g6.48xlarge': 13.35,
  'g6e.xlarge': 1.861,
  'g6e.2xlarge': 2.242,
  'g6e.4xlarge': 3.004,
  'g6e.12xlarge': 10.493,
  'g6e.48xlarge': 30.131,
  'p5.48xlarge': 55.04,
  'inf2.xlarge': 0.758,
  'inf2.8xlarge': 1.968,
  'inf2.24xlarge': 6.491,
  'inf2.48xlarge': 12.981,
  'trn1.2xlarge': 1.344,
  'trn1.32xlarge': 21.5,
}

/**
 * SageMaker Serverless Inference, us-east-1: compute per GB-second of inference time ($0.0000200 a
 * second at 1024 MB, in proportion up to 6144 MB) and data processed, in and out, per GB.
 */
export const SERVERLESS_INFERENCE_GB_SECOND = 0.00002
export const SERVERLESS_INFERENCE_DATA_GB = 0.016
/** Lambda on demand, us-east-1: duration per GB-second by architecture, and each request. */
export const LAMBDA_GB_SECOND = { x86_64: 0.0000166667, arm64: 0.0000133334 } as const
export const LAMBDA_REQUEST = 0.0000002
/** Lambda provisioned concurrency: USD per GB-second while configured (idle or not). */
export const LAMBDA_PROVISIONED_GB_SECOND = 0.0000041667
/** S3 Standard storage, USD per GB-month. */
export const S3_GB_MONTH = 0.023
export const HOURS_PER_MONTH = 730

/** The built-in table's price; undefined when the type is not in it. */
function tableHourly(instanceType: string): number | undefined {
  return instanceType.startsWith('ml.') ? SAGEMAKER_HOURLY[instanceType] : EC2_HOURLY[instanceType]
}

/** Where a price came from: the Price List API (with the day it was read) or the built-in table (and why). */
export type PriceSource =
  { readonly kind: 'price-list'; readonly region: string; readonly date: string } | { readonly kind: 'table'; readonly date: string; readonly reason?: string }

/** "price list 2026-12-01 (eu-west-1)" / "built-in table (2026-11, us-east-1, approximate), offline". */
export function describePriceSource(source: PriceSource): string {
  if (source.kind === 'price-list') return `price list ${source.date} (${source.region})`
  return `built-in table (${source.date}, us-east-1, approximate)${source.reason ? `, ${source.reason}` : ''}`
}

/** Hourly on-demand prices for the types a command needs, each with its source. */
export class PriceBook {
  constructor(
    private readonly listed: ReadonlyMap<string, { readonly usd: number; readonly source: PriceSource }>,
    /** Used for every type the price list did not answer. */
    readonly fallback: PriceSource,
  ) {}

  hourly(instanceType: string): number | undefined {
    return this.listed.get(instanceType)?.usd ?? tableHourly(instanceType)
  }

  sourceOf(instanceType: string): PriceSource {
    return this.listed.get(instanceType)?.source ?? this.fallback
  }

  /** One line for an estimate: which source and date each price came from. */
  note(instanceTypes: readonly string[] = []): string {
    const sources = [...new Set((instanceTypes.length ? instanceTypes : ['']).map((t) => describePriceSource(t ? this.sourceOf(t) : this.fallback)))]
    return `On-demand prices from ${sources.join('; ')}; spot and savings plans differ.`
  }
}

/** The built-in table alone, saying why (`offline`, `--dry-run: price list not asked`). */
export function tablePrices(reason?: string): PriceBook {
  return new PriceBook(new Map(), { kind: 'table', date: BUILTIN_TABLE_DATE, ...(reason ? { reason } : {}) })
}

/** The table, for callers that were not handed a PriceBook. */
export const TABLE_PRICES = tablePrices()
export const PRICE_NOTE = TABLE_PRICES.note()

export function hourlyPrice(instanceType: string, prices: PriceBook = TABLE_PRICES): number | undefined {
  return prices.hourly(instanceType)
}

/** Cost of `count` instances for `seconds`; undefined when the price is unknown. */
export function estimateCost(instanceType: string, count: number, seconds: number, prices: PriceBook = TABLE_PRICES): number | undefined {
  const hourly = hourlyPrice(instanceType, prices)
  return hourly === undefined ? undefined : (hourly * count * seconds) / 3600
}

/** Hourly cost of provisioned concurrency for a function of `memoryMb`. */
export function lambdaProvisionedHourly(memoryMb: number, executions: number): number {
  return LAMBDA_PROVISIONED_GB_SECOND * (memoryMb / 1024) * executions * 3600
}

/** "$1.23" / "price unknown". */
export function formatUsd(amount: number | undefined): string {
  if (amount === undefined) return 'price unknown'
  if (amount > 0 && amount < 0.0001) return '<$0.0001'
  return amount < 0.01 && amount > 0 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`
}

/** ml.* prices differ by what the instance does (the Price List `component`); EC2 ignores it. */
export type PriceUse = 'training' | 'hosting'

/** One price read from the price list: `usd` null when the list has no on-demand price for the type. */
interface CachedPrice {
  readonly usd: number | null
  /** YYYY-MM-DD, the day it was read. */
  readonly date: string
}

interface PriceCacheFile {
  readonly version: 1
  readonly region: string
  readonly entries: Record<string, CachedPrice>
}

/** Where the price cache lives; `read` gives undefined for a missing or unreadable file. */
export interface PriceCache {
  read(): Promise<PriceCacheFile | undefined>
  write(file: PriceCacheFile): Promise<void>
}

/**
 * Asks the price list for one type: the USD per hour, undefined when the list has no such product,
 * or throws (network, access denied: the caller falls back to the table).
 */
export type PriceFetcher = (instanceType: string, region: string, use: PriceUse) => Promise<number | undefined>

export interface ResolvePricesOptions {
  readonly region: string
  readonly use: PriceUse
  /** --dry-run never asks AWS: the table, and the note says so. */
  readonly dryRun?: boolean
  readonly fetch?: PriceFetcher
  readonly cache?: PriceCache
  readonly now: () => number
  /** Cached prices older than this are read again. @default 7 */
  readonly maxAgeDays?: number
}

export const PRICE_CACHE_MAX_AGE_DAYS = 7

/**
 * Prices for `instanceTypes` in `region`: fresh cache entries first, then the Price List API for the
 * rest (written back to the cache), and the built-in table for types the list lacks or when it cannot
 * be reached. A stale cached price beats the table when the list is unreachable.
 */
export async function resolvePrices(instanceTypes: readonly string[], opts: ResolvePricesOptions): Promise<PriceBook> {
  if (opts.dryRun) return tablePrices('--dry-run: price list not asked')
  if (!opts.fetch) return tablePrices('offline')
  const today = new Date(opts.now()).toISOString().slice(0, 10)
  const maxAgeMs = (opts.maxAgeDays ?? PRICE_CACHE_MAX_AGE_DAYS) * 86_400_000
  const cached = await opts.cache?.read()
  const entries: Record<string, CachedPrice> = cached?.region === opts.region ? validEntries(cached.entries, opts.now()) : {}
  const fresh = (e: CachedPrice | undefined) => e !== undefined && opts.now() - Date.parse(e.date) < maxAgeMs
  const listed = new Map<string, { usd: number; source: PriceSource }>()
  let failure: string | undefined
  let wrote = false
  for (const type of new Set(instanceTypes)) {
    const key = cacheKey(type, opts.use)
    if (!fresh(entries[key]) && failure === undefined) {
      try {
        const usd = await opts.fetch(type, opts.region, opts.use)
        entries[key] = { usd: usd ?? null, date: today }
        wrote = true
      } catch (e) {
        failure = unavailable(e) // one failure is enough: do not wait on every type
      }
    }
    const entry = entries[key]
    if (entry?.usd != null) listed.set(type, { usd: entry.usd, source: { kind: 'price-list', region: opts.region, date: entry.date } })
  }
  if (wrote) await opts.cache?.write({ version: 1, region: opts.region, entries })
  return new PriceBook(listed, { kind: 'table', date: BUILTIN_TABLE_DATE, reason: failure ?? `not in the ${opts.region} price list` })
}

/**
 * The cache entries that can be believed: a finite price above 0 (or null: "the list has none"), read
 * on a real past day. A hand-edited or corrupt file must not print "$-10.00", crash on a string, or
 * pin a price for ever with a date in 2099 (issue 27): any other entry is dropped and read again.
 */
function validEntries(entries: unknown, now: number): Record<string, CachedPrice> {
  const out: Record<string, CachedPrice> = {}
  if (typeof entries !== 'object' || entries === null) return out
  for (const [key, e] of Object.entries(entries as Record<string, unknown>)) {
    const { usd, date } = (e ?? {}) as { usd?: unknown; date?: unknown }
    const priced = usd === null || (typeof usd === 'number' && Number.isFinite(usd) && usd > 0)
    const day = typeof date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(date) : NaN
    if (priced && Number.isFinite(day) && day <= now) out[key] = { usd: usd as number | null, date: date as string }
  }
  return out
}

function unavailable(e: unknown): string {
  const err = e as { name?: string; message?: string } | undefined
  const raw = err?.message ?? String(e)
  // An emulator or proxy without the Price List API answers an HTML page, which the SDK reports as a
  // multi-line deserialisation error: say what happened instead of passing the SDK's text on.
  if (/Deserialization error|Unexpected token '<'|<!doctype|<html/i.test(raw))
    return 'price list unavailable: the endpoint answered HTML, not the AWS Price List API'
  const why = raw.split('\n')[0].trim()
  return /AccessDenied|NotAuthorized|UnrecognizedClient|InvalidClientToken|Credentials/i.test(`${err?.name} ${why}`)
    ? `price list not readable (${why}; it needs pricing:GetProducts)`
    : `offline (${why})`
}

function cacheKey(instanceType: string, use: PriceUse): string {
  return instanceType.startsWith('ml.') ? `${use}/${instanceType}` : `ec2/${instanceType}`
}

/**
 * The price cache, one JSON file per region: MLOPS_CACHE_DIR, else $XDG_CACHE_HOME/mlops, else
 * ~/.cache/mlops, named prices-<region>.json. Undefined when none of them is set.
 */
export function priceCachePath(env: Readonly<Record<string, string | undefined>>, region: string): string | undefined {
  const dir = env.MLOPS_CACHE_DIR || (env.XDG_CACHE_HOME && path.join(env.XDG_CACHE_HOME, 'mlops')) || (env.HOME && path.join(env.HOME, '.cache', 'mlops'))
  return dir ? path.join(dir, `prices-${region}.json`) : undefined
}

/** A cache file on disk; unreadable or foreign content reads as no cache, and a failed write is ignored (prices are re-read next time). */
export function fileCache(file: string): PriceCache {
  return {
    async read() {
      try {
        const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<PriceCacheFile>
        return parsed.version === 1 && typeof parsed.region === 'string' && parsed.entries && typeof parsed.entries === 'object'
          ? (parsed as PriceCacheFile)
          : undefined
      } catch {
        return undefined
      }
    },
    async write(content) {
      // A cache that cannot be written (a full disk, a read-only home) only costs a request next
      // time; the atomic write leaves no half-written file behind.
      await writeFileAtomic(file, JSON.stringify(content, null, 2) + '\n').catch(() => undefined)
    },
  }
}
