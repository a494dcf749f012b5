import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  PublishVersionCommand,
  TagResourceCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type Architecture,
  type CreateFunctionCommandInput,
  type FunctionConfiguration,
  type LambdaClient,
  type Runtime,
} from '@aws-sdk/client-lambda'
import { OperationError } from '../../shared/errors.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, callAwsOrUndefined } from '../error-translation.js'
import { retryWhileIamPropagates } from '../iam/roles.js'
import { getFunctionIfExists } from './project-resources.js'

/**
 * Create-or-update of the Lambda function, by value: code is replaced only when the zip's
 * CodeSha256 differs, configuration only when a field differs, and a version is published only
 * when the `live` alias does not already point at exactly this code and configuration. Every
 * update waits for the previous one to finish (Lambda rejects overlapping updates with
 * ResourceConflictException).
 */

/** Everything about the function that lambda-setup decides, as plain values. */
export interface FunctionSpec {
  readonly name: string
  readonly runtime: string
  readonly handler: string
  readonly roleArn: string
  readonly memoryMb: number
  readonly timeoutSeconds: number
  readonly architecture: 'arm64' | 'x86_64'
  readonly environment: Readonly<Record<string, string>>
  readonly description: string
  readonly tags: Readonly<Record<string, string>>
  /** The alias the served version sits behind. */
  readonly alias: string
}

/** The deployment package: the zip and its base64 SHA-256 (what Lambda reports as CodeSha256). */
export interface FunctionCode {
  readonly zip: Uint8Array
  readonly codeSha256: string
}

/** The CreateFunction request. `zip` is a placeholder string in dry-run plans. */
export function createFunctionInput(
  spec: FunctionSpec,
  zip: Uint8Array | string,
): Omit<CreateFunctionCommandInput, 'Code'> & { Code: { ZipFile: Uint8Array | string } } {
  return {
    FunctionName: spec.name,
    Runtime: spec.runtime as Runtime,
    Handler: spec.handler,
    Role: spec.roleArn,
    Code: { ZipFile: zip },
    Description: spec.description,
    MemorySize: spec.memoryMb,
    Timeout: spec.timeoutSeconds,
    Architectures: [spec.architecture as Architecture],
    Environment: { Variables: { ...spec.environment } },
    PackageType: 'Zip',
    Publish: false,
    Tags: { ...spec.tags },
  }
}

/** The UpdateFunctionConfiguration request (everything configurable except code and architecture). */
export function configurationInput(spec: FunctionSpec) {
  return {
    FunctionName: spec.name,
    Runtime: spec.runtime as Runtime,
    Handler: spec.handler,
    Role: spec.roleArn,
    Description: spec.description,
    MemorySize: spec.memoryMb,
    Timeout: spec.timeoutSeconds,
    Environment: { Variables: { ...spec.environment } },
  }
}

/** Names of the configuration fields whose live value differs from the spec (empty: nothing to do). */
export function configurationDiff(current: FunctionConfiguration, spec: FunctionSpec): string[] {
  const diff: string[] = []
  if (current.Runtime !== spec.runtime) diff.push('Runtime')
  if (current.Handler !== spec.handler) diff.push('Handler')
  if (current.Role !== spec.roleArn) diff.push('Role')
  if ((current.Description ?? '') !== spec.description) diff.push('Description')
  if (current.MemorySize !== spec.memoryMb) diff.push('MemorySize')
  if (current.Timeout !== spec.timeoutSeconds) diff.push('Timeout')
  if (!sameMap(current.Environment?.Variables ?? {}, spec.environment)) diff.push('Environment')
  return diff
}

/** True when the code (zip and architecture) of `current` is what `pkg` would deploy. */
export function sameCode(current: FunctionConfiguration, pkg: Pick<FunctionCode, 'codeSha256'>, spec: FunctionSpec): boolean {
  return current.CodeSha256 === pkg.codeSha256 && (current.Architectures ?? ['x86_64'])[0] === spec.architecture
}

