import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { LambdaSchema } from '../config/sections/lambda.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { intOption, stringOption } from './options.js'

interface LambdaSetupFlags {
  readonly functionName?: string
  readonly memory?: string
  readonly timeout?: string
  readonly url?: boolean
  readonly public?: boolean
  /** commander sets false for --no-test. */
  readonly test?: boolean
}

/** The config's own fields (LambdaSchema), so a limit exists once. */
const FLAGS = {
  functionName: stringOption('--function-name', LambdaSchema.shape.functionName.unwrap(), { example: 'dogs-invoke' }),
  memory: intOption('--memory', LambdaSchema.shape.memoryMb.unwrap(), '512'),
  timeout: intOption('--timeout', LambdaSchema.shape.timeoutSeconds.unwrap(), '20'),
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('lambda-setup')
    .description('create or update the Lambda in front of the endpoint, least privilege, and test it')
    .option('--function-name <name>', 'function name (default: lambda.functionName or <project>-invoke)')
    .option('--memory <mb>', 'memory in MB, 128-10240 (default: lambda.memoryMb, 256)')
    .option('--timeout <s>', 'timeout in seconds, 1-900 (default: lambda.timeoutSeconds, 30)')
    .option('--url', 'add a function URL on the live alias, AWS_IAM auth (callers sign with SigV4 and need lambda:InvokeFunctionUrl and lambda:InvokeFunction)')
    .option('--public', 'with --url: no auth at all, anyone on the internet can call it (prints a warning)')
    .option('--no-test', 'skip the test invocation with the sample image at the end')
    .addHelpText(
      'after',
      `
What it does (re-runs change only what differs; unchanged code publishes no new version):
  role <project>-lambda  sagemaker:InvokeEndpoint on this endpoint + its own logs, nothing else
  function               Node.js handler, ENDPOINT_NAME from the config, version + alias "live"
  test                   invokes live with a sample dog photo and prints the top breeds

Examples:
  $ mlops lambda-setup
  $ mlops lambda-setup --memory 512 --timeout 20 --url
  $ mlops lambda-setup --dry-run            # every request, offline, no credentials
  $ mlops scale --lambda-reserved 5 --lambda-provisioned 2   # concurrency on the live alias`,
    )
    .action(
      action<LambdaSetupFlags>(deps, async (ctx, flags) => {
        const functionName = FLAGS.functionName(flags.functionName)
        const memoryMb = FLAGS.memory(flags.memory)
        const timeoutSeconds = FLAGS.timeout(flags.timeout)
        if (flags.public && !flags.url) {
          throw new UserError('ConflictingFlags', '--public only makes sense with --url.', {
            hint: 'Pass --url --public for a public function URL, or --url alone for one that requires IAM auth.',
          })
        }
        const { runLambdaSetup } = await import('../features/lambda/lambda-setup.js')
        const { renderLambdaSetup } = await import('../features/lambda/render.js')
        const outcome = await runLambdaSetup(ctx, {
          functionName,
          memoryMb,
          timeoutSeconds,
          url: flags.url ? true : undefined,
          public: flags.url ? Boolean(flags.public) : undefined,
          test: flags.test !== false,
        })
        ctx.ui.result(outcome, renderLambdaSetup)
      }),
    )
}
