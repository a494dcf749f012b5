import { z } from 'zod'
import { parseDuration } from '../shared/duration.js'
import { duration, positiveInt } from './common.js'
import { MAX_TARGET_INVOCATIONS_PER_MINUTE } from './sections/endpoint.js'

/**
 * Fields that only a flag sets today (there is no config key for them). Their limits are written
 * here, as schemas like every config field, so `src/commands/` holds no range of its own and a
 * future config key reuses the field as it is. Flags that override a config key use that key's
 * schema in `sections/` instead.
 */

const atMost = (max: number, what: string) => `must be at most ${max} (${what})`

/** A TCP port on 127.0.0.1 (`serve --port`, `invoke --local --port`, `loadtest --local --port`). */
export const portField = positiveInt('port').max(65_535, atMost(65_535, 'port'))

/** `train --local --instances`: hosts on one machine over loopback; more only oversubscribes its cores. */
export const localHostsField = positiveInt('local hosts').max(16, atMost(16, 'local hosts: one machine'))

/** How long to follow a job (`train --timeout`, `logs --timeout`): any duration up to mlops's 366d. */
export const followTimeoutField = duration

/** `logs --endpoint/--lambda --since`: how far back to read, e.g. 10m, 1h. */
export const logsSinceField = duration

/** `status --metrics --since`: the window; CloudWatch keeps metrics 455 days (1-minute points for 15 of them). */
export const metricsSinceField = duration
  .refine((s) => s >= 300, 'must be at least 5m (CloudWatch points are a minute or more)')
  .refine((s) => s <= 455 * 86_400, 'must be at most 455d (how long CloudWatch keeps metrics)')

/** `logs --filter`: a CloudWatch Logs filter pattern (FilterLogEvents allows up to 1024 characters). */
export const logFilterPatternField = z.string().trim().min(1, 'must not be empty').max(1024, 'must be at most 1024 characters (CloudWatch filter pattern)')

/** `train --budget` / `tune --budget`: US dollars, `20` or `$20`. */
export const budgetUsdField = z
  .string()
  .transform((v) => v.trim().replace(/^\$/, ''))
  .pipe(z.string().regex(/^\d+(\.\d+)?$/, 'must be a positive amount of US dollars'))
  .transform(Number)
  .pipe(z.number().positive('must be a positive amount of US dollars'))

/** `--model` names a file or folder on this machine (a path, or a name ending in .tar.gz/.tgz), not a job. */
export function isLocalModelPath(model: string): boolean {
  return /[\\/]/.test(model) || /\.(tar\.gz|tgz)$/.test(model) || model.startsWith('.')
}

/** `deploy --model`: an s3:// URI of a model.tar.gz, a training or tuning job name, a local run's name, or a local path. */
export const modelRefField = z
  .string()
  .transform((v) => v.trim())
  .pipe(
    z
      .string()
      .refine(
        (m) =>
          /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(m) ||
          /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(m) ||
          (!m.startsWith('s3:') && isLocalModelPath(m)),
        'must be an s3:// URI of a model.tar.gz, a training job name, or a local model.tar.gz or run folder (./model.tar.gz, .mlops/local/<job>)',
      ),
  )

/** `serve --max-concurrency`: requests the local server handles at once. */
export const serveConcurrencyField = positiveInt('requests at once').max(256, atMost(256, 'requests at once'))

/** `serve --max-body-bytes`: 64 MiB is ten times InvokeEndpoint's 6 MB, room for tests of the 413 path. */
export const serveBodyBytesField = positiveInt('bytes').max(64 * 1024 * 1024, atMost(64 * 1024 * 1024, 'bytes'))

/** `loadtest --concurrency`: at most 10 levels of 1 to 1000 concurrent requests. */
export const loadLevelsField = z.array(positiveInt('concurrent requests').max(1000, atMost(1000, 'concurrent requests'))).max(10, 'must have at most 10 levels')

/** `loadtest --max-requests`: the hard bound on requests for the whole run. */
export const maxRequestsField = positiveInt('requests').max(1_000_000, atMost(1_000_000, 'requests'))

