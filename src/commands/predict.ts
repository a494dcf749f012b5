import type { Command } from 'commander'
import { LambdaSchema } from '../config/sections/lambda.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { intOption } from './options.js'

/** The flags `predict` declares. */
export interface PredictFlags {
  readonly model?: string
  readonly output: string
  readonly top?: string
  readonly python?: string
  readonly local?: boolean
}

/** --top is the same concept as lambda.topK (breeds per answer), so it takes that field. */
const FLAGS = { top: intOption('--top', LambdaSchema.shape.topK.unwrap(), '5') }

export function register(program: Command, deps: Deps): Command {
  return program
    .command('predict')
    .description('predict every image in a folder (top-k per file to CSV or JSONL), resumable, with per-class accuracy for labelled folders')
    .argument('<folder>', 'a folder of images; with one sub-folder per class it is labelled and accuracy is reported')
    .option('-o, --output <file>', 'predictions.csv or predictions.jsonl (rows are appended as they are done)', 'predictions.csv')
    .option('--top <k>', 'classes per file, 1-133 (default: 5)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz, an s3:// model.tar.gz or a local job name (default: the latest trained model)')
    .option('--local', 'run the model on this machine through the predictor (the default, and for now the only way)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .addHelpText(
      'after',
      `
Every image goes through the predictor the endpoint serves (scripts/inference.py predict_batch), in
batches, with progress and the time left on stderr. Rows are appended to --output as they are done,
so Ctrl-C keeps what finished and running the same command again skips the files already in the
file (resume). An unreadable file is a row with an error, not a failed run.

CSV columns: file, true_label, label_1, probability_1, ... label_K, probability_K, error.
JSONL: {"file", "label", "predictions": [{"label", "index", "probability"}]} per line.

Not offered: --batch-transform. Batch Transform runs the serving image as \`docker run <image> serve\`
and sends each S3 object to POST /invocations on :8080 after GET /ping. The project's image, AWS's
Ray Serve SageMaker image (ray:serve-ml-sagemaker-*), has an adapter on :8080 with those two routes,
but AWS documents and tests it for real-time endpoints only (the release notes name no Batch
Transform, nor the \`serve\` argument or SAGEMAKER_BATCH), and no emulator runs the container, so
mlops cannot test that path and does not offer it. Not yet: --endpoint, --lambda, s3:// prefixes.

Examples:
  $ mlops predict dogImages/test                     labelled: per-class accuracy at the end
  $ mlops predict ~/photos -o photos.jsonl --top 3
  $ mlops predict ~/photos -o photos.jsonl --top 3   (again after Ctrl-C: resumes)`,
    )
    .action(
      action<PredictFlags>(deps, async (ctx, flags, args) => {
        const topK = FLAGS.top(flags.top) ?? 5
        const { localModelRunner } = await import('../features/local/model-runner.js')
        const runner = () => localModelRunner(ctx, flags)
        const { runPredict } = await import('../features/evaluation/predict.js')
        const { renderPredict } = await import('../features/evaluation/render.js')
        ctx.ui.result(await runPredict(ctx, runner, { input: args[0], output: flags.output, topK }), renderPredict)
      }),
    )
}
