import type { Command } from 'commander'
import { parseIntFlag, type Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { addTrainingFlags, parseTrainingFlags, type TrainFlags } from './train.js'

interface TuneFlags extends TrainFlags {
  readonly maxJobs?: string
  readonly maxParallel?: string
  readonly strategy?: string
}

const STRATEGIES = ['Bayesian', 'Random', 'Hyperband', 'Grid'] as const

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

The objective (training.tuning.objective.metric) is one of the metric lines train.py prints; its
direction follows the metric: accuracies are maximised, losses minimised. The best training job's
model is recorded for \`mlops deploy\`.`,
    )
    .action(
      action<TuneFlags>(deps, async (ctx, flags) => {
        const parsed = await parseTrainingFlags(ctx, flags)
        let strategy: (typeof STRATEGIES)[number] | undefined
        if (flags.strategy !== undefined) {
          strategy = STRATEGIES.find((s) => s.toLowerCase() === flags.strategy!.toLowerCase())
          if (!strategy)
            throw new UserError('InvalidFlag', `--strategy must be one of ${STRATEGIES.join(', ')}, got "${flags.strategy}".`, {
              hint: 'For example: --strategy Bayesian',
            })
        }
        const tuning = {
          ...(flags.maxJobs !== undefined ? { maxJobs: parseIntFlag(flags.maxJobs, '--max-jobs', { min: 1, max: 500 }) } : {}),
          ...(flags.maxParallel !== undefined ? { maxParallelJobs: parseIntFlag(flags.maxParallel, '--max-parallel', { min: 1, max: 100 }) } : {}),
          ...(strategy ? { strategy } : {}),
        }
        const { runTune } = await import('../features/training/tune.js')
        const { renderTuningResult } = await import('../features/training/render.js')
        const { renderPlan } = await import('../shared/plan.js')
        const outcome = await runTune(ctx, {
          training: parsed.overrides,
          tuning,
          wait: parsed.wait,
          ...(parsed.timeoutSeconds !== undefined ? { timeoutSeconds: parsed.timeoutSeconds } : {}),
          decideInterrupt: parsed.interrupt('tuning job'),
        })
        if (outcome.kind === 'dry-run') ctx.ui.resultData(outcome.result, (_r, c) => renderPlan('mlops tune', outcome.plan, c, outcome.notes))
        else ctx.ui.resultData(outcome.result, (r, c) => renderTuningResult(r, c))
      }),
    )
}
