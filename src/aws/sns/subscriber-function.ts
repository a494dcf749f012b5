import {
  AddPermissionCommand,
  CreateFunctionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
  type LambdaClient,
  type Runtime,
} from '@aws-sdk/client-lambda'
import type { Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../error-translation.js'
import { waitForFunctionReady } from '../lambda/function.js'
import { getFunctionIfExists } from '../lambda/project-resources.js'
import { retryWhileIamPropagates } from '../iam/roles.js'

/**
 * A small Lambda function that an SNS topic invokes (the idle-stop reaper): created once, its code
 * replaced on a re-run, and allowed to be invoked by that one topic only.
 */

export interface SubscriberFunctionSpec {
  readonly name: string
  readonly roleArn: string
  readonly runtime: string
  readonly handler: string
  readonly description: string
  readonly environment: Readonly<Record<string, string>>
  readonly tags: Readonly<Record<string, string>>
  /** The zip (or a placeholder string in plans). */
  readonly zip: Uint8Array
}

/** Memory and timeout of every subscriber function: it makes one or two API calls. */
const MEMORY_MB = 128
const TIMEOUT_SECONDS = 30
/** How long one update of the function may take to settle (LastUpdateStatus). */
const UPDATE_TIMEOUT_MS = 5 * 60_000

/** Lets the topic (and nothing else) invoke the function. */
export const SNS_PERMISSION_SID = 'mlops-idle-stop-sns'

const ctx = (operation: string, resource: string) => ({ service: 'lambda', operation, resource })

export function createSubscriberInput(spec: Omit<SubscriberFunctionSpec, 'zip'>, zip: Uint8Array | string) {
  return {
    FunctionName: spec.name,
    Runtime: spec.runtime,
    Handler: spec.handler,
    Role: spec.roleArn,
    Code: { ZipFile: zip },
    Description: spec.description,
    MemorySize: MEMORY_MB,
    Timeout: TIMEOUT_SECONDS,
    Environment: { Variables: { ...spec.environment } },
    PackageType: 'Zip',
    Tags: { ...spec.tags },
  }
}

export function snsPermissionInput(functionName: string, topicArn: string) {
  return { FunctionName: functionName, StatementId: SNS_PERMISSION_SID, Action: 'lambda:InvokeFunction', Principal: 'sns.amazonaws.com', SourceArn: topicArn }
}

/** The UpdateFunctionConfiguration request: what mlops decides about the function besides its code. */
export function subscriberConfigurationInput(spec: Omit<SubscriberFunctionSpec, 'zip'>) {
  return {
    FunctionName: spec.name,
    Runtime: spec.runtime as Runtime,
    Handler: spec.handler,
    Role: spec.roleArn,
    Description: spec.description,
    MemorySize: MEMORY_MB,
    Timeout: TIMEOUT_SECONDS,
    Environment: { Variables: { ...spec.environment } },
  }
}

/** True when the live configuration differs from what `spec` asks for (a runtime moved on, a new role). */
function configurationDiffers(current: FunctionConfiguration, spec: Omit<SubscriberFunctionSpec, 'zip'>): boolean {
  const want = subscriberConfigurationInput(spec)
  const env = current.Environment?.Variables ?? {}
  const wantEnv = want.Environment.Variables
  return (
    current.Runtime !== want.Runtime ||
    current.Handler !== want.Handler ||
    current.Role !== want.Role ||
    (current.Description ?? '') !== want.Description ||
    current.MemorySize !== want.MemorySize ||
    current.Timeout !== want.Timeout ||
    Object.keys(env).length !== Object.keys(wantEnv).length ||
    Object.entries(wantEnv).some(([k, v]) => env[k] !== v)
  )
}

/**
 * Creates the function, or converges an existing one: its configuration first when it differs (so a
 * function made on a runtime that AWS retires moves to the one its bundle targets), then its code.
 * Lambda refuses an update while another is in progress, and an update that fails shows only in
 * LastUpdateStatus: each update is awaited until it settles, and a failed one is an error.
 */
export async function ensureSubscriberFunction(
  lambda: LambdaClient,
  spec: SubscriberFunctionSpec,
  opts: { clock: Clock; signal?: AbortSignal },
): Promise<string> {
  const existing = await getFunctionIfExists(lambda, spec.name)
  if (existing?.Configuration?.FunctionArn) {
    const wait = (failOnFailed: boolean) => waitForFunctionReady(lambda, spec.name, { ...opts, timeoutMs: UPDATE_TIMEOUT_MS, failOnFailed })
    // Settle whatever update was in flight; a failed earlier one is just the state we replace.
    const current = await wait(false)
    if (configurationDiffers(current, spec)) {
      await retryWhileIamPropagates(
        () =>
          callAws(ctx('UpdateFunctionConfiguration', spec.name), () => lambda.send(new UpdateFunctionConfigurationCommand(subscriberConfigurationInput(spec)))),
        opts,
      )
      await wait(true)
    }
    await callAws(ctx('UpdateFunctionCode', spec.name), () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: spec.name, ZipFile: spec.zip })))
    await wait(true)
    return existing.Configuration.FunctionArn
  }
  // A role created seconds ago may not be assumable by Lambda yet.
  const created = await retryWhileIamPropagates(
    () => callAws(ctx('CreateFunction', spec.name), () => lambda.send(new CreateFunctionCommand(createSubscriberInput(spec, spec.zip) as never))),
    opts,
  )
  return created.FunctionArn!
}

/** AddPermission for sns.amazonaws.com with SourceArn = the topic; an existing statement is kept. */
export async function allowTopic(lambda: LambdaClient, functionName: string, topicArn: string): Promise<void> {
  try {
    await lambda.send(new AddPermissionCommand(snsPermissionInput(functionName, topicArn)))
  } catch (e) {
    // The statement is already there (a re-run): its SourceArn is the same topic, by name.
    if (isAwsErrorNamed(e, 'ResourceConflictException')) return
    throw translateAwsError(e, ctx('AddPermission', functionName))
  }
}
