import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

interface InitFlags {
  readonly project?: string
  readonly bucket?: string
  readonly force?: boolean
  /** false with --no-scripts. */
  readonly scripts: boolean
  readonly example?: string
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('init')
    .description('write a commented mlops.config.yaml and copy the training and inference code into ./scripts/')
    .option('--project <name>', 'project name (default: the folder name)')
    .option('--bucket <name>', 'S3 bucket for data and models (default: <project>-mlops-<region>)')
    .option('--force', 'overwrite an existing config file and bundled script files')
    .option('--no-scripts', 'write only the config, training from the scripts bundled with mlops; copy nothing into ./scripts/')
    .option('--example <file>', 'write a commented example of every section to <file> (a new file) and touch nothing else')
    .addHelpText(
      'after',
      `
The code in ./scripts/ (train.py, inference.py, hyperparameters.json, ...) is yours to edit;
training.sourceDir points at it. Existing files are kept unless --force. Links are never written through.
Already have a config? --example <file> writes the commented template beside it, changing nothing else.

Example:
  $ mlops init --project dog-breeds --bucket my-dog-data
  $ mlops init -c staging.yaml --region eu-west-1 --no-scripts
  $ mlops init --example mlops.config.example.yaml`,
    )
    .action(
      action<InitFlags>(deps, async (ctx, flags) => {
        const [{ runInit }, { renderInit }] = await Promise.all([import('../features/project/init.js'), import('../features/project/init-render.js')])
        ctx.ui.result(
          await runInit(ctx, { project: flags.project, bucket: flags.bucket, force: flags.force, scripts: flags.scripts, example: flags.example }),
          renderInit,
        )
      }),
    )
}
