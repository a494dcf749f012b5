import type { Command } from 'commander'
import { modelRefField } from '../config/flag-fields.js'
import { EndpointSchema } from '../config/sections/endpoint.js'
import type { Deps } from '../context.js'
import { action } from './action.js'
import { durationOption, intOption, notifyOption, stringOption } from './options.js'
import { NotifyDestinationSchema } from '../config/sections/notify.js'

interface DeployFlags {
  readonly model?: string
  readonly instanceType?: string
  readonly instanceCount?: string
  readonly serverless?: boolean
  readonly memory?: string
  readonly maxConcurrency?: string
  /** commander sets false for --no-smoke-test. */
  readonly smokeTest: boolean
  readonly rollbackOnFailure?: boolean
  readonly timeout?: string
  readonly idleStop?: string
  readonly notify?: string[]
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('deploy')
    .description('create or update the real-time endpoint and smoke-test it')
    .option(
      '--model <s3-uri|job|path>',
      'model.tar.gz S3 URI, a training or tuning job name, or a model trained here: a local run (name or .mlops/local/<job>) or a model.tar.gz file (default: the latest model trained on AWS)',
    )
    .option('--instance-type <type>', 'endpoint instance type (default: endpoint.instanceType, ml.m5.large)')
    .option('--instance-count <n>', 'instances behind the endpoint (default: endpoint.instanceCount, 1)')
    .option('--serverless', 'serverless inference: billed per request, nothing when idle (cold starts of a few seconds)')
    .option('--memory <mb>', 'serverless memory: 1024, 2048, 3072, 4096, 5120 or 6144 (default: 2048)')
    .option('--max-concurrency <n>', 'serverless concurrent invocations, 1-200 (default: 5)')
    .option('--no-smoke-test', 'skip invoking the new endpoint with the sample image')
    .option('--rollback-on-failure', 'if the smoke test fails, put the endpoint back on the previous config')
    .option('--timeout <duration>', 'longest to wait for InService, e.g. 20m (default: endpoint.waitTimeout, 30m)')
    .option('--idle-stop <duration>', 'delete the endpoint after this long without an invocation, 5m-24h (config and model stay; default: endpoint.idleStop)')
    .option(
      '--notify <dest>',
      "tell this e-mail address, SNS topic ARN or https webhook URL when the endpoint's status settles (InService, Failed); repeatable (overrides notify: in the config)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      `
The trained model.tar.gz is repacked for the Ray Serve SageMaker image: the predictor
(endpoint.entryPoint, deployment.py, and the modules it imports) and config.yaml (the Ray Serve app,
endpoint.replicas and endpoint.batching) at its root, uploaded content-addressed. Each deploy makes a new
model and endpoint config; an existing endpoint is updated blue/green (SageMaker keeps the old
version serving until the new one is healthy, and rolls back on failure, which exits 1). The two
previous configs stay for rollback (endpoint.keepVersions); older ones are deleted after success.

An endpoint with instances bills every hour until \`mlops teardown\`; --serverless bills per request.

Examples:
  $ mlops deploy                                   latest trained model, endpoint.* from the config
  $ mlops deploy --model dogs-train-2026-11-22-10-30-05-123 --instance-type ml.c5.xlarge
  $ mlops deploy --model s3://my-bucket/output/job/output/model.tar.gz --rollback-on-failure
  $ mlops deploy --model dogs-local-2026-12-07-10-30-05-123   a run of \`mlops train --local\` (or its folder)
  $ mlops deploy --model ./model.tar.gz             a model.tar.gz on this machine, uploaded content-addressed
  $ mlops deploy --serverless --memory 4096 --max-concurrency 10
  $ mlops deploy --dry-run                         every request, nothing sent
  $ mlops deploy --notify ops@example.com          e-mail when the endpoint is InService or Failed`,
    )
    .action(
      action<DeployFlags>(deps, async (ctx, flags) => {
        const { runDeploy } = await import('../features/deploy/deploy.js')
        const { renderDeploy } = await import('../features/deploy/render.js')
        ctx.ui.result(await runDeploy(ctx, parseDeployFlags(flags)), renderDeploy)
      }),
    )
}

/** Each flag checked by the config field it overrides (or its flag-only field), before any AWS call. */
const serverless = EndpointSchema.shape.serverless.unwrap().shape
const FLAGS = {
  model: stringOption('--model', modelRefField, { example: 's3://my-bucket/output/dogs-train-…/output/model.tar.gz' }),
  instanceType: stringOption('--instance-type', EndpointSchema.shape.instanceType.unwrap(), { example: 'ml.c5.xlarge' }),
  instanceCount: intOption('--instance-count', EndpointSchema.shape.instanceCount.unwrap(), '2'),
  memory: intOption('--memory', serverless.memoryMb.unwrap(), '4096'),
  maxConcurrency: intOption('--max-concurrency', serverless.maxConcurrency.unwrap(), '10'),
  timeout: durationOption('--timeout', EndpointSchema.shape.waitTimeout.unwrap(), '20m'),
  idleStop: durationOption('--idle-stop', EndpointSchema.shape.idleStop.unwrap(), '2h'),
  notify: notifyOption(NotifyDestinationSchema),
}

/** Flag values checked before any AWS call (UserError naming the flag, exit 2). */
export function parseDeployFlags(opts: DeployFlags) {
  const model = FLAGS.model(opts.model)
  const instanceType = FLAGS.instanceType(opts.instanceType)
  const instanceCount = FLAGS.instanceCount(opts.instanceCount)
  const memoryMb = FLAGS.memory(opts.memory)
  const maxConcurrency = FLAGS.maxConcurrency(opts.maxConcurrency)
  const timeoutSeconds = FLAGS.timeout(opts.timeout)
  const idleStopSeconds = FLAGS.idleStop(opts.idleStop)
  const notify = opts.notify?.map((d) => FLAGS.notify(d))
  return {
    ...(model !== undefined ? { model } : {}),
    ...(instanceType !== undefined ? { instanceType } : {}),
    ...(instanceCount !== undefined ? { instanceCount } : {}),
    ...(opts.serverless ? { serverless: true } : {}),
    ...(memoryMb !== undefined ? { memoryMb } : {}),
    ...(maxConcurrency !== undefined ? { maxConcurrency } : {}),
    smokeTest: opts.smokeTest !== false,
    rollbackOnFailure: Boolean(opts.rollbackOnFailure),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(idleStopSeconds !== undefined ? { idleStopSeconds } : {}),
    ...(notify ? { notify } : {}),
  }
}
