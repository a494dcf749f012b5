import type { Command } from 'commander'
import { parseDurationFlag, parseIntFlag, type Deps } from '../context.js'
import type { LoadtestOptions } from '../features/capacity/loadtest.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'

/** Commander's view of the flags (strings as typed). */
export interface LoadtestFlags {
  readonly duration: string
  readonly concurrency: string
  readonly image?: string
  readonly rate?: string
  readonly slo: string
  readonly peakRps?: string
  readonly maxRequests: string
  readonly lambda?: boolean
  readonly local?: boolean
  readonly port?: string
}

/** Most concurrency levels and the highest level one run may use. */
const MAX_LEVELS = 10
const MAX_CONCURRENCY = 1000

export function register(program: Command, deps: Deps): Command {
  return program
    .command('loadtest')
    .description('measure latency and throughput at rising concurrency and recommend scaling settings')
    .option('--lambda', 'load the Lambda (alias live, by Invoke) instead of the endpoint')
    .option('--local', 'load the local server (`mlops serve`) on 127.0.0.1; free, needs no --yes')
    .option('--port <n>', 'port of the local server (with --local; default: 8080)')
    .option('--duration <duration>', 'how long each concurrency level runs, e.g. 30s, 2m or 500ms', '30s')
    .option('--concurrency <list>', 'concurrency levels, run in this order', '1,2,4,8')
    .option('--image <path>', 'the image each request sends (default: the bundled assets/sample.jpg)')
    .option('--rate <rps>', 'open loop: send at this many requests/s (latency counted from when each was due)')
    .option('--slo <latency>', 'p99 latency a level must stay within to count, e.g. 1s or 300ms', '1s')
    .option('--peak-rps <rps>', 'expected peak requests/s for the Lambda concurrency (default: the measured maximum)')
    .option('--max-requests <n>', 'hard bound on requests for the whole run, all levels together', '10000')
    .addHelpText(
      'after',
      `
Each level runs for --duration (or until --max-requests is spent) and reports requests, errors by
status, throughput and p50/p95/p99 latency. The recommendation:

  maxRps                       fastest level with no errors and p99 within --slo
  targetInvocationsPerInstance floor(maxRps x 0.5 x 60)   (for \`mlops scale\`)
  Lambda provisioned/reserved  Little's law: peak req/s x p50 (provisioned), x p99 x 1.5 (reserved)

The result is saved to .mlops/loadtest.json; \`mlops scale --from-loadtest\` applies it.
Against the endpoint or the Lambda every request is a billed invocation: the run says what it will
send and needs --yes (or a yes at the prompt). --dry-run prints the request and the bounds.

Examples:
  $ mlops loadtest --local                                 the local server, free
  $ mlops loadtest --duration 20s --concurrency 1,4,16 --yes
  $ mlops loadtest --rate 20 --concurrency 8 --duration 1m --yes
  $ mlops loadtest --lambda --peak-rps 50 --max-requests 2000 --yes --json`,
    )
    .action(
      action<LoadtestFlags>(deps, async (ctx, flags) => {
        const opts = parseLoadtestFlags(flags)
        const { runLoadtest } = await import('../features/capacity/loadtest.js')
        const { renderLoadtest } = await import('../features/capacity/render.js')
        ctx.ui.result(await runLoadtest(ctx, opts), renderLoadtest)
      }),
    )
}

/** Every flag checked before anything is read or sent (UserError naming the flag, exit 2). */
export function parseLoadtestFlags(flags: LoadtestFlags): LoadtestOptions {
  if (flags.lambda && flags.local) {
    throw new UserError('ConflictingFlags', 'Give either --lambda or --local, not both.', { hint: 'Without either, the endpoint is loaded.' })
  }
  if (flags.port !== undefined && !flags.local) {
    throw new UserError('ConflictingFlags', '--port is the local server port and needs --local.', { hint: 'For example: --local --port 8080' })
  }
  const levels = flags.concurrency.split(',').map((part) => parseIntFlag(part.trim(), '--concurrency', { min: 1, max: MAX_CONCURRENCY }))
  if (levels.length > MAX_LEVELS) {
    throw new UserError('InvalidFlag', `--concurrency takes at most ${MAX_LEVELS} levels, got ${levels.length}.`, {
      hint: 'For example: --concurrency 1,2,4,8',
    })
  }
  const rate = flags.rate === undefined ? undefined : positive(flags.rate, '--rate', '--rate 20')
  const peakRps = flags.peakRps === undefined ? undefined : positive(flags.peakRps, '--peak-rps', '--peak-rps 50')
  return {
    target: flags.lambda ? 'lambda' : flags.local ? 'local' : 'endpoint',
    port: flags.port === undefined ? 8080 : parseIntFlag(flags.port, '--port', { min: 1, max: 65535 }),
    durationMs: /^\s*\d+(\.\d+)?\s*ms\s*$/i.test(flags.duration)
      ? parseLatencyFlag(flags.duration, '--duration')
      : parseDurationFlag(flags.duration, '--duration', '30s') * 1000,
    concurrency: levels,
    ...(flags.image !== undefined ? { image: flags.image } : {}),
    ...(rate !== undefined ? { rate } : {}),
    sloMs: parseLatencyFlag(flags.slo, '--slo'),
    ...(peakRps !== undefined ? { peakRps } : {}),
    maxRequests: parseIntFlag(flags.maxRequests, '--max-requests', { min: 1, max: 1_000_000 }),
  }
}

/** "1s", "1.5s", "300ms" or a bare number of milliseconds -> milliseconds. */
export function parseLatencyFlag(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim().toLowerCase())
  const n = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : NaN
  if (!m || !(n > 0)) {
    throw new UserError('InvalidFlag', `${flag} must be a latency such as 1s or 300ms, got "${value}".`, { hint: `For example: ${flag} 1s` })
  }
  return n
}

function positive(value: string, flag: string, example: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UserError('InvalidFlag', `${flag} must be a number of requests per second above 0, got "${value}".`, { hint: `For example: ${example}` })
  }
  return n
}
