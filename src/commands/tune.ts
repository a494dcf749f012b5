import type { Command } from 'commander'
import { parseIntFlag, type Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { TuningStrategySchema } from '../config/sections/training.js'

type TuningStrategy = (typeof TuningStrategySchema.options)[number]
import { addTrainingFlags, parseTrainingFlags, type TrainFlags } from './train.js'

interface TuneFlags extends TrainFlags {
  readonly maxJobs?: string
  readonly maxParallel?: string
  readonly strategy?: string
}

/** `--strategy`, case-insensitive, checked by the config's own field (TuningStrategySchema), so the list exists once. */
function parseStrategyFlag(value: string): TuningStrategy {
  const options = TuningStrategySchema.options
  const parsed = TuningStrategySchema.safeParse(options.find((s) => s.toLowerCase() === value.toLowerCase()) ?? value)
  if (!parsed.success) {
    throw new UserError('InvalidFlag', `--strategy must be one of ${options.join(', ')}, got "${value}".`, { hint: 'For example: --strategy Bayesian' })
  }
  return parsed.data
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

The objective (training.tuning.objective.metric) is one of the metric lines train.py prints; its
direction follows the metric: accuracies are maximised, losses minimised. The best training job's
model is recorded for \`mlops deploy\`.`,
    )
    .action(
      action<TuneFlags>(deps, async (ctx, flags) => {
        const parsed = await parseTrainingFlags(ctx, flags)
        const strategy = flags.strategy === undefined ? undefined : parseStrategyFlag(flags.strategy)
        const tuning = {
          ...(flags.maxJobs !== undefined ? { maxJobs: parseIntFlag(flags.maxJobs, '--max-jobs', { min: 1, max: 500 }) } : {}),
          ...(flags.maxParallel !== undefined ? { maxParallelJobs: parseIntFlag(flags.maxParallel, '--max-parallel', { min: 1, max: 100 }) } : {}),
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
          decideInterrupt: parsed.interrupt('tuning job'),
        })
        ctx.ui.result(outcome, renderTuningResult)
      }),
    )
}
