import {
  GenerateServiceLastAccessedDetailsCommand,
  GetAccountAuthorizationDetailsCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetServiceLastAccessedDetailsCommand,
  type RoleDetail,
} from '@aws-sdk/client-iam'
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda'
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, DescribeModelCommand } from '@aws-sdk/client-sagemaker'
import { parseLastAccessed, parseManagedPolicies, parseRoleDetail, type AuthDetails } from '../../features/audit/auth-details.js'
import { parsePolicyDocument } from '../../features/audit/policy.js'
import { roleNameOf } from '../../features/audit/scope.js'
import type { RoleInput, ServiceLastAccessed } from '../../features/audit/types.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import type { AwsClients } from '../clients.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../errors.js'

/**
 * Reads what `mlops audit-iam` analyses from the live account. Read-only: the calls need about
 * what the AWS managed SecurityAudit (or IAMReadOnlyAccess) policy grants.
 */

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
): Promise<AuthDetails & { pages: number }> {
  const signal = opts.signal
  const roles: RoleDetail[] = []
  const policies: unknown[] = []
  let marker: string | undefined
  let pages = 0
  do {
    if (signal?.aborted) {
      const { InterruptedError } = await import('../../shared/errors.js')
      throw new InterruptedError('Interrupted while reading IAM; nothing was changed.')
    }
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
  const warnings: string[] = []
  const policyMap = parseManagedPolicies(policies, warnings)
  const parsed = roles.flatMap((r) => parseRoleDetail(r as unknown as Record<string, unknown>, policyMap, warnings) ?? [])
  return { roles: parsed, policies: policyMap, warnings, pages }
}

/** Runs `fn` over `items` with at most `limit` in flight (IAM throttles bursts). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/**
 * Completes the roles being audited: RoleLastUsed from GetRole where the listing lacked it, and the
 * documents of attached managed policies that the listing did not include.
 */
export async function completeRoles(iam: AwsClients['iam'], roles: readonly RoleInput[], progress: Progress): Promise<RoleInput[]> {
  const documents = new Map<string, Promise<RoleInput['policies'][number]['document']>>()
  const fetchDocument = (arn: string) => {
    let p = documents.get(arn)
    if (!p) {
      p = (async () => {
        const policy = await callAws({ service: 'iam', operation: 'GetPolicy', resource: arn }, () => iam.send(new GetPolicyCommand({ PolicyArn: arn })))
        const versionId = policy.Policy?.DefaultVersionId
        if (!versionId) return undefined
        const version = await callAws({ service: 'iam', operation: 'GetPolicyVersion', resource: arn }, () =>
          iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: versionId })),
        )
        return version.PolicyVersion?.Document ? parsePolicyDocument(version.PolicyVersion.Document) : undefined
      })()
      documents.set(arn, p)
    }
    return p
  }
  const missingLastUsed = roles.filter((r) => r.lastUsed === undefined).length
  if (missingLastUsed) progress.step(`Reading RoleLastUsed for ${missingLastUsed} role${missingLastUsed === 1 ? '' : 's'} (GetRole)…`)
  return mapLimit(roles, 4, async (role) => {
    let lastUsed = role.lastUsed
    if (lastUsed === undefined) {
      const got = await callAws({ service: 'iam', operation: 'GetRole', resource: role.name }, () => iam.send(new GetRoleCommand({ RoleName: role.name })))
      const ru = got.Role?.RoleLastUsed
      lastUsed = { ...(ru?.LastUsedDate ? { date: ru.LastUsedDate.toISOString() } : {}), ...(ru?.Region ? { region: ru.Region } : {}) }
    }
    const policies = await Promise.all(
      role.policies.map(async (p) => (p.document || !p.arn ? p : { ...p, ...(await fetchDocument(p.arn).then((d) => (d ? { document: d } : {}))) })),
    )
    return { ...role, lastUsed, policies }
  })
}

export interface ProjectResources {
  /** The Lambda function's role name. */
  readonly functionRole?: string
  /** Roles the endpoint's models run with. */
  readonly executionRoles: readonly string[]
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
      if (model?.ExecutionRoleArn) executionRoles.add(roleNameOf(model.ExecutionRoleArn))
    }
  }
  return {
    ...(fn?.Role ? { functionRole: roleNameOf(fn.Role) } : {}),
    executionRoles: [...executionRoles],
    ...(endpoint?.EndpointArn ? { endpointArn: endpoint.EndpointArn } : {}),
  }
}

/**
 * Service (and, where IAM tracks it, action) last-accessed data for one role, for --suggest.
 * Returns undefined when the account cannot produce it (not supported, access denied).
 */
export async function fetchLastAccessed(
  iam: AwsClients['iam'],
  roleArn: string,
  opts: { readonly clock: Clock; readonly signal?: AbortSignal; readonly timeoutMs: number; readonly progress: Progress },
): Promise<ServiceLastAccessed[] | undefined> {
  let jobId: string | undefined
  try {
    const job = await iam.send(new GenerateServiceLastAccessedDetailsCommand({ Arn: roleArn, Granularity: 'ACTION_LEVEL' }))
    jobId = job.JobId
  } catch (e) {
    opts.progress.warn(`No last-accessed data for ${roleNameOf(roleArn)} (${(e as Error).name}: ${(e as Error).message.split('\n')[0]}).`)
    return undefined
  }
  if (!jobId) return undefined
  const id = jobId
  const details = await pollUntil({
    what: `last-accessed data for ${roleNameOf(roleArn)}`,
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
    opts.progress.warn(`Last-accessed report for ${roleNameOf(roleArn)} ended ${details.JobStatus}: ${details.Error?.Message ?? 'no detail'}.`)
    return undefined
  }
  return parseLastAccessed(details.ServicesLastAccessed)
}
