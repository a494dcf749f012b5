import type { Command } from 'commander'
import { remoteConcurrencyField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { intOption } from './options.js'

/** The flags `evaluate` declares. */
export interface EvaluateFlags {
  readonly model?: string
  readonly split: string
  readonly output?: string
  readonly python?: string
  readonly local?: boolean
  readonly endpoint?: string | true
  readonly concurrency?: string
}

const FLAGS = { concurrency: intOption('--concurrency', remoteConcurrencyField, '8') }

export function register(program: Command, deps: Deps): Command {
  return program
    .command('evaluate')
    .description('per-class precision and recall, confusion matrix and worst files of a model on a labelled folder (locally or through the endpoint)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz, an s3:// model.tar.gz or a local job name (default: the latest trained model)')
    .option('--split <test|valid|folder>', 'data.localDir/test, data.localDir/valid, or any folder with one sub-folder per class', 'test')
    .option('-o, --output <file>', 'where evaluation.json goes (default: .mlops/evaluate/<model>-<split>.json)')
    .option('--local', 'run the model on this machine through the predictor (the default)')
    .option('--endpoint [name]', "send each image through the deployed endpoint instead (default name: the project's endpoint)")
    .option('--concurrency <n>', 'with --endpoint: requests in flight at once, 1-64 (default: 4)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .addHelpText(
      'after',
      `
Computes what \`train\` leaves in evaluation.json for the test split, for any model and folder: top-1
and top-5 accuracy, per-class precision, recall and support, the confusion matrix and the worst
classified files. It runs scripts/evaluation.py, the same code train.py runs, through the predictor
the endpoint serves (inference.predict_batch), so on the test split it reproduces the training
run's numbers; the output says by how many points they differ.

--endpoint sends every image of the split to the deployed endpoint (InvokeEndpoint, the request
\`mlops invoke\` sends, asking for every class), --concurrency at a time, and computes the same
evaluation.json from the answers. It says first how many requests it makes and what they cost: an
instance endpoint bills per hour whether called or not, a serverless one per request. Thumbnails of
the worst files are kept only for images under 48 KB (locally they are always made).

Examples:
  $ mlops evaluate                                   latest model, test split
  $ mlops evaluate --split valid --json
  $ mlops evaluate --endpoint --concurrency 8        the deployed model, test split
  $ mlops evaluate --model .mlops/local/<job>/model.tar.gz --split ./more-dogs`,
    )
    .action(
      action<EvaluateFlags>(deps, async (ctx, flags) => {
        const concurrency = FLAGS.concurrency(flags.concurrency)
        const { renderEvaluate } = await import('../features/evaluation/render.js')
        if (flags.endpoint !== undefined) {
          if (flags.local || flags.model !== undefined || flags.python !== undefined) {
            const which = flags.local ? '--local' : flags.model !== undefined ? '--model' : '--python'
            throw new UserError('ConflictingFlags', `--endpoint evaluates the deployed model; ${which} is for a local model.`, {
              hint: 'Leave out --endpoint to evaluate a model on this machine, or leave out ' + which + '.',
            })
          }
          const { runEvaluateRemote } = await import('../features/evaluation/evaluate-remote.js')
          const opts = { split: flags.split, endpoint: flags.endpoint, ...(flags.output !== undefined ? { output: flags.output } : {}) }
          ctx.ui.result(await runEvaluateRemote(ctx, { ...opts, ...(concurrency !== undefined ? { concurrency } : {}) }), renderEvaluate)
          return
        }
        if (concurrency !== undefined)
          throw new UserError('ConflictingFlags', '--concurrency only applies with --endpoint.', { hint: 'Add --endpoint, or leave out --concurrency.' })
        const { localModelRunner } = await import('../features/local/model-runner.js')
        const runner = () => localModelRunner(ctx, flags)
        const { runEvaluate } = await import('../features/evaluation/evaluate.js')
        ctx.ui.result(await runEvaluate(ctx, runner, { split: flags.split, ...(flags.output !== undefined ? { output: flags.output } : {}) }), renderEvaluate)
      }),
    )
}
