import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

interface InitOptions {
  readonly project?: string
  readonly bucket?: string
  readonly force?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('init')
    .description('write a commented mlops.config.yaml (refuses to overwrite one without --force)')
    .option('--project <name>', 'project name (default: the folder name)')
    .option('--bucket <name>', 'S3 bucket for data and models (default: <project>-mlops-<region>)')
    .option('--force', 'overwrite an existing config file')
    .addHelpText('after', '\nExample:\n  $ mlops init --project dog-breeds --bucket my-dog-data\n  $ mlops init -c staging.yaml --region eu-west-1')
    .action(
      action<InitOptions>(deps, async (ctx, opts) => {
        const { runInit } = await import('../features/project/init.js')
        const result = await runInit(ctx, opts)
        ctx.ui.resultData(
          result,
          (r) => `Wrote ${r.path} (project ${r.project}, bucket ${r.bucket}). Next: put your images in ${r.dataDir} and run \`mlops upload-data\`.`,
        )
      }),
    )
}
