import {
  GenerateServiceLastAccessedDetailsCommand,
  GetAccountAuthorizationDetailsCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetServiceLastAccessedDetailsCommand,
  type RoleDetail,
  type ServiceLastAccessed,
} from '@aws-sdk/client-iam'
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda'
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand } from '@aws-sdk/client-sagemaker'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { InterruptedError } from '../../shared/errors.js'
import type { AwsClients } from '../clients.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../error-translation.js'

/**
 * Reads what `mlops audit-iam` analyses from the live account, as IAM, Lambda and SageMaker return
 * it; features/audit interprets it. Read-only: the calls need about what the AWS managed
 * SecurityAudit (or IAMReadOnlyAccess) policy grants.
 */

/** The listing as IAM returned it: RoleDetailList and Policies of every page. */
export interface RawAuthorizationDetails {
  readonly roles: RoleDetail[]
  readonly policies: unknown[]
  readonly pages: number
}

export interface Progress {
  step(message: string): void
  warn(message: string): void
}

/** The listing's Filter. AWS managed policies are listed only for whole-account audits (see below). */
export function authorizationFilter(includeAwsManaged: boolean): ('Role' | 'LocalManagedPolicy' | 'AWSManagedPolicy')[] {
  return includeAwsManaged ? ['Role', 'LocalManagedPolicy', 'AWSManagedPolicy'] : ['Role', 'LocalManagedPolicy']
}

/**
 * GetAccountAuthorizationDetails, every page: roles with their inline, attached and boundary
 * policies. With `includeAwsManaged` the AWS managed policies' documents come in the same listing
 * (cheapest when auditing the whole account); without it the few attached to the audited roles are
 * fetched afterwards by `completeRoles` (cheapest for a project's handful of roles).
 */
export async function fetchAuthorizationDetails(
  iam: AwsClients['iam'],
  progress: Progress,
  opts: { readonly signal?: AbortSignal; readonly includeAwsManaged: boolean },
): Promise<RawAuthorizationDetails> {
  const signal = opts.signal
  const roles: RoleDetail[] = []
  const policies: unknown[] = []
  let marker: string | undefined
  let pages = 0
  do {
    if (signal?.aborted) throw new InterruptedError('Interrupted while reading IAM; nothing was changed.')
    const page = await callAws({ service: 'iam', operation: 'GetAccountAuthorizationDetails' }, () =>
      iam.send(
        new GetAccountAuthorizationDetailsCommand({
          Filter: authorizationFilter(opts.includeAwsManaged),
          MaxItems: 1000,
          ...(marker ? { Marker: marker } : {}),
        }),
        { abortSignal: signal },
      ),
    )
    pages++
    roles.push(...(page.RoleDetailList ?? []))
    policies.push(...(page.Policies ?? []))
    marker = page.IsTruncated ? page.Marker : undefined
    if (marker) progress.step(`Read ${roles.length} roles and ${policies.length} policies (page ${pages}); reading more…`)
  } while (marker)
  return { roles, policies, pages }
}

/** The default version's document of a managed policy, as IAM returns it (URL-encoded JSON); undefined without one. */
export async function getDefaultPolicyDocument(iam: AwsClients['iam'], policyArn: string): Promise<string | undefined> {
  const policy = await callAws({ service: 'iam', operation: 'GetPolicy', resource: policyArn }, () => iam.send(new GetPolicyCommand({ PolicyArn: policyArn })))
  const versionId = policy.Policy?.DefaultVersionId
  if (!versionId) return undefined
  const version = await callAws({ service: 'iam', operation: 'GetPolicyVersion', resource: policyArn }, () =>
    iam.send(new GetPolicyVersionCommand({ PolicyArn: policyArn, VersionId: versionId })),
  )
  return version.PolicyVersion?.Document
}

/** RoleLastUsed from GetRole (the listing may lack it): ISO date and region, each when IAM has it. */
export async function getRoleLastUsed(iam: AwsClients['iam'], roleName: string): Promise<{ date?: string; region?: string }> {
  const got = await callAws({ service: 'iam', operation: 'GetRole', resource: roleName }, () => iam.send(new GetRoleCommand({ RoleName: roleName })))
  const used = got.Role?.RoleLastUsed
  return { ...(used?.LastUsedDate ? { date: used.LastUsedDate.toISOString() } : {}), ...(used?.Region ? { region: used.Region } : {}) }
}

export interface ProjectResources {
  /** The Lambda function's role ARN. */
  readonly functionRoleArn?: string
  /** ARNs of the roles the endpoint's models run with. */
  readonly executionRoleArns: readonly string[]
  readonly endpointArn?: string
}

/**
 * Which roles the project's resources use: the Lambda function's role, and the execution role of the
 * endpoint's models. Missing resources are fine (not deployed yet); access denied is a warning.
 */
