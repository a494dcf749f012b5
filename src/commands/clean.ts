import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

export function register(program: Command, deps: Deps): Command {
  return program
    .command('clean')
    .description('free disk space in .mlops/: old checkpoints, models no run references, serve downloads (says what first)')
    .addHelpText(
      'after',
      `
Keeps the best and last checkpoint of each local run and every model .mlops/state.json references
(so serve and deploy --model <run> still find them); the state file is never touched. Lists what
goes with sizes and asks first (--yes in scripts). Only local files: no AWS request.

Examples:
  $ mlops clean --dry-run    # what it would free
  $ mlops clean --yes --json`,
    )
    .action(
      action<Record<string, never>>(deps, async (ctx) => {
        const { renderClean, runClean } = await import('../features/project/clean.js')
        ctx.ui.result(await runClean(ctx), renderClean)
      }),
    )
}