/**
 * The most requests per second a load test rate or peak may name: what the endpoint's target can
 * express (MAX_TARGET_INVOCATIONS_PER_MINUTE / 60). Above it (`--peak-rps 1e308`) the recommendation
 * turns into numbers `scale` refuses (an infinite reserved concurrency).
 */
export const MAX_REQUEST_RATE = Math.floor(MAX_TARGET_INVOCATIONS_PER_MINUTE / 60)

/** `loadtest --rate`, `--peak-rps` (and a saved recommendation's maxRps): requests per second. */
export const requestRateField = z
  .number({ error: 'must be a number of requests per second above 0' })
  .positive('must be a number of requests per second above 0')
  .max(MAX_REQUEST_RATE, `must be at most ${MAX_REQUEST_RATE} requests per second`)

/** `loadtest --slo`: "1s", "1.5s", "300ms" or a bare number of milliseconds; gives milliseconds. */
export const latencyMsField = z.string().transform((v, ctx) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v.trim().toLowerCase())
  const n = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN
  if (n > 0) return n
  ctx.addIssue({ code: 'custom', message: 'must be a latency such as 1s or 300ms' })
  return z.NEVER
})

/** `loadtest --duration`: a duration (30s, 2m) or milliseconds (500ms); gives milliseconds. */
export const durationMsField = z.string().transform((v, ctx) => {
  if (/^\s*\d+(\.\d+)?\s*ms\s*$/i.test(v)) {
    const r = latencyMsField.safeParse(v.trim())
    if (r.success) return r.data
  } else {
    try {
      return parseDuration(v) * 1000
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message })
      return z.NEVER
    }
  }
  ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 2m or 500ms' })
  return z.NEVER
})

/** `upload-data --source`: a folder, within Linux's NAME_MAX (255 bytes a name) and PATH_MAX (4,096 with the NUL). */
export const sourceDirField = z
  .string()
  .refine((p) => p.trim() !== '', 'must name a folder')
  .superRefine((p, ctx) => {
    const long = p.split(/[\\/]/).find((seg) => Buffer.byteLength(seg) > 255)
    if (long !== undefined)
      ctx.addIssue({ code: 'custom', message: `has a folder name of ${Buffer.byteLength(long)} bytes ("${long.slice(0, 40)}…"); names may have at most 255` })
    else if (Buffer.byteLength(p) >= 4096) ctx.addIssue({ code: 'custom', message: `is ${Buffer.byteLength(p)} bytes long; paths may have at most 4,095` })
  })

/** `upload-data --from-url`: an http(s) URL; gives its normalised href. */
export const downloadUrlField = z
  .string()
  .refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), 'must be an http:// or https:// URL')
  .transform((v) => new URL(v).href)

/** `upload-data --expect-sha256`: 64 hex digits; gives lower case. */
export const sha256Field = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
  .transform((v) => v.toLowerCase())

/** `audit-iam --format`. */
export const AUDIT_FORMATS = ['table', 'json', 'sarif'] as const
export const auditFormatField = z.enum(AUDIT_FORMATS)

/** `split-data --valid` / `--test`: the share of each class's images for that split. */
export const splitFractionField = z.number({ error: 'must be a number' }).gt(0, 'must be more than 0').lt(1, 'must be less than 1')

/** `split-data --seed`: orders the images before the cut (the same seed, the same split). */
export const splitSeedField = z.number({ error: 'must be a whole number' }).int('must be a whole number').nonnegative('must be 0 or more')

/** `runs --last`: the N most recent runs. */
export const runsLastField = positiveInt('runs').max(10_000, atMost(10_000, 'runs'))

/** `runs --sort`: newest first, cheapest first, longest first, or a metric best first. */
export const RUNS_SORT_KEYS = [
  'start',
  'cost',
  'duration',
  'val_accuracy',
  'test_accuracy',
  'val_loss',
  'test_loss',
  'train_loss',
  'best_val_accuracy',
] as const
export const runsSortField = z.enum(RUNS_SORT_KEYS)

/** `evaluate --endpoint` / `predict --endpoint|--lambda` `--concurrency`: requests in flight at once. */
export const remoteConcurrencyField = positiveInt('requests at once').max(64, atMost(64, 'requests at once'))
