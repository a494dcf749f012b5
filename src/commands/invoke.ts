import type { Command } from 'commander'
import { portField } from '../config/flag-fields.js'
import { LambdaSchema } from '../config/sections/lambda.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { intOption } from './options.js'

interface InvokeCliOptions {
  readonly top?: string
  readonly lambda?: boolean
  readonly local?: boolean
  readonly port?: string
}

/** --top is the same concept as lambda.topK (breeds per answer), so it takes that field. */
const FLAGS = {
  top: intOption('--top', LambdaSchema.shape.topK.unwrap(), '5'),
  port: intOption('--port', portField, '8080'),
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('invoke')
    .description('send an image to the endpoint (or the Lambda) and print the top breeds')
    .argument('<image>', 'a local JPEG/PNG file (at most 6 MB) or an https:// URL the endpoint fetches')
    .option('--top <k>', 'how many breeds to print, 1-133 (default: 3)')
    .option('--lambda', 'go through the Lambda function (alias live) instead of calling the endpoint directly')
    .option('--local', 'call `mlops serve` on this machine (with --lambda: run the bundled Lambda handler here against it)')
    .option('--port <n>', 'with --local: the port `mlops serve` listens on (default: 8080)')
    .addHelpText(
      'after',
      `
Prints the top-k breeds with probabilities and the round-trip latency (--json for one document).

Examples:
  $ mlops invoke dogImages/test/001.Affenpinscher/Affenpinscher_00003.jpg
  $ mlops invoke https://example.com/dog.jpg --top 5
  $ mlops invoke my-dog.png --lambda --json
  $ mlops invoke my-dog.png --local --lambda    the Lambda handler, in this process, against mlops serve`,
    )
    .action(
      action<InvokeCliOptions>(deps, async (ctx, opts, args) => {
        const top = FLAGS.top(opts.top)
        if (opts.port !== undefined && !opts.local)
          throw new UserError('ConflictingFlags', '--port only applies with --local.', { hint: 'Add --local, or leave out --port.' })
        const port = FLAGS.port(opts.port) ?? 8080
        const { runInvoke } = await import('../features/deploy/invoke.js')
        const { renderInvoke } = await import('../features/deploy/render.js')
        const invoke = { input: args[0], ...(top !== undefined ? { top } : {}), lambda: Boolean(opts.lambda) }
        if (!opts.local) return ctx.ui.result(await runInvoke(ctx, invoke), renderInvoke)
        // On this machine: mlops serve's hints, never the region, --endpoint-url or CloudWatch (issue 31 item 6).
        const local = await import('../features/local/invoke-local.js')
        const target = await local.localInvokeContext(ctx, { port })
        if (!ctx.dryRun) await local.checkLocalServer(port)
        const result = await runInvoke(target, invoke).catch((e: unknown) => {
          throw local.localizeInvokeError(e, port)
        })
        target.ui.result(result, renderInvoke)
      }),
    )
}
