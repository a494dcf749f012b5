import { AddPermissionCommand, UpdateFunctionCodeCommand, CreateFunctionCommand, type LambdaClient } from '@aws-sdk/client-lambda'
import type { Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, translateAwsError } from '../error-translation.js'
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
    MemorySize: 128,
    Timeout: 30,
    Environment: { Variables: { ...spec.environment } },
    PackageType: 'Zip',
    Tags: { ...spec.tags },
  }
}

export function snsPermissionInput(functionName: string, topicArn: string) {
  return { FunctionName: functionName, StatementId: SNS_PERMISSION_SID, Action: 'lambda:InvokeFunction', Principal: 'sns.amazonaws.com', SourceArn: topicArn }
}

/** Creates the function, or replaces its code; returns its ARN. */
export async function ensureSubscriberFunction(
  lambda: LambdaClient,
  spec: SubscriberFunctionSpec,
  opts: { clock: Clock; signal?: AbortSignal },
): Promise<string> {
  const existing = await getFunctionIfExists(lambda, spec.name)
  if (existing?.Configuration?.FunctionArn) {
    await callAws(ctx('UpdateFunctionCode', spec.name), () => lambda.send(new UpdateFunctionCodeCommand({ FunctionName: spec.name, ZipFile: spec.zip })))
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
