import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError } from '../../shared/errors.js'
import { endpointKind, type EndpointKind } from '../../shared/endpoint-limits.js'
import { formatBytes } from '../../shared/output.js'
import { projectTagMap, resourceNames } from '../../shared/naming.js'
import { PLACEHOLDER } from '../../shared/plan.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { lambdaRoleArn, lambdaRoleSpec } from '../../shared/roles/lambda-role.js'
import type { RoleTarget } from '../../shared/roles/policy.js'
import { partitionOf } from '../../aws/arn.js'
import { lambdaFunctionConsoleUrl, lambdaLogsConsoleUrl } from '../../aws/console-links.js'
import { getAccountId } from '../../aws/sts/account.js'
import { ensureRole, type EnsureRoleResult } from '../../aws/iam/roles.js'
import { describeEndpoint } from '../../aws/sagemaker/endpoint-lifecycle.js'
import { ensureFunction, type EnsureFunctionResult, type FunctionSpec } from '../../aws/lambda/function.js'
import { ensureFunctionLogGroup } from '../../aws/logs/lambda-logs.js'
import { runSmokeTest } from '../../aws/lambda/smoke.js'
import { ensureFunctionUrl, getFunctionUrl } from '../../aws/lambda/url.js'
import { buildFunctionPackage, loadSampleImage, type FunctionPackage } from './bundle.js'
import { functionSpec, planLambdaSetup, resolveLambdaRuntime } from './plan.js'
import type { LambdaSetupPlanDetails, LambdaSetupResult } from './types.js'

/**
 * `mlops lambda-setup`: role, log group, function (create or converge), version + `live` alias,
 * optional function URL, and a test invocation through the endpoint.
 */

export interface LambdaSetupOptions {
  readonly functionName?: string
  readonly memoryMb?: number
  readonly timeoutSeconds?: number
  /** Manage a function URL (--url); undefined: lambda.url.enabled from the config. */
  readonly url?: boolean
  /** AuthType NONE (--public); undefined: lambda.url.public from the config. */
  readonly public?: boolean
  /** Run the test invocation at the end. @default true */
  readonly test?: boolean
}

/** Flags over config. */
export function mergeLambdaOptions(cfg: MlopsConfig, opts: LambdaSetupOptions): MlopsConfig {
  return {
    ...cfg,
    lambda: {
      ...cfg.lambda,
      functionName: opts.functionName ?? cfg.lambda.functionName,
      memoryMb: opts.memoryMb ?? cfg.lambda.memoryMb,
      timeoutSeconds: opts.timeoutSeconds ?? cfg.lambda.timeoutSeconds,
    },
  }
}

const PUBLIC_WARNING = (fn: string) =>
  `The function URL of ${fn} is PUBLIC (AuthType NONE): anyone on the internet can call it, and every call runs ` +
  'the endpoint you pay for. Re-run with --url but without --public to require IAM (SigV4) auth.'

/** What one run decided before any AWS call. */
interface SetupInputs {
  readonly cfg: MlopsConfig
  readonly names: ReturnType<typeof resourceNames>
  readonly region: string
  readonly wantUrl: boolean
  readonly wantPublic: boolean
  readonly runTest: boolean
  readonly runtime: string
  readonly endpointKind: EndpointKind
  readonly pkg: FunctionPackage
  readonly sample: { readonly bytes: Buffer; readonly source: string }
}

