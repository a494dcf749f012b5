import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

/** The flags `evaluate` declares. */
export interface EvaluateFlags {
  readonly model?: string
  readonly split: string
  readonly output?: string
  readonly python?: string
  readonly local?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('evaluate')
    .description('per-class precision and recall, confusion matrix and worst files of a model on a labelled folder (locally)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz, an s3:// model.tar.gz or a local job name (default: the latest trained model)')
    .option('--split <test|valid|folder>', 'data.localDir/test, data.localDir/valid, or any folder with one sub-folder per class', 'test')
    .option('-o, --output <file>', 'where evaluation.json goes (default: .mlops/evaluate/<model>-<split>.json)')
    .option('--local', 'run the model on this machine through the predictor (the default, and for now the only way)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .addHelpText(
      'after',
      `
Computes what \`train\` leaves in evaluation.json for the test split, for any model and folder: top-1
and top-5 accuracy, per-class precision, recall and support, the confusion matrix and the worst
classified files. It runs scripts/evaluation.py, the same code train.py runs, through the predictor
the endpoint serves (inference.predict_batch), so on the test split it reproduces the training
run's numbers; the output says by how many points they differ.

Not yet: --endpoint (through the deployed endpoint, billed per invocation). Until then, evaluate a
deployed model's archive locally: mlops evaluate --model s3://<bucket>/.../model.tar.gz

Examples:
  $ mlops evaluate                                   latest model, test split
  $ mlops evaluate --split valid --json
  $ mlops evaluate --model .mlops/local/<job>/model.tar.gz --split ./more-dogs`,
    )
    .action(
      action<EvaluateFlags>(deps, async (ctx, flags) => {
        const { localModelRunner } = await import('../features/local/model-runner.js')
        const runner = () => localModelRunner(ctx, flags)
        const { runEvaluate } = await import('../features/evaluation/evaluate.js')
        const { renderEvaluate } = await import('../features/evaluation/render.js')
        ctx.ui.result(await runEvaluate(ctx, runner, { split: flags.split, ...(flags.output !== undefined ? { output: flags.output } : {}) }), renderEvaluate)
      }),
    )
}
