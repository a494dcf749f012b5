import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

export function register(program: Command, deps: Deps): Command {
  return program
    .command('status')
    .description('what mlops has running for the project and what it costs per hour and per month')
    .addHelpText(
      'after',
      `
Finds the project's resources by tag, fixed name and .mlops/state.json: running training and tuning
jobs, endpoints (instance type, count, price), Lambda provisioned concurrency (bills while idle),
EC2 boxes (age, price), and the dataset's size in S3.

Examples:
  $ mlops status
  $ mlops status --json | jq .hourlyTotal`,
    )
    .action(
      action<Record<string, never>>(deps, async (ctx) => {
        const { renderStatus, runStatus } = await import('../features/project/status.js')
        ctx.ui.result(await runStatus(ctx), renderStatus)
      }),
    )
}
