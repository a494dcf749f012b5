import {
  DeleteFunctionCommand,
  DeleteFunctionUrlConfigCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  type GetFunctionCommandOutput,
  type GetFunctionUrlConfigCommandOutput,
  type LambdaClient,
} from '@aws-sdk/client-lambda'
import { callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'

/**
 * The Lambda reads and deletes of `status` and `teardown` (the provisioned concurrency read is
 * ./concurrency.ts's). Not found is an answer; anything else propagates.
 */

const ctx = (operation: string, resource: string) => ({ service: 'lambda', operation, resource })

export function getFunctionIfExists(client: LambdaClient, name: string): Promise<GetFunctionCommandOutput | undefined> {
  return callAwsOrUndefined(ctx('GetFunction', name), () => client.send(new GetFunctionCommand({ FunctionName: name })))
}

export function getFunctionUrlIfExists(client: LambdaClient, name: string, qualifier: string): Promise<GetFunctionUrlConfigCommandOutput | undefined> {
  return callAwsOrUndefined(ctx('GetFunctionUrlConfig', name), () => client.send(new GetFunctionUrlConfigCommand({ FunctionName: name, Qualifier: qualifier })))
}

export function deleteFunctionUrl(client: LambdaClient, name: string, qualifier: string | undefined): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteFunctionUrlConfig', name), () =>
    client.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name, Qualifier: qualifier })),
  )
}

export function deleteProvisionedConcurrency(client: LambdaClient, name: string, qualifier: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteProvisionedConcurrencyConfig', name), () =>
    client.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: qualifier })),
  )
}

export function deleteFunction(client: LambdaClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteFunction', name), () => client.send(new DeleteFunctionCommand({ FunctionName: name })))
}
