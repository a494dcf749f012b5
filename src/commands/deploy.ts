import type { Command } from 'commander'
import { SAGEMAKER_INSTANCE_TYPE_PATTERN } from '../config/common.js'
import { EndpointSchema, SERVERLESS_MEMORY_SIZES } from '../config/sections/endpoint.js'
import { parseDurationFlag, parseIntFlag, type Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { parseIntFlagBySchema } from './flag-schema.js'

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
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('deploy')
    .description('create or update the real-time endpoint and smoke-test it')
    .option('--model <s3-uri|job>', 'model.tar.gz S3 URI, or a training or tuning job name (default: the latest trained model)')
    .option('--instance-type <type>', 'endpoint instance type (default: endpoint.instanceType, ml.m5.large)')
    .option('--instance-count <n>', 'instances behind the endpoint (default: endpoint.instanceCount, 1)')
    .option('--serverless', 'serverless inference: billed per request, nothing when idle (cold starts of a few seconds)')
    .option('--memory <mb>', 'serverless memory: 1024, 2048, 3072, 4096, 5120 or 6144 (default: 2048)')
    .option('--max-concurrency <n>', 'serverless concurrent invocations, 1-200 (default: 5)')
    .option('--no-smoke-test', 'skip invoking the new endpoint with the sample image')
    .option('--rollback-on-failure', 'if the smoke test fails, put the endpoint back on the previous config')
    .option('--timeout <duration>', 'longest to wait for InService, e.g. 20m (default: endpoint.waitTimeout, 30m)')
    .option('--idle-stop <duration>', 'delete the endpoint after this long without an invocation, 5m-24h (config and model stay; default: endpoint.idleStop)')
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
  $ mlops deploy --serverless --memory 4096 --max-concurrency 10
  $ mlops deploy --dry-run                         every request, nothing sent`,
    )
    .action(
      action<DeployFlags>(deps, async (ctx, flags) => {
        const { runDeploy } = await import('../features/deploy/run.js')
        const { renderDeploy } = await import('../features/deploy/render.js')
        ctx.ui.result(await runDeploy(ctx, parseDeployFlags(flags)), renderDeploy)
      }),
    )
}

/** Flag values checked before any AWS call (UserError naming the flag, exit 2). */
export function parseDeployFlags(opts: DeployFlags) {
  if (opts.model !== undefined) {
    const m = opts.model.trim()
    const s3 = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/.+/.test(m)
    const job = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(m)
    if (!s3 && !job) {
      throw new UserError('InvalidFlag', `--model must be an s3:// URI of a model.tar.gz or a training job name, got "${opts.model}".`, {
        hint: 'For example: --model s3://my-bucket/output/dogs-train-…/output/model.tar.gz, or --model dogs-train-2026-11-22-10-30-05-123',
      })
    }
  }
  if (opts.instanceType !== undefined && !SAGEMAKER_INSTANCE_TYPE_PATTERN.test(opts.instanceType)) {
    throw new UserError('InvalidFlag', `--instance-type must be a SageMaker instance type such as ml.m5.large, got "${opts.instanceType}".`, {
      hint: "Endpoint instance types start with 'ml.' (ml.m5.large, ml.c5.xlarge, ml.g4dn.xlarge).",
    })
  }
  // The config's own rule for endpoint.serverless.memoryMb, so it exists once.
  const memoryMb = parseIntFlagBySchema(
    opts.memory,
    '--memory',
    EndpointSchema.shape.serverless.unwrap().shape.memoryMb.unwrap(),
    (v) => `--memory must be one of ${SERVERLESS_MEMORY_SIZES.join(', ')} (MB), got ${v}.`,
  )
  const timeoutSeconds = opts.timeout === undefined ? undefined : parseDurationFlag(opts.timeout, '--timeout', '20m')
  const idleStop = opts.idleStop === undefined ? undefined : EndpointSchema.shape.idleStop.safeParse(opts.idleStop)
  if (idleStop && !idleStop.success) {
    throw new UserError('InvalidFlag', `--idle-stop: ${idleStop.error.issues[0]?.message ?? 'invalid'}, got "${opts.idleStop}".`, {
      hint: 'For example: --idle-stop 2h',
    })
  }
  return {
    ...(opts.model !== undefined ? { model: opts.model.trim() } : {}),
    ...(opts.instanceType !== undefined ? { instanceType: opts.instanceType } : {}),
    ...(opts.instanceCount !== undefined ? { instanceCount: parseIntFlag(opts.instanceCount, '--instance-count', { min: 1, max: 100 }) } : {}),
    ...(opts.serverless ? { serverless: true } : {}),
    ...(memoryMb !== undefined ? { memoryMb } : {}),
    ...(opts.maxConcurrency !== undefined ? { maxConcurrency: parseIntFlag(opts.maxConcurrency, '--max-concurrency', { min: 1, max: 200 }) } : {}),
    smokeTest: opts.smokeTest !== false,
    rollbackOnFailure: Boolean(opts.rollbackOnFailure),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(idleStop?.data !== undefined ? { idleStopSeconds: idleStop.data } : {}),
  }
}
