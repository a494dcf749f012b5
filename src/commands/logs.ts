import type { Command } from 'commander'
import { followTimeoutField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { durationOption } from './options.js'

const timeoutFlag = durationOption('--timeout', followTimeoutField, '2h')

interface LogsFlags {
  readonly stop?: boolean
  readonly timeout?: string
  readonly stopOnInterrupt?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('logs')
    .description('re-attach to a training or tuning job: status, metric lines, final result')
    .argument('[job-name]', 'training or tuning job (default: the newest one this project started)')
    .option('--stop', 'stop the job (StopTrainingJob / StopHyperParameterTuningJob) instead of following it')
    .option('--timeout <duration>', "how long to follow it, e.g. 2h (default: what is left of the job's max runtime + 30m)")
    .option('--stop-on-interrupt', 'on Ctrl-C stop the job instead of asking (without a terminal the default is to detach)')
    .addHelpText(
      'after',
      `
Examples:
  $ mlops logs                                 the newest job of this project
  $ mlops logs dogs-train-2026-11-22-10-30-05-123
  $ mlops logs dogs-train-2026-11-22-10-30-05-123 --debug   every log line, not only metrics
  $ mlops logs dogs-train-2026-11-22-10-30-05-123 --stop

A finished job prints its metric lines and final result at once; a running one is followed until it
ends. The result is recorded so \`mlops deploy\` finds the model.`,
    )
    .action(
      action<LogsFlags>(deps, async (ctx, flags, args) => {
        const timeoutSeconds = timeoutFlag(flags.timeout)
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
