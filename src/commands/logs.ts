import type { Command } from 'commander'
import { followTimeoutField, logFilterPatternField, logsSinceField } from '../config/flag-fields.js'
import type { CommandContext, Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { durationOption, stringOption } from './options.js'

const timeoutFlag = durationOption('--timeout', followTimeoutField, '2h')
const sinceFlag = durationOption('--since', logsSinceField, '1h')
const filterFlag = stringOption('--filter', logFilterPatternField, { example: 'ERROR' })

interface LogsFlags {
  readonly stop?: boolean
  readonly timeout?: string
  readonly stopOnInterrupt?: boolean
  readonly endpoint?: boolean
  readonly lambda?: boolean
  readonly follow?: boolean
  readonly since?: string
  readonly filter?: string
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('logs')
    .description('re-attach to a training or tuning job: status, metric lines, final result')
    .argument('[job-name]', 'training or tuning job (default: the newest one this project started)')
    .option('--stop', 'stop the job (StopTrainingJob / StopHyperParameterTuningJob) instead of following it')
    .option('--timeout <duration>', "how long to follow it, e.g. 2h (default: what is left of the job's max runtime + 30m)")
    .option('--stop-on-interrupt', 'on Ctrl-C stop the job instead of asking (without a terminal the default is to detach)')
    .option('--endpoint', "the project's endpoint log group (/aws/sagemaker/Endpoints/<endpoint>) instead of a job")
    .option('--lambda', "the project's function log group (/aws/lambda/<function>) instead of a job")
    .option('--since <duration>', 'with --endpoint/--lambda: start this far back, e.g. 30m, 1h (default: 10m)')
    .option('--filter <pattern>', 'with --endpoint/--lambda: a CloudWatch Logs filter pattern, e.g. ERROR or "timed out"')
    .option('--follow', 'with --endpoint/--lambda: keep printing new lines until Ctrl-C or --timeout (default 1h)')
    .addHelpText(
      'after',
      `
Examples:
  $ mlops logs                                 the newest job of this project
  $ mlops logs dogs-train-2026-11-22-10-30-05-123
  $ mlops logs dogs-train-2026-11-22-10-30-05-123 --debug   every log line, not only metrics
  $ mlops logs dogs-train-2026-11-22-10-30-05-123 --stop
  $ mlops logs --endpoint --since 1h --filter ERROR   the endpoint's lines, all streams in time order
  $ mlops logs --lambda --follow                       new lines of the function as they come (--json: JSON lines)

A finished job prints its metric lines and final result at once; a running one is followed until it
ends. The result is recorded so \`mlops deploy\` finds the model.`,
    )
    .action(
      action<LogsFlags>(deps, async (ctx, flags, args) => {
        const timeoutSeconds = timeoutFlag(flags.timeout)
        if (flags.endpoint || flags.lambda) return serviceLogs(ctx, flags, args, timeoutSeconds)
        for (const [given, flag] of [
          [flags.since, '--since'],
          [flags.filter, '--filter'],
          [flags.follow, '--follow'],
        ] as const) {
          if (given !== undefined) {
            throw new UserError('ConflictingFlags', `${flag} only applies with --endpoint or --lambda (a job's logs are always followed).`, {
              hint: `Add --endpoint or --lambda, or leave out ${flag}.`,
            })
          }
        }
        const { runLogs } = await import('../features/training/logs.js')
        const { interruptDecider } = await import('../features/training/interrupt.js')
        const { renderLogsResult } = await import('../features/training/render.js')
        const outcome = await runLogs(ctx, {
          ...(args[0] ? { jobName: args[0] } : {}),
          stop: Boolean(flags.stop),
          ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
          decideInterrupt: interruptDecider({
            stopOnInterrupt: Boolean(flags.stopOnInterrupt),
            ...(ctx.deps.stdinIsTTY && ctx.deps.ask ? { ask: ctx.deps.ask } : {}),
            info: (m) => ctx.ui.warn(m),
            what: 'job',
          }),
        })
        ctx.ui.result(outcome, renderLogsResult)
      }),
    )
}

/** `logs --endpoint` / `logs --lambda`: recent lines, or --follow them. */
async function serviceLogs(ctx: CommandContext, flags: LogsFlags, args: string[], timeoutSeconds: number | undefined): Promise<void> {
  const conflict = (message: string, hint: string) => new UserError('ConflictingFlags', message, { hint })
  if (flags.endpoint && flags.lambda) throw conflict('--endpoint and --lambda cannot be combined.', 'Pick one log group per run.')
  const source = flags.endpoint ? 'endpoint' : 'lambda'
  if (args[0]) throw conflict(`--${source} reads the project's ${source} log group; a job name does not apply.`, `Run \`mlops logs ${args[0]}\` for the job.`)
  if (flags.stop || flags.stopOnInterrupt) throw conflict(`--stop and --stop-on-interrupt apply to jobs, not to --${source}.`, 'Leave them out.')
  if (timeoutSeconds !== undefined && !flags.follow) throw conflict('--timeout only applies with --follow.', 'Add --follow, or leave out --timeout.')
  const sinceSeconds = sinceFlag(flags.since) ?? 600
  const filterPattern = filterFlag(flags.filter)
  const { runServiceLogs, renderServiceLogs, formatLogEvent } = await import('../features/training/service-logs.js')
  const out = ctx.deps.stdout
  const outcome = await runServiceLogs(ctx, {
    source,
    sinceSeconds,
    follow: Boolean(flags.follow),
    ...(filterPattern ? { filterPattern } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    // Followed lines are the output, written as they come: JSON lines with --json.
    onEvents: (events) => {
      for (const e of events) out.write((ctx.ui.json ? JSON.stringify(e) : formatLogEvent(e)) + '\n')
    },
  })
  // A follow's lines are already written; its summary went to stderr (JSON lines stay JSON lines).
  if (outcome.kind === 'done' && outcome.result.followed !== undefined) return
  ctx.ui.result(outcome, renderServiceLogs)
}