function sameMap(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}

export interface WaitOptions {
  readonly clock: Clock
  readonly signal?: AbortSignal
  /** Deadline for each wait. */
  readonly timeoutMs: number
  /** @default 2000 */
  readonly intervalMs?: number
  readonly onStatus?: (status: string) => void
  /** Called before each retry while a new role propagates. */
  readonly onRetry?: (attempt: number, err: unknown) => void
}

/**
 * Waits until the function (or a version) is Active with no update in progress. `failOnFailed`:
 * a failed last update is an error (after our own update) or just a state to move on from (before it).
 */
export async function waitForFunctionReady(
  lambda: LambdaClient,
  name: string,
  opts: WaitOptions & { qualifier?: string; failOnFailed?: boolean },
): Promise<FunctionConfiguration> {
  const target = opts.qualifier ? `${name}:${opts.qualifier}` : name
  const cfg = await pollUntil({
    what: `Lambda ${target} to finish updating`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 2000,
    onStatus: (s) => opts.onStatus?.(s),
    rerunHint: 'Run `mlops lambda-setup` again once it has finished.',
    check: async () => {
      const c = await callAws({ service: 'lambda', operation: 'GetFunctionConfiguration', resource: target }, () =>
        lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: opts.qualifier })),
      )
      const state = c.State ?? 'Active'
      const update = c.LastUpdateStatus ?? 'Successful'
      const settled = state !== 'Pending' && update !== 'InProgress'
      return { done: settled || state === 'Failed', value: c, status: `${target}: state ${state}, last update ${update}` }
    },
  })
  if (opts.failOnFailed !== false && (cfg.State === 'Failed' || cfg.LastUpdateStatus === 'Failed')) {
    const reason = cfg.State === 'Failed' ? cfg.StateReason : cfg.LastUpdateStatusReason
    throw new OperationError(
      'FunctionUpdateFailed',
      `Lambda ${target} ${cfg.State === 'Failed' ? 'failed to start' : 'update failed'}: ${reason ?? 'no reason given'}`,
      {
        hint: 'Check the reason above; a role that cannot be assumed usually fixes itself after a minute (run the command again).',
      },
    )
  }
  return cfg
}

export interface EnsureFunctionResult {
  readonly functionArn: string
  readonly created: boolean
  readonly codeUpdated: boolean
  /** Configuration fields that were changed. */
  readonly configUpdated: readonly string[]
  /** The version `live` points at now. */
  readonly version: string
  /** True when this run published that version. */
  readonly published: boolean
  readonly aliasArn: string
  /** The version the alias pointed at before (undefined: the alias was created). */
  readonly previousVersion?: string
}

