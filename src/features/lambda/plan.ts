import type { MlopsConfig } from '../../config/schema.js'
import { projectTagMap, resourceNames } from '../../shared/naming.js'
import { PLACEHOLDER, type PlannedOperation } from '../../shared/plan.js'
import { configurationInput, createFunctionInput, type FunctionSpec } from '../../aws/lambda/function.js'
import { createUrlInput, PUBLIC_URL_STATEMENTS, publicPermissionInputs } from '../../aws/lambda/url.js'
import { functionLogGroupName } from '../../aws/logs/lambda-logs.js'
import { testInvokeInput } from '../../aws/lambda/smoke.js'
import { lambdaRoleSpec } from '../../shared/roles/lambda-role.js'
import { planRole, type RoleTarget } from '../../shared/roles/policy.js'
import { UserError } from '../../shared/errors.js'
import { maxRequestBytes, type EndpointKind } from '../../shared/endpoint-limits.js'
import { DEFAULT_LAMBDA_RUNTIME, LAMBDA_NODE_RUNTIMES, lambdaRuntimeLife, lambdaRuntimeStatus } from '../../aws/lifecycle.js'
import { BUNDLE_RUNTIMES, LAMBDA_HANDLER, type FunctionPackage } from './bundle.js'

/** The Lambda family's pure parts: the function spec from the config and the dry-run plans. */

/**
 * The runtime the function gets: lambda.runtime, else DEFAULT_LAMBDA_RUNTIME. A runtime AWS no
 * longer lets anyone create functions on (or that mlops does not bundle for) is a usage error
 * before any AWS call, naming the date and the fix.
 */
export function resolveLambdaRuntime(cfg: Pick<MlopsConfig, 'lambda'>, nowMs: number): string {
  const runtime = cfg.lambda.runtime ?? DEFAULT_LAMBDA_RUNTIME
  const allowed = BUNDLE_RUNTIMES.filter((r) => lambdaRuntimeStatus(r, nowMs) === 'supported' || lambdaRuntimeStatus(r, nowMs) === 'deprecated')
  const fix = {
    hint: `Set lambda.runtime to ${allowed[0] ?? DEFAULT_LAMBDA_RUNTIME} (or remove it for the default)${allowed.length > 1 ? `; also allowed: ${allowed.slice(1).join(', ')}` : ''}.`,
  }
  const status = lambdaRuntimeStatus(runtime, nowMs)
  const life = lambdaRuntimeLife(runtime)
  if (life && (status === 'create-blocked' || status === 'blocked')) {
    throw new UserError(
      'LambdaRuntimeBlocked',
      `lambda.runtime ${runtime} is retired: AWS blocks creating functions on it since ${life.blockCreate} and updating them since ${life.blockUpdate}.`,
      fix,
    )
  }
  if (!life || !(BUNDLE_RUNTIMES as readonly string[]).includes(runtime)) {
    throw new UserError(
      'LambdaRuntimeUnsupported',
      `lambda.runtime ${runtime} is not a runtime mlops bundles the handler for (known: ${LAMBDA_NODE_RUNTIMES.map((r) => r.runtime).join(', ')}).`,
      fix,
    )
  }
  return runtime
}

/** Everything about the function that lambda-setup decides, from the config (runtime: resolveLambdaRuntime's). */
export function functionSpec(
  cfg: Pick<MlopsConfig, 'project' | 'endpoint' | 'lambda'>,
  roleArn: string,
  o: { readonly runtime?: string; readonly endpointKind?: EndpointKind } = {},
): FunctionSpec {
  const names = resourceNames(cfg)
  const runtime = o.runtime ?? cfg.lambda.runtime ?? DEFAULT_LAMBDA_RUNTIME
  // The handler forwards the body as it came, so a serverless endpoint's 4 MB is the Lambda's limit too.
  const maxBody = Math.min(cfg.lambda.maxBodyBytes, maxRequestBytes(o.endpointKind ?? (cfg.endpoint.serverless ? 'serverless' : 'instance')))
  return {
    name: names.lambdaFunction,
    runtime,
    handler: LAMBDA_HANDLER,
    roleArn,
    memoryMb: cfg.lambda.memoryMb,
    timeoutSeconds: cfg.lambda.timeoutSeconds,
    architecture: cfg.lambda.architecture,
    environment: { ENDPOINT_NAME: names.endpoint, TOP_K: String(cfg.lambda.topK), MAX_BODY_BYTES: String(maxBody) },
    description: `Dog-breed predictions from SageMaker endpoint ${names.endpoint} (mlops project ${cfg.project.name})`,
    tags: projectTagMap(cfg.project.name),
    alias: names.lambdaAlias,
  }
}

/** The log group requests, for a group that may not exist yet. */
export function planFunctionLogGroup(functionName: string, retentionDays: number, tags: Readonly<Record<string, string>>): PlannedOperation[] {
  const name = functionLogGroupName(functionName)
  return [
    { service: 'logs', operation: 'DescribeLogGroups', input: { logGroupNamePrefix: name }, note: 'create only if missing' },
    { service: 'logs', operation: 'CreateLogGroup', input: { logGroupName: name, tags: { ...tags } } },
    { service: 'logs', operation: 'PutRetentionPolicy', input: { logGroupName: name, retentionInDays: retentionDays }, note: 'only if the retention differs' },
  ]
}

