import { DescribeEndpointCommand, type SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { ChalkInstance } from 'chalk'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { InterruptedError } from '../../shared/errors.js'
import { formatBytes } from '../../shared/output.js'
import { projectTagMap, resourceNames } from '../../shared/naming.js'
import { PLACEHOLDER, renderPlan, type PlannedOperation } from '../../shared/plan.js'
import { getAccountId } from '../../aws/sts/account.js'
import { callAwsOrUndefined } from '../../aws/errors.js'
import { buildFunctionPackage, loadSampleImage, type FunctionPackage } from './bundle.js'
import { createFunctionInput, ensureFunction, functionSpec, LIVE_ALIAS, type FunctionSpec } from '../../aws/lambda/function.js'
import { ensureFunctionLogGroup, planFunctionLogGroup } from '../../aws/logs/lambda-logs.js'
import { ensureLambdaRole, lambdaRoleArn, planLambdaRole } from '../../shared/roles/lambda-role.js'
import { runSmokeTest, testInvokeInput, type Prediction } from '../../aws/lambda/smoke.js'
import { ensureFunctionUrl, getFunctionUrl, planFunctionUrl, type UrlAuthType } from '../../aws/lambda/url.js'

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

export interface LambdaSetupResult {
  readonly dryRun: boolean
  readonly functionName: string
  readonly alias: string
  readonly functionArn?: string
  /** The version `live` points at. */
  readonly version?: string
  readonly created?: boolean
  /** A new version was published (false on a re-run with unchanged code and configuration). */
  readonly published?: boolean
  readonly codeUpdated?: boolean
  readonly configUpdated?: readonly string[]
  readonly codeSha256: string
  readonly zipBytes: number
  readonly environment: Readonly<Record<string, string>>
  readonly role: { readonly name: string; readonly arn: string; readonly created?: boolean; readonly changes?: readonly string[] }
  readonly endpoint: { readonly name: string; readonly status?: string }
  readonly url?: { readonly url: string; readonly authType: UrlAuthType; readonly managed: boolean }
  readonly test?: {
    readonly status: 'passed' | 'skipped'
    readonly reason?: string
    readonly image?: string
    readonly predictions?: readonly Prediction[]
    readonly endpointLatencyMs?: number
  }
  /** Dry run only. */
  readonly operations?: PlannedOperation[]
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

export async function runLambdaSetup(ctx: CommandContext, opts: LambdaSetupOptions): Promise<LambdaSetupResult> {
  const cfg = mergeLambdaOptions(await ctx.config(), opts)
  const names = resourceNames(cfg)
  const region = ctx.awsSettings(cfg).region
  const wantUrl = opts.url ?? cfg.lambda.url?.enabled ?? false
  const wantPublic = wantUrl && (opts.public ?? cfg.lambda.url?.public ?? false)
  const runTest = opts.test !== false
  const pkg = await buildFunctionPackage()
  const sample = await loadSampleImage()
  if (wantPublic) ctx.ui.warn(PUBLIC_WARNING(names.lambdaFunction))

  if (ctx.dryRun) {
    const accountId = PLACEHOLDER.accountId
    const roleArn = lambdaRoleArn(cfg, accountId, region)
    const spec = functionSpec(cfg, roleArn)
    const operations = planLambdaSetup(cfg, spec, pkg, { region, accountId, wantUrl, wantPublic, runTest, sample })
    return {
      dryRun: true,
      functionName: spec.name,
      alias: LIVE_ALIAS,
      codeSha256: pkg.codeSha256,
      zipBytes: pkg.zip.length,
      environment: spec.environment,
      role: { name: names.lambdaRole, arn: roleArn },
      endpoint: { name: names.endpoint },
      ...(wantUrl ? { url: { url: '<function-url>', authType: wantPublic ? 'NONE' : 'AWS_IAM', managed: true } } : {}),
      operations,
    }
  }

  const { iam, lambda, sts, sagemaker, logs } = await ctx.clients(['iam', 'lambda', 'sts', 'sagemaker', 'logs'], cfg)
  const accountId = await getAccountId(sts)
  const state = ctx.state()
  const clockOpts = { clock: ctx.clock, signal: ctx.signal }

  const endpointStatus = await describeEndpointStatus(sagemaker, names.endpoint)
  if (!endpointStatus) {
    ctx.ui.warn(`Endpoint ${names.endpoint} does not exist yet: the function will answer 502 until \`mlops deploy\` creates it.`)
  }

  ctx.ui.step(`Role ${names.lambdaRole}: sagemaker:InvokeEndpoint on ${names.endpoint}, logs of ${names.lambdaFunction}, nothing else`)
  const role = await ensureLambdaRole(iam, cfg, accountId, region)
  await state.record({
    kind: 'role',
    name: names.lambdaRole,
    arn: role.arn,
    region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { purpose: 'lambda' },
  })

  await ensureFunctionLogGroup(logs, names.lambdaFunction, cfg.lambda.logRetentionDays, projectTagMap(cfg.project.name))

  const spec = functionSpec(cfg, role.arn)
  ctx.ui.step(
    `Function ${spec.name} (${spec.runtime}, ${spec.architecture}, ${spec.memoryMb} MB, ${spec.timeoutSeconds}s; package ${formatBytes(pkg.zip.length)})`,
  )
  const spin = ctx.ui.spinner(`Creating or updating ${spec.name}…`)
  let fn: Awaited<ReturnType<typeof ensureFunction>>
  try {
    fn = await ensureFunction(lambda, spec, pkg, {
      ...clockOpts,
      timeoutMs: cfg.lambda.updateTimeout * 1000,
      onStatus: (s) => spin.update(s),
      onRetry: (attempt) => spin.update(`Waiting for the new role ${names.lambdaRole} to reach Lambda (IAM propagation, attempt ${attempt})…`),
    })
    spin.succeed(`${spec.name}:${LIVE_ALIAS} -> version ${fn.version}${fn.published ? ' (new)' : ' (unchanged)'}`)
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
  await state.record({
    kind: 'function',
    name: spec.name,
    arn: fn.functionArn,
    region,
    createdAt: new Date(ctx.clock.now()).toISOString(),
    details: { alias: LIVE_ALIAS, version: fn.version, roleName: names.lambdaRole, codeSha256: pkg.codeSha256, endpoint: names.endpoint },
  })

  let url: LambdaSetupResult['url']
  if (wantUrl) {
    const u = await ensureFunctionUrl(lambda, spec.name, LIVE_ALIAS, wantPublic)
    url = { url: u.url, authType: u.authType, managed: true }
  } else {
    const existing = await getFunctionUrl(lambda, spec.name, LIVE_ALIAS)
    if (existing) {
      url = { ...existing, managed: false }
      if (existing.authType === 'NONE') ctx.ui.warn(PUBLIC_WARNING(spec.name))
    }
  }

  let test: LambdaSetupResult['test']
  if (!runTest) test = { status: 'skipped', reason: 'disabled with --no-test' }
  else if (!endpointStatus) test = { status: 'skipped', reason: `endpoint ${names.endpoint} does not exist (run \`mlops deploy\`)` }
  else if (endpointStatus !== 'InService') test = { status: 'skipped', reason: `endpoint ${names.endpoint} is ${endpointStatus}, not InService` }
  else {
    ctx.ui.step(`Test invocation of ${spec.name}:${LIVE_ALIAS} with ${sample.source}`)
    const roleChanged = role.created || role.changes.length > 0
    const passed = await runSmokeTest(lambda, spec.name, LIVE_ALIAS, sample.bytes, {
      ...clockOpts,
      // A role created or changed seconds ago may not yet allow InvokeEndpoint.
      attempts: roleChanged ? 4 : 1,
      onRetry: (attempt, why) => ctx.ui.info(`  ${why}; retrying while the role's permissions propagate (attempt ${attempt + 1})`),
    })
    test = { status: 'passed', image: sample.source, predictions: passed.predictions, endpointLatencyMs: passed.endpointLatencyMs }
  }

  return {
    dryRun: false,
    functionName: spec.name,
    alias: LIVE_ALIAS,
    functionArn: fn.functionArn,
    version: fn.version,
    created: fn.created,
    published: fn.published,
    codeUpdated: fn.codeUpdated,
    configUpdated: fn.configUpdated,
    codeSha256: pkg.codeSha256,
    zipBytes: pkg.zip.length,
    environment: spec.environment,
    role: { name: names.lambdaRole, arn: role.arn, created: role.created, changes: role.changes },
    endpoint: { name: names.endpoint, status: endpointStatus ?? 'missing' },
    ...(url ? { url } : {}),
    test,
  }
}

async function describeEndpointStatus(sagemaker: SageMakerClient, name: string): Promise<string | undefined> {
  return callAwsOrUndefined(
    { service: 'sagemaker', operation: 'DescribeEndpoint', resource: name },
    async () => (await sagemaker.send(new DescribeEndpointCommand({ EndpointName: name }))).EndpointStatus ?? 'Unknown',
  )
}

/** Every request a first run would make, in order, with full inputs. Pure: no AWS calls. */
export function planLambdaSetup(
  cfg: MlopsConfig,
  spec: FunctionSpec,
  pkg: FunctionPackage,
  o: { region: string; accountId: string; wantUrl: boolean; wantPublic: boolean; runTest: boolean; sample: { bytes: Buffer; source: string } },
): PlannedOperation[] {
  const names = resourceNames(cfg)
  const zipPlaceholder = `<handler.zip: ${pkg.zip.length} bytes, CodeSha256 ${pkg.codeSha256}>`
  const fn = spec.name
  return [
    {
      service: 'sagemaker',
      operation: 'DescribeEndpoint',
      input: { EndpointName: names.endpoint },
      note: 'the test invocation runs only when it is InService',
    },
    ...planLambdaRole(cfg, o.accountId, o.region),
    ...planFunctionLogGroup(fn, cfg.lambda.logRetentionDays, spec.tags),
    {
      service: 'lambda',
      operation: 'GetFunction',
      input: { FunctionName: fn },
      note: 'create if missing; else UpdateFunctionCode only if CodeSha256 differs, UpdateFunctionConfiguration only if a value differs',
    },
    { service: 'lambda', operation: 'CreateFunction', input: createFunctionInput(spec, zipPlaceholder), note: 'retried while a new role propagates' },
    { service: 'lambda', operation: 'GetFunctionConfiguration', input: { FunctionName: fn }, note: 'poll until State is Active' },
    {
      service: 'lambda',
      operation: 'GetAlias',
      input: { FunctionName: fn, Name: LIVE_ALIAS },
      note: `publish only if ${LIVE_ALIAS} does not already serve this code and configuration`,
    },
    {
      service: 'lambda',
      operation: 'PublishVersion',
      input: { FunctionName: fn, CodeSha256: pkg.codeSha256, Description: `mlops lambda-setup, code ${pkg.codeSha256}` },
    },
    {
      service: 'lambda',
      operation: 'CreateAlias',
      input: { FunctionName: fn, Name: LIVE_ALIAS, FunctionVersion: PLACEHOLDER.version, Description: 'the version mlops serves' },
    },
    ...(o.wantUrl ? planFunctionUrl(fn, LIVE_ALIAS, o.wantPublic) : []),
    ...(o.runTest
      ? [
          {
            service: 'lambda',
            operation: 'Invoke',
            input: testInvokeInput(fn, LIVE_ALIAS, `<base64 of ${o.sample.source}, ${o.sample.bytes.length} bytes>`),
            note: 'test invocation through the endpoint',
          },
        ]
      : []),
  ]
}

/** Human rendering of the result. */
export function renderLambdaSetup(r: LambdaSetupResult, c: ChalkInstance): string {
  if (r.dryRun) {
    return renderPlan(`mlops lambda-setup (${r.functionName})`, r.operations ?? [], c, [
      `Package: ${formatBytes(r.zipBytes)}, CodeSha256 ${r.codeSha256}. Environment: ${JSON.stringify(r.environment)}.`,
    ])
  }
  const pct = (p: number) => `${(p * 100).toFixed(1)}%`
  const lines = [
    `${c.bold(`${r.functionName}:${r.alias}`)} -> version ${r.version} ${r.created ? '(function created)' : r.published ? '(new version published)' : '(unchanged: no new version)'}`,
    `  role      ${r.role.name}${r.role.created ? ' (created)' : r.role.changes?.length ? ` (converged: ${r.role.changes.join(', ')})` : ''}: InvokeEndpoint on ${r.endpoint.name} + own logs only`,
    `  code      ${formatBytes(r.zipBytes)}, CodeSha256 ${r.codeSha256}${r.created ? '' : r.codeUpdated ? ' (updated)' : ' (unchanged)'}`,
    `  config    ${r.created ? 'set' : r.configUpdated?.length ? `updated: ${r.configUpdated.join(', ')}` : 'unchanged'} (ENDPOINT_NAME=${r.environment.ENDPOINT_NAME}, TOP_K=${r.environment.TOP_K})`,
    `  endpoint  ${r.endpoint.name} (${r.endpoint.status})`,
  ]
  if (r.url) {
    const auth = r.url.authType === 'NONE' ? c.yellow('PUBLIC, no auth') : 'AWS_IAM: callers sign requests with SigV4'
    lines.push(`  url       ${r.url.url} (${auth})${r.url.managed ? '' : ' — not managed in this run; pass --url to manage it'}`)
  }
  if (r.test?.status === 'passed') {
    const top = (r.test.predictions ?? []).map((p, i) => `${i + 1}. ${p.breed} ${pct(p.probability)}`).join('   ')
    lines.push(
      `  test      ${c.green('passed')} with ${r.test.image}: ${top}${r.test.endpointLatencyMs !== undefined ? `  (endpoint ${r.test.endpointLatencyMs} ms)` : ''}`,
    )
  } else if (r.test) {
    lines.push(`  test      skipped: ${r.test.reason}`)
  }
  lines.push(c.gray('Costs nothing while idle; each call is billed per request and duration, and runs the endpoint.'))
  return lines.join('\n')
}
