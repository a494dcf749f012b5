import type { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { createAwsClientFactory, type AwsClientFactory, type AwsClients, type AwsSettings } from '../../aws/clients.js'
import { CommandContext } from '../../context.js'
import { resourceNames } from '../../shared/naming.js'
import { MlopsError, OperationError, UserError } from '../../shared/errors.js'

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

/**
 * Before `invoke --local` sends anything: is `mlops serve` listening? A refused connection is the
 * one thing a newcomer hits first, and the AWS-shaped "could not reach the endpoint, check --region"
 * would send them to the wrong place (issue 31 item 6).
 */
export async function checkLocalServer(port: number, timeoutMs = 2000): Promise<void> {
  const { connect } = await import('node:net')
  const reachable = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port })
    const finish = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => finish(false))
    socket.once('connect', () => finish(true))
    socket.once('error', () => finish(false))
  })
  if (!reachable) throw localServerDown(port)
}

function localServerDown(port: number, cause?: unknown): OperationError {
  return new OperationError('LocalServerNotRunning', `Nothing answers on http://127.0.0.1:${port}: \`mlops serve\` is not running there.`, {
    hint: `Start it in another terminal with \`mlops serve${port === 8080 ? '' : ` --port ${port}`}\`, wait for its "Serving" line, then run this again (\`--port\` must match on both).`,
    ...(cause ? { cause } : {}),
  })
}

/**
 * The errors `invoke` raises against AWS, with hints for this machine: the predictor's traceback is
 * in `mlops serve`'s terminal, not in CloudWatch, and there is no region or endpoint URL to check.
 * Anything else passes through unchanged.
 */
export function localizeInvokeError(err: unknown, port: number): unknown {
  if (!(err instanceof MlopsError)) return err
  const serveHint = `\`mlops serve\` (port ${port}) prints each request and the predictor's traceback in its terminal: look there, fix the model or the image, and run this again.`
  switch (err.code) {
    case 'Unreachable':
      return localServerDown(port, err)
    case 'InvocationFailed':
    case 'BadInferenceResponse':
      return new OperationError(err.code, err.message.replace(/^(Lambda [^ ]+|Endpoint [^ ]+)/, '$1 (local)'), {
        hint: /^Lambda /.test(err.message) ? `The bundled Lambda handler ran in this process: its [lambda] line above has the detail. ${serveHint}` : serveHint,
        cause: err,
        ...(err.details ? { details: err.details } : {}),
      })
    case 'EndpointNotFound':
      return new UserError(err.code, `${err.message.replace(/ \(in this account and region\)/, '')} on http://127.0.0.1:${port}.`, {
        hint: `Is \`mlops serve\` on port ${port} running for this project (the endpoint name comes from project.name)? Start it from this project's folder.`,
        cause: err,
      })
    default:
      return err
  }
}
