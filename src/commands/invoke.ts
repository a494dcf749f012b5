import type { Command } from 'commander'
import { parseIntFlag, type Deps } from '../context.js'
import { action } from './action.js'

interface InvokeCliOptions {
  readonly top?: string
  readonly lambda?: boolean
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('invoke')
    .description('send an image to the endpoint (or the Lambda) and print the top breeds')
    .argument('<image>', 'a local JPEG/PNG file (at most 6 MB) or an https:// URL the endpoint fetches')
    .option('--top <k>', 'how many breeds to print, 1-133 (default: 3)')
    .option('--lambda', 'go through the Lambda function (alias live) instead of calling the endpoint directly')
    .addHelpText(
      'after',
      `
Prints the top-k breeds with probabilities and the round-trip latency (--json for one document).

Examples:
  $ mlops invoke dogImages/test/001.Affenpinscher/Affenpinscher_00003.jpg
  $ mlops invoke https://example.com/dog.jpg --top 5
  $ mlops invoke my-dog.png --lambda --json`,
    )
    .action(
      action<InvokeCliOptions>(deps, async (ctx, opts, args) => {
        const top = opts.top === undefined ? undefined : parseIntFlag(opts.top, '--top', { min: 1, max: 133 })
        const { runInvoke } = await import('../features/deploy/invoke.js')
        const { renderInvoke } = await import('../features/deploy/render.js')
        const result = await runInvoke(ctx, { input: args[0], ...(top !== undefined ? { top } : {}), lambda: Boolean(opts.lambda) })
        ctx.ui.result(result, renderInvoke)
      }),
    )
}
