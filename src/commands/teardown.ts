import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

interface TeardownFlags {
  readonly deleteData?: boolean
  readonly keepRoles?: boolean
  readonly verbose?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('teardown')
    .description('delete everything mlops created for the project (keeps the S3 data unless --delete-data)')
    .option('--delete-data', 'also delete the dataset, job outputs and code packages in S3 (and the bucket if mlops created it)')
    .option('--verbose', 'with --delete-data, list every S3 key it deletes (the default shows counts and sizes by kind)')
    .option('--keep-roles', 'keep the IAM roles and instance profile (they cost nothing)')
    .addHelpText(
      'after',
      `
Order: running jobs stopped, scaling policies and targets, endpoint, endpoint configs, models,
function URL, provisioned concurrency, function, roles and instance profiles, EC2 instances,
security groups. Lists what will go and asks first (--yes in scripts). Safe to re-run.

Examples:
  $ mlops teardown                  # asks before deleting; keeps the data
  $ mlops teardown --yes --json     # for scripts
  $ mlops teardown --dry-run        # the requests, offline`,
    )
    .action(
      action<TeardownFlags>(deps, async (ctx, flags) => {
        const { renderTeardown, runTeardown } = await import('../features/project/teardown.js')
        ctx.ui.result(
          await runTeardown(ctx, { deleteData: Boolean(flags.deleteData), keepRoles: Boolean(flags.keepRoles), verbose: Boolean(flags.verbose) }),
          renderTeardown,
        )
      }),
    )
}
