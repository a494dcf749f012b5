import {
  AddPermissionCommand,
  CreateFunctionUrlConfigCommand,
  GetFunctionUrlConfigCommand,
  GetPolicyCommand,
  RemovePermissionCommand,
  UpdateFunctionUrlConfigCommand,
  type AddPermissionCommandInput,
  type LambdaClient,
} from '@aws-sdk/client-lambda'
import { callAws, callAwsOrUndefined } from '../error-translation.js'

/**
 * The optional function URL on the `live` alias. AWS_IAM auth by default: callers sign requests
 * with SigV4, and since October 2025 their identity policy needs both lambda:InvokeFunctionUrl and
 * lambda:InvokeFunction on the function (IAM_URL_CALLER_ACTIONS). Auth NONE (--public) needs a
 * resource policy that lets anyone invoke, with the same two actions: one statement for
 * lambda:InvokeFunctionUrl and one for lambda:InvokeFunction via the URL.
 */

/** What an AWS_IAM caller of a function URL must be allowed (both, since October 2025). */
export const IAM_URL_CALLER_ACTIONS = ['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction'] as const

export type UrlAuthType = 'AWS_IAM' | 'NONE'

/** Statement ids mlops owns in the function's resource policy. */
export const PUBLIC_URL_STATEMENTS = ['mlops-public-url', 'mlops-public-url-invoke'] as const

export function publicPermissionInputs(functionName: string, qualifier: string): AddPermissionCommandInput[] {
  return [
    {
      FunctionName: functionName,
      Qualifier: qualifier,
      StatementId: PUBLIC_URL_STATEMENTS[0],
      Action: 'lambda:InvokeFunctionUrl',
      Principal: '*',
      FunctionUrlAuthType: 'NONE',
    },
    {
      FunctionName: functionName,
      Qualifier: qualifier,
      StatementId: PUBLIC_URL_STATEMENTS[1],
      Action: 'lambda:InvokeFunction',
      Principal: '*',
      InvokedViaFunctionUrl: true,
    },
  ]
}

export interface FunctionUrlResult {
  readonly url: string
  readonly authType: UrlAuthType
  /** What this run changed: 'created', 'auth', 'public-permission', 'removed-public-permission'. */
  readonly changes: readonly string[]
}

/** Creates or converges the function URL of `qualifier` and the public-access statements. */
export async function ensureFunctionUrl(lambda: LambdaClient, functionName: string, qualifier: string, wantPublic: boolean): Promise<FunctionUrlResult> {
  const resource = `${functionName}:${qualifier}`
  const authType: UrlAuthType = wantPublic ? 'NONE' : 'AWS_IAM'
  const changes: string[] = []
  const existing = await callAwsOrUndefined({ service: 'lambda', operation: 'GetFunctionUrlConfig', resource }, () =>
    lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: qualifier })),
  )
  let url = existing?.FunctionUrl
  if (!existing) {
    const out = await callAws({ service: 'lambda', operation: 'CreateFunctionUrlConfig', resource }, () =>
      lambda.send(new CreateFunctionUrlConfigCommand(createUrlInput(functionName, qualifier, wantPublic))),
    )
    url = out.FunctionUrl
    changes.push('created')
  } else if (existing.AuthType !== authType) {
    // Tighten before loosening: when going private, the URL first requires IAM, then the policy goes.
    const out = await callAws({ service: 'lambda', operation: 'UpdateFunctionUrlConfig', resource }, () =>
      lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: qualifier, AuthType: authType })),
    )
    url = out.FunctionUrl ?? url
    changes.push('auth')
  }
  const present = await policyStatementIds(lambda, functionName, qualifier)
  if (wantPublic) {
    for (const input of publicPermissionInputs(functionName, qualifier)) {
      if (present.has(input.StatementId!)) continue
      await callAws({ service: 'lambda', operation: 'AddPermission', resource }, () => lambda.send(new AddPermissionCommand(input)))
      changes.push('public-permission')
    }
  } else {
    for (const sid of PUBLIC_URL_STATEMENTS) {
      if (!present.has(sid)) continue
      await callAws({ service: 'lambda', operation: 'RemovePermission', resource }, () =>
        lambda.send(new RemovePermissionCommand({ FunctionName: functionName, Qualifier: qualifier, StatementId: sid })),
      )
      changes.push('removed-public-permission')
    }
  }
  return { url: url ?? '', authType, changes }
}

/** The function URL of `qualifier`, if there is one (lambda-setup reports it even when not managing it). */
export async function getFunctionUrl(
  lambda: LambdaClient,
  functionName: string,
  qualifier: string,
): Promise<{ url: string; authType: UrlAuthType } | undefined> {
  return callAwsOrUndefined({ service: 'lambda', operation: 'GetFunctionUrlConfig', resource: `${functionName}:${qualifier}` }, async () => {
    const out = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionName, Qualifier: qualifier }))
    return { url: out.FunctionUrl ?? '', authType: (out.AuthType ?? 'AWS_IAM') as UrlAuthType }
  })
}

async function policyStatementIds(lambda: LambdaClient, functionName: string, qualifier: string): Promise<Set<string>> {
  const policy = await callAwsOrUndefined(
    { service: 'lambda', operation: 'GetPolicy', resource: `${functionName}:${qualifier}` },
    async () => (await lambda.send(new GetPolicyCommand({ FunctionName: functionName, Qualifier: qualifier }))).Policy,
  )
  if (!policy) return new Set()
  const doc = JSON.parse(policy) as { Statement?: { Sid?: string }[] }
  return new Set((doc.Statement ?? []).map((s) => s.Sid ?? '').filter(Boolean))
}

/** The CreateFunctionUrlConfig request for `qualifier` (plan and execution use the same). */
export function createUrlInput(functionName: string, qualifier: string, wantPublic: boolean) {
  return { FunctionName: functionName, Qualifier: qualifier, AuthType: (wantPublic ? 'NONE' : 'AWS_IAM') as UrlAuthType }
}