export async function findProjectResources(
  clients: Pick<AwsClients, 'lambda' | 'sagemaker'>,
  names: { readonly functionName: string; readonly endpointName: string },
  progress: Progress,
): Promise<ProjectResources> {
  const soft = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn()
    } catch (e) {
      if (isNotFound(e) || isAwsErrorNamed(e, 'ResourceNotFoundException')) return undefined
      const denied = (e as { code?: string }).code === 'AccessDenied' || isAwsErrorNamed(e, 'AccessDeniedException', 'AccessDenied')
      if (denied) {
        progress.warn(`Could not read ${what} (access denied): its role is not in the default scope. Pass --role to audit it.`)
        return undefined
      }
      throw e
    }
  }
  const fn = await soft(`Lambda function ${names.functionName}`, () =>
    callAws({ service: 'lambda', operation: 'GetFunctionConfiguration', resource: names.functionName }, () =>
      clients.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: names.functionName })),
    ),
  )
  const endpoint = await soft(`endpoint ${names.endpointName}`, () =>
    callAws({ service: 'sagemaker', operation: 'DescribeEndpoint', resource: names.endpointName }, () =>
      clients.sagemaker.send(new DescribeEndpointCommand({ EndpointName: names.endpointName })),
    ),
  )
  const executionRoles = new Set<string>()
  if (endpoint?.EndpointConfigName) {
    const config = await soft(`endpoint config ${endpoint.EndpointConfigName}`, () =>
      callAws({ service: 'sagemaker', operation: 'DescribeEndpointConfig', resource: endpoint.EndpointConfigName }, () =>
        clients.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: endpoint.EndpointConfigName })),
      ),
    )
    for (const variant of config?.ProductionVariants ?? []) {
      if (!variant.ModelName) continue
      const model = await soft(`model ${variant.ModelName}`, () =>
        callAws({ service: 'sagemaker', operation: 'DescribeModel', resource: variant.ModelName }, () =>
          clients.sagemaker.send(new DescribeModelCommand({ ModelName: variant.ModelName })),
        ),
      )
      if (model?.ExecutionRoleArn) executionRoles.add(model.ExecutionRoleArn)
    }
  }
  return {
    ...(fn?.Role ? { functionRoleArn: fn.Role } : {}),
    executionRoleArns: [...executionRoles],
    ...(endpoint?.EndpointArn ? { endpointArn: endpoint.EndpointArn } : {}),
  }
}

/**
 * Service (and, where IAM tracks it, action) last-accessed data for one role, for --suggest, as
 * GetServiceLastAccessedDetails returns it. Undefined when the account cannot produce it (not
 * supported, access denied). `label` names the role in warnings.
 */
export async function fetchLastAccessed(
  iam: AwsClients['iam'],
  roleArn: string,
  opts: { readonly clock: Clock; readonly signal?: AbortSignal; readonly timeoutMs: number; readonly progress: Progress; readonly label: string },
): Promise<ServiceLastAccessed[] | undefined> {
  let jobId: string | undefined
  try {
    const job = await iam.send(new GenerateServiceLastAccessedDetailsCommand({ Arn: roleArn, Granularity: 'ACTION_LEVEL' }))
    jobId = job.JobId
  } catch (e) {
    opts.progress.warn(`No last-accessed data for ${opts.label} (${(e as Error).name}: ${(e as Error).message.split('\n')[0]}).`)
    return undefined
  }
  if (!jobId) return undefined
  const id = jobId
  const details = await pollUntil({
    what: `last-accessed data for ${opts.label}`,
    clock: opts.clock,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    intervalMs: 2000,
    check: async () => {
      const got = await callAws({ service: 'iam', operation: 'GetServiceLastAccessedDetails', resource: roleArn }, () =>
        iam.send(new GetServiceLastAccessedDetailsCommand({ JobId: id })),
      )
      return { done: got.JobStatus !== 'IN_PROGRESS', value: got, status: got.JobStatus }
    },
  })
  if (details.JobStatus !== 'COMPLETED') {
    opts.progress.warn(`Last-accessed report for ${opts.label} ended ${details.JobStatus}: ${details.Error?.Message ?? 'no detail'}.`)
    return undefined
  }
  // The report pages at 100 services: a role that used a service on a later page must not look as
  // if it never did (--suggest would then propose dropping a permission in use).
  const services = [...(details.ServicesLastAccessed ?? [])]
  let marker = details.IsTruncated ? details.Marker : undefined
  while (marker) {
    if (opts.signal?.aborted) throw new InterruptedError()
    const from = marker
    const page = await callAws({ service: 'iam', operation: 'GetServiceLastAccessedDetails', resource: roleArn }, () =>
      iam.send(new GetServiceLastAccessedDetailsCommand({ JobId: id, Marker: from })),
    )
    services.push(...(page.ServicesLastAccessed ?? []))
    marker = page.IsTruncated ? page.Marker : undefined
  }
  return services
}
