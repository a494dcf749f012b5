import {
  DeleteFunctionConcurrencyCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetProvisionedConcurrencyConfigCommand,
  PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand,
  type GetProvisionedConcurrencyConfigCommandOutput,
  type LambdaClient,
} from '@aws-sdk/client-lambda'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, callAwsOrUndefined } from '../error-translation.js'

/**
 * Reserved concurrency (on the function) and provisioned concurrency (on an alias): the reads the
 * preflight needs and the changes, one call each.
 */

const call = <T>(operation: string, resource: string, fn: () => Promise<T>) => callAws({ service: 'lambda', operation, resource }, fn)

/** A read where "not found" (of the function, the alias or the config) is an answer. */
const read = <T>(operation: string, resource: string, fn: () => Promise<T>) => callAwsOrUndefined({ service: 'lambda', operation, resource }, fn)

/** The version an alias points at; undefined when the alias (or the function) does not exist. */
export async function aliasVersion(lambda: LambdaClient, functionName: string, alias: string): Promise<string | undefined> {
  const out = await read('GetAlias', `${functionName}:${alias}`, () => lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: alias })))
  return out?.FunctionVersion
}

/** The account's concurrency limit and what of it is unreserved, in this region. */
export async function accountConcurrency(lambda: LambdaClient, resource: string): Promise<{ limit: number; unreserved: number }> {
  const settings = await call('GetAccountSettings', resource, () => lambda.send(new GetAccountSettingsCommand({})))
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0
  return { limit, unreserved: settings.AccountLimit?.UnreservedConcurrentExecutions ?? limit }
}

/** The function's reserved concurrency; undefined when it has none. */
export async function reservedConcurrency(lambda: LambdaClient, functionName: string, resource: string): Promise<number | undefined> {
  return (await call('GetFunctionConcurrency', resource, () => lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }))))
    .ReservedConcurrentExecutions
}

/** The provisioned concurrency config of `qualifier`; undefined when there is none (or no such function). */
export async function provisionedConcurrency(
  lambda: LambdaClient,
  functionName: string,
  qualifier: string,
): Promise<GetProvisionedConcurrencyConfigCommandOutput | undefined> {
  return read('GetProvisionedConcurrencyConfig', `${functionName}:${qualifier}`, () =>
    lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: qualifier })),
  )
}

/** MemorySize of `qualifier`. */
export async function functionMemory(lambda: LambdaClient, functionName: string, qualifier: string): Promise<number | undefined> {
  const conf = await call('GetFunctionConfiguration', `${functionName}:${qualifier}`, () =>
    lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: qualifier })),
  )
  return conf.MemorySize
}

export async function putReservedConcurrency(lambda: LambdaClient, functionName: string, reserved: number, resource: string): Promise<void> {
  await call('PutFunctionConcurrency', resource, () =>
    lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: reserved })),
  )
}

/** Removes the function's reservation: it runs on the account's unreserved pool again (`scale --lambda-reserved none`). */
export async function deleteReservedConcurrency(lambda: LambdaClient, functionName: string, resource: string): Promise<void> {
  await call('DeleteFunctionConcurrency', resource, () => lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: functionName })))
}

export async function putProvisionedConcurrency(lambda: LambdaClient, functionName: string, qualifier: string, executions: number): Promise<void> {
  await call('PutProvisionedConcurrencyConfig', `${functionName}:${qualifier}`, () =>
    lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: qualifier, ProvisionedConcurrentExecutions: executions })),
  )
}

export async function deleteProvisionedConcurrency(lambda: LambdaClient, functionName: string, qualifier: string): Promise<void> {
  await call('DeleteProvisionedConcurrencyConfig', `${functionName}:${qualifier}`, () =>
    lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: qualifier })),
  )
}

/** Polls until the provisioned concurrency of `qualifier` leaves IN_PROGRESS (READY or FAILED). */
export async function waitForProvisionedConcurrency(
  lambda: LambdaClient,
  functionName: string,
  qualifier: string,
  opts: { clock: Clock; signal?: AbortSignal; timeoutMs: number; executions: number; rerunHint: string; onStatus?: (status: string) => void },
): Promise<GetProvisionedConcurrencyConfigCommandOutput> {
  const target = `${functionName}:${qualifier}`
  return pollUntil({
    what: `provisioned concurrency on ${target} to be READY`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: 5000,
    rerunHint: opts.rerunHint,
    onStatus: (s) => opts.onStatus?.(s),
    check: async () => {
      const c = await call('GetProvisionedConcurrencyConfig', target, () =>
        lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: qualifier })),
      )
      const status = c.Status ?? 'IN_PROGRESS'
      return { done: status !== 'IN_PROGRESS', value: c, status: `${status} (${c.AllocatedProvisionedConcurrentExecutions ?? 0}/${opts.executions} allocated)` }
    },
  })
}