export async function runLambdaSetup(ctx: CommandContext, opts: LambdaSetupOptions): Promise<Outcome<LambdaSetupResult, LambdaSetupPlanDetails>> {
  const cfg = mergeLambdaOptions(await ctx.config(), opts)
  const wantUrl = opts.url ?? cfg.lambda.url?.enabled ?? false
  const runtime = resolveLambdaRuntime(cfg, ctx.clock.now())
  const inputs: SetupInputs = {
    cfg,
    names: resourceNames(cfg),
    region: ctx.awsSettings(cfg).region,
    wantUrl,
    wantPublic: wantUrl && (opts.public ?? cfg.lambda.url?.public ?? false),
    runTest: opts.test !== false,
    runtime,
    endpointKind: await endpointKind(cfg, resourceNames(cfg).endpoint, ctx.state()),
    pkg: await buildFunctionPackage(runtime),
    sample: await loadSampleImage(),
  }
  if (inputs.wantPublic) ctx.ui.warn(PUBLIC_WARNING(inputs.names.lambdaFunction))
  const plan = planSetup(inputs)
  const withPreflight = { ...plan, operations: [...ctx.preflightPlan([]), ...plan.operations] }
  if (ctx.dryRun) return planned(withPreflight)
  // The caller's permissions for every request of the plan, before the question and any write.
  await ctx.preflight('lambda-setup', { quotas: [], operations: withPreflight.operations }, cfg)
  // A public URL lets anyone run the endpoint you pay for: asked before anything, unless --yes.
  if (inputs.wantPublic && !(await ctx.ui.confirm(`Make the function URL of ${inputs.names.lambdaFunction}:${inputs.names.lambdaAlias} public (no auth)?`))) {
    throw new AbortError()
  }

  const { iam, lambda, sts, sagemaker, logs } = await ctx.clients(['iam', 'lambda', 'sts', 'sagemaker', 'logs'], cfg)
  const scope = scopeOf(await getAccountId(sts), inputs.region)
  const endpoint = await describeEndpoint(sagemaker, inputs.names.endpoint)
  const endpointStatus = endpoint ? (endpoint.EndpointStatus ?? 'Unknown') : undefined
  if (!endpointStatus) {
    ctx.ui.warn(`Endpoint ${inputs.names.endpoint} does not exist yet: the function will answer 502 until \`mlops deploy\` creates it.`)
  }
  const role = await setUpRole(ctx, inputs, iam, scope)
  await ensureFunctionLogGroup(logs, inputs.names.lambdaFunction, cfg.lambda.logRetentionDays, projectTagMap(cfg.project.name))
  const spec = functionSpec(cfg, role.arn, { runtime: inputs.runtime, endpointKind: inputs.endpointKind })
  const fn = await setUpFunction(ctx, inputs, lambda, spec)
  const url = await setUpUrl(ctx, inputs, lambda, spec)
  const test = await testFunction(ctx, inputs, lambda, spec, { endpointStatus, roleChanged: role.created || role.changes.length > 0 })
  return done({
    dryRun: false,
    functionName: spec.name,
    alias: spec.alias,
    functionArn: fn.functionArn,
    version: fn.version,
    created: fn.created,
    published: fn.published,
    codeUpdated: fn.codeUpdated,
    configUpdated: fn.configUpdated,
    codeSha256: inputs.pkg.codeSha256,
    zipBytes: inputs.pkg.zip.length,
    environment: spec.environment,
    role: { name: inputs.names.lambdaRole, arn: role.arn, created: role.created, changes: role.changes },
    endpoint: { name: inputs.names.endpoint, status: endpointStatus ?? 'missing' },
    ...(url ? { url } : {}),
    test,
    consoleUrl: lambdaFunctionConsoleUrl(inputs.region, spec.name),
    logsConsoleUrl: lambdaLogsConsoleUrl(inputs.region, spec.name),
  })
}

function scopeOf(accountId: string, region: string): RoleTarget {
  return { accountId, region, partition: partitionOf(region) }
}

function planSetup(i: SetupInputs) {
  const scope = scopeOf(PLACEHOLDER.accountId, i.region)
  const roleArn = lambdaRoleArn(i.cfg, scope)
  const spec = functionSpec(i.cfg, roleArn, { runtime: i.runtime, endpointKind: i.endpointKind })
  const details: LambdaSetupPlanDetails = {
    dryRun: true,
    functionName: spec.name,
    alias: spec.alias,
    codeSha256: i.pkg.codeSha256,
    zipBytes: i.pkg.zip.length,
    environment: spec.environment,
    role: { name: i.names.lambdaRole, arn: roleArn },
    endpoint: { name: i.names.endpoint },
    ...(i.wantUrl ? { url: { url: '<function-url>', authType: i.wantPublic ? 'NONE' : 'AWS_IAM', managed: true } } : {}),
  }
  return {
    title: `mlops lambda-setup (${spec.name})`,
    operations: planLambdaSetup(i.cfg, spec, i.pkg, { scope, wantUrl: i.wantUrl, wantPublic: i.wantPublic, runTest: i.runTest, sample: i.sample }),
    notes: [`Package: ${formatBytes(i.pkg.zip.length)}, CodeSha256 ${i.pkg.codeSha256}. Environment: ${JSON.stringify(spec.environment)}.`],
    details,
  }
}

