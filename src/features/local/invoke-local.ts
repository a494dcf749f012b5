import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { createAwsClientFactory, type AwsClientFactory, type AwsClients, type AwsSettings } from '../../aws/clients.js'
import { CommandContext } from '../../context.js'
import { resourceNames } from '../../shared/naming.js'

/**
 * `mlops invoke --local`: the same invoke as against AWS, with two clients swapped. The SageMaker
 * runtime client is pointed at `mlops serve` (it sends InvokeEndpoint to
 * POST /endpoints/<name>/invocations, as it would to AWS); with `--lambda`, the Lambda client runs
 * the bundled handler (src/lambda-runtime/handler.ts, what `lambda-setup` deploys) in this
 * process, with the function's environment and that same runtime client. So the request shaping,
 * the handler's validation and error paths, and the answer parsing are all the real ones.
 */

export interface LocalInvokeOptions {
  /** Port of `mlops serve`. @default 8080 */
  readonly port: number
}

/** Credentials are required to sign requests; the local server ignores them. */
const LOCAL_CREDENTIALS = { accessKeyId: 'mlops-local', secretAccessKey: 'mlops-local' }

/** The Lambda client's one call, answered by the in-process handler. */
function inProcessLambda(env: Record<string, string>, runtime: () => Promise<AwsClients['sagemakerRuntime']>, log: (line: string) => void): LambdaClient {
  let handler: ((event: unknown, context?: { awsRequestId?: string }) => Promise<unknown>) | undefined
  const send = async (command: InvokeCommand) => {
    if (!handler) {
      const { createHandler } = await import('../../lambda-runtime/handler.js')
      const client = await runtime()
      handler = createHandler({ env, client: () => client, log })
    }
    const payload = command.input.Payload ? Buffer.from(command.input.Payload as Uint8Array).toString('utf8') : '{}'
    const answer = await handler(JSON.parse(payload), { awsRequestId: 'local' })
    return { StatusCode: 200, ExecutedVersion: 'local', Payload: new TextEncoder().encode(JSON.stringify(answer)) }
  }
  return { send } as unknown as LambdaClient
}

/** A context like `ctx` whose AWS clients reach the local server (and the local Lambda handler). */
export async function localInvokeContext(ctx: CommandContext, opts: LocalInvokeOptions): Promise<CommandContext> {
  const cfg = await ctx.config()
  const names = resourceNames(cfg)
  const endpointUrl = `http://127.0.0.1:${opts.port}`
  const awsFactory = (settings: AwsSettings): AwsClientFactory => {
    const remote = createAwsClientFactory({ ...settings, endpointUrl, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 })
    const runtime = async () => (await remote(['sagemakerRuntime'])).sagemakerRuntime
    const lambdaEnv = { ENDPOINT_NAME: names.endpoint, TOP_K: String(cfg.lambda.topK), MAX_BODY_BYTES: String(cfg.lambda.maxBodyBytes) }
    const lambda = inProcessLambda(lambdaEnv, runtime, (line) => ctx.ui.info(`[lambda] ${line}`))
    return (async (wanted: readonly (keyof AwsClients)[]) => {
      const out: Partial<AwsClients> = {}
      for (const name of wanted) {
        if (name === 'lambda') out.lambda = lambda
        else if (name === 'sagemakerRuntime') out.sagemakerRuntime = await runtime()
        else throw new Error(`internal: invoke --local asked for the ${name} client`)
      }
      return out
    }) as AwsClientFactory
  }
  return new CommandContext({ ...ctx.deps, awsFactory }, ctx.globals)
}
