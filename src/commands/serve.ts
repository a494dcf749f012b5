import type { Command } from 'commander'
import { portField, serveBodyBytesField, serveConcurrencyField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { intOption } from './options.js'

/** The flags `serve` declares. */
export interface ServeFlags {
  readonly model?: string
  readonly port?: string
  readonly python?: string
  readonly maxConcurrency?: string
  readonly maxBodyBytes?: string
}

const FLAGS = {
  port: intOption('--port', portField, '8080'),
  maxConcurrency: intOption('--max-concurrency', serveConcurrencyField, '4'),
  maxBodyBytes: intOption('--max-body-bytes', serveBodyBytesField, '6291456'),
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('serve')
    .description('serve a trained model on this machine with the SageMaker inference contract (foreground, Ctrl-C stops it)')
    .option('--model <path|job>', 'a model folder, a model.tar.gz or a local job name (default: the latest `train --local` model)')
    .option('--port <n>', 'port on 127.0.0.1 (default: 8080)')
    .option('--python <path>', 'the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .option('--max-concurrency <n>', 'requests handled at once; more are answered 503 (default: 4)')
    .option('--max-body-bytes <n>', 'largest request body; larger is answered 413 (default: 6291456, the InvokeEndpoint limit)')
    .addHelpText(
      'after',
      `
Routes: GET /ping (200 once the model is loaded), POST /invocations (the container's route) and
POST /endpoints/<name>/invocations (the SageMaker runtime API's), with the handler's content types,
Accept handling and error codes. One log line per request on stderr.

Examples:
  $ mlops train --local && mlops serve
  $ mlops serve --model .mlops/local/<job>/model.tar.gz --port 9000
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
          ...(flags.python !== undefined ? { python: flags.python } : {}),
          ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
          ...(maxBodyBytes !== undefined ? { maxBodyBytes } : {}),
        })
        ctx.ui.result(outcome, renderServe)
      }),
    )
}