async function setUpRole(ctx: CommandContext, i: SetupInputs, iam: Parameters<typeof ensureRole>[0], scope: RoleTarget): Promise<EnsureRoleResult> {
  ctx.ui.step(`Role ${i.names.lambdaRole}: sagemaker:InvokeEndpoint on ${i.names.endpoint}, logs of ${i.names.lambdaFunction}, nothing else`)
  const role = await ensureRole(iam, lambdaRoleSpec(i.cfg, scope))
  await ctx.state().record({
    kind: 'role',
    name: i.names.lambdaRole,
    arn: role.arn,
    region: i.region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { purpose: 'lambda' },
  })
  return role
}

async function setUpFunction(ctx: CommandContext, i: SetupInputs, lambda: LambdaClient, spec: FunctionSpec): Promise<EnsureFunctionResult> {
  ctx.ui.step(
    `Function ${spec.name} (${spec.runtime}, ${spec.architecture}, ${spec.memoryMb} MB, ${spec.timeoutSeconds}s; package ${formatBytes(i.pkg.zip.length)})`,
  )
  const spin = ctx.ui.spinner(`Creating or updating ${spec.name}…`)
  let fn: EnsureFunctionResult
  try {
    fn = await ensureFunction(lambda, spec, i.pkg, {
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: i.cfg.lambda.updateTimeout * 1000,
      onStatus: (s) => spin.update(s),
      onRetry: (attempt) => spin.update(`Waiting for the new role ${i.names.lambdaRole} to reach Lambda (IAM propagation, attempt ${attempt})…`),
    })
    spin.succeed(`${spec.name}:${spec.alias} -> version ${fn.version}${fn.published ? ' (new)' : ' (unchanged)'}`)
  } catch (e) {
    spin.fail()
    if (e instanceof InterruptedError) {
      throw new InterruptedError(
        `Interrupted while setting up ${spec.name}; nothing is left half-done that a re-run of \`mlops lambda-setup\` does not converge.`,
      )
    }
    throw e
  } finally {
    spin.stop()
  }
  await ctx.state().record({
    kind: 'function',
    name: spec.name,
    arn: fn.functionArn,
    region: i.region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { alias: spec.alias, version: fn.version, roleName: i.names.lambdaRole, codeSha256: i.pkg.codeSha256, endpoint: i.names.endpoint },
  })
  return fn
}

async function setUpUrl(ctx: CommandContext, i: SetupInputs, lambda: LambdaClient, spec: FunctionSpec): Promise<LambdaSetupResult['url']> {
  if (i.wantUrl) {
    const u = await ensureFunctionUrl(lambda, spec.name, spec.alias, i.wantPublic)
    return { url: u.url, authType: u.authType, managed: true }
  }
  const existing = await getFunctionUrl(lambda, spec.name, spec.alias)
  if (!existing) return undefined
  if (existing.authType === 'NONE') ctx.ui.warn(PUBLIC_WARNING(spec.name))
  return { ...existing, managed: false }
}

async function testFunction(
  ctx: CommandContext,
  i: SetupInputs,
  lambda: LambdaClient,
  spec: FunctionSpec,
  o: { endpointStatus?: string; roleChanged: boolean },
): Promise<LambdaSetupResult['test']> {
  const endpoint = i.names.endpoint
  if (!i.runTest) return { status: 'skipped', reason: 'disabled with --no-test' }
  if (!o.endpointStatus) return { status: 'skipped', reason: `endpoint ${endpoint} does not exist (run \`mlops deploy\`)` }
  if (o.endpointStatus !== 'InService') return { status: 'skipped', reason: `endpoint ${endpoint} is ${o.endpointStatus}, not InService` }
  ctx.ui.step(`Test invocation of ${spec.name}:${spec.alias} with ${i.sample.source}`)
  const passed = await runSmokeTest(lambda, spec.name, spec.alias, i.sample.bytes, {
    clock: ctx.clock,
    signal: ctx.signal,
    // A role created or changed seconds ago may not yet allow InvokeEndpoint.
    attempts: o.roleChanged ? 4 : 1,
    onRetry: (attempt, why) => ctx.ui.info(`  ${why}; retrying while the role's permissions propagate (attempt ${attempt + 1})`),
  })
  return { status: 'passed', image: i.sample.source, predictions: passed.predictions, endpointLatencyMs: passed.endpointLatencyMs }
}