/** The requests that converge an existing function (`ensureFunction`): each only when something differs. */
function planFunctionUpdate(spec: FunctionSpec, zipPlaceholder: string, scope: RoleTarget): PlannedOperation[] {
  const functionArn = `arn:${scope.partition}:lambda:${scope.region}:${scope.accountId}:function:${spec.name}`
  const configuration = { service: 'lambda', operation: 'UpdateFunctionConfiguration', input: configurationInput(spec) }
  return [
    { ...configuration, note: 'existing function on another runtime: the runtime changes first' },
    {
      service: 'lambda',
      operation: 'UpdateFunctionCode',
      input: { FunctionName: spec.name, ZipFile: zipPlaceholder, Architectures: [spec.architecture], Publish: false },
      note: 'existing function whose CodeSha256 differs',
    },
    { ...configuration, note: 'existing function whose configuration differs' },
    { service: 'lambda', operation: 'TagResource', input: { Resource: functionArn, Tags: { ...spec.tags } }, note: 'existing function whose tags differ' },
  ]
}

/** The requests of `ensureFunctionUrl`, in its order: create or converge the URL, then its public-access statements. */
export function planFunctionUrl(functionName: string, qualifier: string, wantPublic: boolean): PlannedOperation[] {
  const authType = createUrlInput(functionName, qualifier, wantPublic).AuthType
  return [
    {
      service: 'lambda',
      operation: 'GetFunctionUrlConfig',
      input: { FunctionName: functionName, Qualifier: qualifier },
      note: 'create if missing; update AuthType if it differs',
    },
    { service: 'lambda', operation: 'CreateFunctionUrlConfig', input: createUrlInput(functionName, qualifier, wantPublic) },
    {
      service: 'lambda',
      operation: 'UpdateFunctionUrlConfig',
      input: { FunctionName: functionName, Qualifier: qualifier, AuthType: authType },
      note: `existing URL whose AuthType is not ${authType}`,
    },
    { service: 'lambda', operation: 'GetPolicy', input: { FunctionName: functionName, Qualifier: qualifier }, note: 'the statements already there' },
    ...(wantPublic
      ? publicPermissionInputs(functionName, qualifier).map((input) => ({
          service: 'lambda',
          operation: 'AddPermission',
          input,
          note: 'lets anyone on the internet call the URL (each statement not there yet)',
        }))
      : PUBLIC_URL_STATEMENTS.map((StatementId) => ({
          service: 'lambda',
          operation: 'RemovePermission',
          input: { FunctionName: functionName, Qualifier: qualifier, StatementId },
          note: 'only if a public statement is there',
        }))),
  ]
}

export interface LambdaSetupPlanOptions {
  readonly scope: RoleTarget
  readonly wantUrl: boolean
  readonly wantPublic: boolean
  readonly runTest: boolean
  readonly sample: { readonly bytes: Buffer; readonly source: string }
}

/** Every request a first lambda-setup run would make, in order, with full inputs. Pure: no AWS calls. */
export function planLambdaSetup(cfg: MlopsConfig, spec: FunctionSpec, pkg: FunctionPackage, o: LambdaSetupPlanOptions): PlannedOperation[] {
  const names = resourceNames(cfg)
  const zipPlaceholder = `<handler.zip: ${pkg.zip.length} bytes, CodeSha256 ${pkg.codeSha256}>`
  const fn = spec.name
  return [
    { service: 'sts', operation: 'GetCallerIdentity', input: {}, note: 'the account, for the role and its policy' },
    {
      service: 'sagemaker',
      operation: 'DescribeEndpoint',
      input: { EndpointName: names.endpoint },
      note: 'the test invocation runs only when it is InService',
    },
    ...planRole(lambdaRoleSpec(cfg, o.scope)),
    ...planFunctionLogGroup(fn, cfg.lambda.logRetentionDays, spec.tags),
    {
      service: 'lambda',
      operation: 'GetFunction',
      input: { FunctionName: fn },
      note: 'create if missing; else UpdateFunctionCode only if CodeSha256 differs, UpdateFunctionConfiguration only if a value differs',
    },
    { service: 'lambda', operation: 'CreateFunction', input: createFunctionInput(spec, zipPlaceholder), note: 'retried while a new role propagates' },
    { service: 'lambda', operation: 'GetFunctionConfiguration', input: { FunctionName: fn }, note: 'poll until State is Active (and before each update)' },
    ...planFunctionUpdate(spec, zipPlaceholder, o.scope),
    {
      service: 'lambda',
      operation: 'GetAlias',
      input: { FunctionName: fn, Name: spec.alias },
      note: `publish only if ${spec.alias} does not already serve this code and configuration`,
    },
    {
      service: 'lambda',
      operation: 'PublishVersion',
      input: { FunctionName: fn, CodeSha256: pkg.codeSha256, Description: `mlops lambda-setup, code ${pkg.codeSha256}` },
    },
    {
      service: 'lambda',
      operation: 'CreateAlias',
      input: { FunctionName: fn, Name: spec.alias, FunctionVersion: PLACEHOLDER.version, Description: 'the version mlops serves' },
    },
    {
      service: 'lambda',
      operation: 'UpdateAlias',
      input: { FunctionName: fn, Name: spec.alias, FunctionVersion: PLACEHOLDER.version },
      note: `when ${spec.alias} exists and a new version was published`,
    },
    ...(o.wantUrl
      ? planFunctionUrl(fn, spec.alias, o.wantPublic)
      : [
          {
            service: 'lambda',
            operation: 'GetFunctionUrlConfig',
            input: { FunctionName: fn, Qualifier: spec.alias },
            note: 'an existing URL is reported, not changed',
          },
        ]),
    ...(o.runTest
      ? [
          {
            service: 'lambda',
            operation: 'Invoke',
            input: testInvokeInput(fn, spec.alias, `<base64 of ${o.sample.source}, ${o.sample.bytes.length} bytes>`),
            note: 'test invocation through the endpoint',
          },
        ]
      : []),
  ]
}
