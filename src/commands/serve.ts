import type { Command } from 'commander'
import { portField, serveBodyBytesField, serveConcurrencyField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { intOption } from './options.js'

/** The flags `serve` declares. */
export interface ServeFlags {
  readonly model?: string
  readonly sagemakerModel?: boolean
  readonly trustArchiveCode?: boolean
  readonly port?: string
  readonly python?: string
  readonly maxConcurrency?: string
  readonly maxBodyBytes?: string
}

const FLAGS = {
  port: intOption('--port', portField, '8080'),
  maxConcurrency: intOption('--max-concurrency', serveConcurrencyField, '16'),
  maxBodyBytes: intOption('--max-body-bytes', serveBodyBytesField, '6291456'),
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('serve')
    .description('serve a trained model on this machine with the SageMaker inference contract (foreground, Ctrl-C stops it)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz, a local job name or an s3:// model.tar.gz (default: the newest `train --local` model)')
    .option('--sagemaker-model', 'serve the newest SageMaker-trained model the state file records instead (downloads it from S3; needs AWS)')
    .option('--trust-archive-code', "run the model's own deployment.py instead of the project's predictor (only for a model you trust)")
    .option('--port <n>', 'port on 127.0.0.1 (default: 8080)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .option(
      '--max-concurrency <n>',
      'requests handled at once; more are answered 503 (default: two batches, 2 x endpoint.batching.maxBatchSize and at least 5, as a deployed replica takes: 16 with the default batching)',
    )
    .option('--max-body-bytes <n>', 'largest request body; larger is answered 413 (default: 6291456, the InvokeEndpoint limit)')
    .addHelpText(
      'after',
      `
Routes: GET /ping (200 once the model is loaded), POST /invocations (the container's route) and
POST /endpoints/<name>/invocations (the SageMaker runtime API's), with the handler's content types,
Accept handling and error codes. One log line per request on stderr.

Which model: --model when given; else the newest local model (no AWS call); --sagemaker-model for
the newest SageMaker-trained one. The first stderr line (and --json's "choice" and "reason") says
which and why. The predictor is the project's (training.sourceDir's endpoint.entryPoint, as deploy
packs it), else the bundled one: the Python inside a model archive runs only with --trust-archive-code.

Examples:
  $ mlops train --local && mlops serve
  $ mlops serve --model .mlops/local/<job>/model.tar.gz --port 9000
  $ mlops serve --sagemaker-model                (the newest model trained on SageMaker)
  $ mlops invoke dog.jpg --local                 (in another terminal)`,
    )
    .action(
      action<ServeFlags>(deps, async (ctx, flags) => {
        const port = FLAGS.port(flags.port) ?? 8080
        const maxConcurrency = FLAGS.maxConcurrency(flags.maxConcurrency)
        const maxBodyBytes = FLAGS.maxBodyBytes(flags.maxBodyBytes)
        const { runServe } = await import('../features/local/serve.js')
        const { renderServe } = await import('../features/local/render.js')
        const outcome = await runServe(ctx, {
          port,
          ...(flags.model !== undefined ? { model: flags.model } : {}),
          ...(flags.sagemakerModel ? { sagemakerModel: true } : {}),
          ...(flags.trustArchiveCode ? { trustArchiveCode: true } : {}),
          ...(flags.python !== undefined ? { python: flags.python } : {}),
          ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
          ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
        })
        ctx.ui.result(outcome, renderServe)
      }),
    )
}
