import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { TuningSchema, TuningStrategySchema } from '../config/sections/training.js'
import { enumOption, intOption } from './options.js'
import { addTrainingFlags, parseTrainingFlags, type TrainFlags } from './train.js'

interface TuneFlags extends TrainFlags {
  readonly maxJobs?: string
  readonly maxParallel?: string
  readonly strategy?: string
}

/** Checked by the config's own training.tuning fields, so a limit and the strategy list exist once. */
const tuning = TuningSchema.shape
const FLAGS = {
  maxJobs: intOption('--max-jobs', tuning.maxJobs.unwrap(), '8'),
  maxParallel: intOption('--max-parallel', tuning.maxParallelJobs.unwrap(), '2'),
  strategy: enumOption('--strategy', TuningStrategySchema, 'Bayesian', { ignoreCase: true }),
}

export function register(program: Command, deps: Deps): Command {
  const cmd = program
    .command('tune')
    .description('run a SageMaker hyperparameter tuning job over training.tuning.ranges')
    .option('--max-jobs <n>', 'training jobs in total (default: training.tuning.maxJobs)')
    .option('--max-parallel <n>', 'training jobs at the same time (default: training.tuning.maxParallelJobs)')
    .option('--strategy <name>', 'Bayesian, Random, Hyperband or Grid (default: training.tuning.strategy)')
  return addTrainingFlags(cmd)
    .addHelpText(
      'after',
      `
Examples:
  $ mlops tune --dry-run                         show the CreateHyperParameterTuningJob request
  $ mlops tune --max-jobs 8 --max-parallel 2 --strategy Random
  $ mlops tune --no-wait && mlops logs <tuning-job>
  $ mlops tune --budget 50                       as many jobs as $50 covers at their max runtime
  $ mlops tune --no-wait --notify ops@example.com   e-mail when the tuning job ends

The objective (training.tuning.objective.metric) is one of the metric lines train.py prints; its
direction follows the metric: accuracies are maximised, losses minimised. The best training job's
model is recorded for \`mlops deploy\`.`,
    )
    .action(
      action<TuneFlags>(deps, async (ctx, flags) => {
        const parsed = await parseTrainingFlags(ctx, flags)
        const strategy = FLAGS.strategy(flags.strategy)
        const maxJobs = FLAGS.maxJobs(flags.maxJobs)
        const maxParallelJobs = FLAGS.maxParallel(flags.maxParallel)
        const tuning = {
          ...(maxJobs !== undefined ? { maxJobs } : {}),
          ...(maxParallelJobs !== undefined ? { maxParallelJobs } : {}),
          ...(strategy ? { strategy } : {}),
        }
        const { runTune } = await import('../features/training/tune.js')
        const { renderTuningResult } = await import('../features/training/render.js')
        const outcome = await runTune(ctx, {
          training: parsed.overrides,
          tuning,
          wait: parsed.wait,
          ...(parsed.timeoutSeconds !== undefined ? { timeoutSeconds: parsed.timeoutSeconds } : {}),
          ...(parsed.budgetUsd !== undefined ? { budgetUsd: parsed.budgetUsd } : {}),
          ...(parsed.notify ? { notify: parsed.notify } : {}),
          decideInterrupt: parsed.interrupt('tuning job'),
        })
        ctx.ui.result(outcome, renderTuningResult)
      }),
    )
}