/** Creates or converges the function, publishes a version when needed and points `live` at it. */
export async function ensureFunction(lambda: LambdaClient, spec: FunctionSpec, pkg: FunctionCode, opts: WaitOptions): Promise<EnsureFunctionResult> {
  const ctx = (operation: string, qualifier?: string) => ({ service: 'lambda', operation, resource: qualifier ? `${spec.name}:${qualifier}` : spec.name })
  const existing = await getFunctionIfExists(lambda, spec.name)
  const waitOpts = { ...opts, failOnFailed: true }
  const updateConfiguration = () =>
    retryWhileIamPropagates(
      () => callAws(ctx('UpdateFunctionConfiguration'), () => lambda.send(new UpdateFunctionConfigurationCommand(configurationInput(spec)))),
      { clock: opts.clock, signal: opts.signal, onRetry: opts.onRetry },
    )
  let created = false
  let codeUpdated = false
  let configUpdated: string[] = []
  let functionArn: string
  if (!existing?.Configuration) {
    const out = await retryWhileIamPropagates(
      () => callAws(ctx('CreateFunction'), () => lambda.send(new CreateFunctionCommand(createFunctionInput(spec, pkg.zip) as CreateFunctionCommandInput))),
      { clock: opts.clock, signal: opts.signal, onRetry: opts.onRetry },
    )
    functionArn = out.FunctionArn!
    created = true
    await waitForFunctionReady(lambda, spec.name, waitOpts)
  } else {
    functionArn = existing.Configuration.FunctionArn!
    // Someone else's update may still be running; Lambda would reject ours.
    let current = await waitForFunctionReady(lambda, spec.name, { ...opts, failOnFailed: false })
    // A runtime change goes first: the new bundle targets the new runtime, and AWS refuses code
    // updates of functions on a runtime past its block-update date.
    if (current.Runtime !== spec.runtime) {
      configUpdated = configurationDiff(current, spec)
      await updateConfiguration()
      current = await waitForFunctionReady(lambda, spec.name, waitOpts)
    }
    if (!sameCode(current, pkg, spec)) {
      await callAws(ctx('UpdateFunctionCode'), () =>
        lambda.send(
          new UpdateFunctionCodeCommand({ FunctionName: spec.name, ZipFile: pkg.zip, Architectures: [spec.architecture as Architecture], Publish: false }),
        ),
      )
      codeUpdated = true
      current = await waitForFunctionReady(lambda, spec.name, waitOpts)
    }
    const remaining = configurationDiff(current, spec)
    if (remaining.length > 0) {
      configUpdated = [...new Set([...configUpdated, ...remaining])]
      await updateConfiguration()
      await waitForFunctionReady(lambda, spec.name, waitOpts)
    }
    const tags = existing.Tags ?? {}
    if (Object.entries(spec.tags).some(([k, v]) => tags[k] !== v)) {
      await callAws(ctx('TagResource'), () => lambda.send(new TagResourceCommand({ Resource: functionArn, Tags: { ...spec.tags } })))
    }
  }

  // Publish only when `live` does not already serve exactly this code and configuration.
  const alias = await callAwsOrUndefined(ctx('GetAlias', spec.alias), () => lambda.send(new GetAliasCommand({ FunctionName: spec.name, Name: spec.alias })))
  let version = alias?.FunctionVersion
  let aliasUpToDate = false
  if (version && version !== '$LATEST') {
    const live = await callAws(ctx('GetFunctionConfiguration', version), () =>
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: spec.name, Qualifier: version })),
    )
    // A version's Description is the one PublishVersion gave it, not the function's: not compared.
    aliasUpToDate = sameCode(live, pkg, spec) && configurationDiff(live, spec).every((field) => field === 'Description')
  }
  let published = false
  if (!aliasUpToDate) {
    // CodeSha256 makes Lambda refuse to publish if someone changed the code since we uploaded it.
    const out = await callAws(ctx('PublishVersion'), () =>
      lambda.send(
        new PublishVersionCommand({ FunctionName: spec.name, CodeSha256: pkg.codeSha256, Description: `mlops lambda-setup, code ${pkg.codeSha256}` }),
      ),
    )
    published = out.Version !== version
    version = out.Version!
    await waitForFunctionReady(lambda, spec.name, { ...waitOpts, qualifier: version })
  }
  let aliasArn = alias?.AliasArn
  if (!alias) {
    const out = await callAws(ctx('CreateAlias', spec.alias), () =>
      lambda.send(new CreateAliasCommand({ FunctionName: spec.name, Name: spec.alias, FunctionVersion: version, Description: 'the version mlops serves' })),
    )
    aliasArn = out.AliasArn
  } else if (alias.FunctionVersion !== version) {
    const out = await callAws(ctx('UpdateAlias', spec.alias), () =>
      lambda.send(new UpdateAliasCommand({ FunctionName: spec.name, Name: spec.alias, FunctionVersion: version })),
    )
    aliasArn = out.AliasArn
  }
  return {
    functionArn,
    created,
    codeUpdated,
    configUpdated,
    version: version!,
    published,
    aliasArn: aliasArn ?? `${functionArn}:${spec.alias}`,
    previousVersion: alias?.FunctionVersion,
  }
}
