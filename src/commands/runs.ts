import type { Command } from 'commander'
import { runsLastField, runsSortField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { enumOption, intOption } from './options.js'

const lastFlag = intOption('--last', runsLastField, '10')
const sortFlag = enumOption('--sort', runsSortField, 'test_accuracy')

interface RunsFlags {
  readonly last?: string
  readonly sort?: string
}

export function register(program: Command, deps: Deps): Command {
  const runs = program
    .command('runs')
    .description("the project's training and tuning runs, SageMaker and local: duration, instances, spot savings, metrics, cost")
    .option('--last <n>', 'only the N most recent runs')
    .option('--sort <key>', `order: ${runsSortField.options.join(', ')} (metrics best first; default: start, newest first)`)
    .addHelpText(
      'after',
      `
Finds the SageMaker training and tuning jobs whose name is one mlops generates for the project AND
whose mlops:project tag names it (a name prefix never decides: dogs never lists dogs-v2's jobs), and
the local runs in .mlops/local/, so it works with .mlops/state.json deleted.
The table shows only the hyperparameters that differ between the listed runs; cost is billable
seconds x instances x the hourly price (spot: the share it saved is training vs billable seconds).

Examples:
  $ mlops runs
  $ mlops runs --last 5 --sort test_accuracy
  $ mlops runs --json | jq '.runs[] | {name, metrics, costUsd}'
  $ mlops runs compare dogs-train-2026-11-22-10-30-05-123 dogs-local-2026-11-23-09-00-00-000`,
    )
    .action(
      action<RunsFlags>(deps, async (ctx, flags) => {
        const last = lastFlag(flags.last)
        const sort = sortFlag(flags.sort)
        const { runRuns } = await import('../features/runs/runs.js')
        const { renderRuns } = await import('../features/runs/render.js')
        const outcome = await runRuns(ctx, { ...(last !== undefined ? { last } : {}), ...(sort !== undefined ? { sort } : {}) })
        ctx.ui.result(outcome, renderRuns)
      }),
    )
  runs
    .command('compare')
    .description('two runs side by side: the hyperparameters that differ, per-epoch metrics, per-class accuracy, cost')
    .argument('<a>', 'a run: a SageMaker training job of the project or a local run (a folder name in .mlops/local/)')
    .argument('<b>', 'the other run')
    .option('--html <file>', 'also write both runs side by side as one self-contained HTML page (the page `mlops report` draws)')
    .addHelpText(
      'after',
      `
Per-epoch metrics come from the run's metrics.json (local) or its metric lines in CloudWatch Logs
(SageMaker: FinalMetricDataList keeps only the last value). Per-class accuracy needs the
evaluation.json train.py writes beside the model (local runs). A job not tagged for this project is refused.

Examples:
  $ mlops runs compare dogs-train-2026-11-22-10-30-05-123 dogs-train-2026-11-23-08-00-00-000
  $ mlops runs compare dogs-local-2026-11-23-09-00-00-000 dogs-train-2026-11-22-10-30-05-123 --json
  $ mlops runs compare <a> <b> --html compare.html   curves, evaluation and cost, one column per run`,
    )
    .action(
      action<{ html?: string }>(deps, async (ctx, flags, args) => {
        const [a, b] = args
        const { runRunsCompare } = await import('../features/runs/runs-compare.js')
        const { renderRunsCompare } = await import('../features/runs/render.js')
        ctx.ui.result(await runRunsCompare(ctx, { a, b, ...(flags.html !== undefined ? { html: flags.html } : {}) }), renderRunsCompare)
      }),
    )
  return runs
}
