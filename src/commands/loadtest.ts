import type { Command } from 'commander'
import { durationMsField, latencyMsField, loadLevelsField, maxRequestsField, portField, requestRateField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import type { LoadtestOptions } from '../features/capacity/loadtest.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { durationOption, intOption, listOption, numberOption } from './options.js'

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

/** Each flag checked by its field in config/flag-fields.ts (loadtest has no config section). */
const FLAGS = {
  port: intOption('--port', portField, '8080'),
  durationMs: durationOption('--duration', durationMsField, '30s'),
  concurrency: listOption('--concurrency', loadLevelsField, '1,2,4,8'),
  rate: numberOption('--rate', requestRateField, '20'),
  peakRps: numberOption('--peak-rps', requestRateField, '50'),
  sloMs: durationOption('--slo', latencyMsField, '1s'),
  maxRequests: intOption('--max-requests', maxRequestsField, '2000'),
}

/** Every flag checked before anything is read or sent (UserError naming the flag, exit 2). */
export function parseLoadtestFlags(flags: LoadtestFlags): LoadtestOptions {
  if (flags.lambda && flags.local) {
    throw new UserError('ConflictingFlags', 'Give either --lambda or --local, not both.', { hint: 'Without either, the endpoint is loaded.' })
  }
  if (flags.port !== undefined && !flags.local) {
    throw new UserError('ConflictingFlags', '--port is the local server port and needs --local.', { hint: 'For example: --local --port 8080' })
  }
  const concurrency = FLAGS.concurrency(flags.concurrency)
  const rate = FLAGS.rate(flags.rate)
  const peakRps = FLAGS.peakRps(flags.peakRps)
  return {
    target: flags.lambda ? 'lambda' : flags.local ? 'local' : 'endpoint',
    port: FLAGS.port(flags.port) ?? 8080,
    durationMs: FLAGS.durationMs(flags.duration),
    concurrency,
    ...(flags.image !== undefined ? { image: flags.image } : {}),
    ...(rate !== undefined ? { rate } : {}),
    sloMs: FLAGS.sloMs(flags.slo),
    ...(peakRps !== undefined ? { peakRps } : {}),
    maxRequests: FLAGS.maxRequests(flags.maxRequests),
  }
}
