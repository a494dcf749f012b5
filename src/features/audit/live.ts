import type { AwsClients } from '../../aws/clients.js'
import type { Progress } from '../../aws/iam/audit-reads.js'
import type { Clock } from '../../shared/clock.js'
import { parseLastAccessed, parseManagedPolicies, parseRoleDetail } from './auth-details.js'
import { parsePolicyDocument } from './parse-policy.js'
import { roleNameOf } from './scope.js'
import type { RoleInput, ServiceLastAccessed } from './types.js'

/**
 * The live account read into the audit's own types: aws/iam/audit-reads.ts fetches what IAM, Lambda and
 * SageMaker return; this file turns it into RoleInput and role names.
 */

/** Every role with its policies (GetAccountAuthorizationDetails, all pages). */
export async function readLiveRoles(
  iam: AwsClients['iam'],
  progress: Progress,
  opts: { readonly signal?: AbortSignal; readonly includeAwsManaged: boolean },
): Promise<{ roles: RoleInput[]; warnings: string[] }> {
  const { fetchAuthorizationDetails } = await import('../../aws/iam/audit-reads.js')
  const raw = await fetchAuthorizationDetails(iam, progress, opts)
  const warnings: string[] = []
  const policies = parseManagedPolicies(raw.policies, warnings)
  const roles = raw.roles.flatMap((r) => parseRoleDetail(r as unknown as Record<string, unknown>, policies, warnings) ?? [])
  return { roles, warnings }
}

/** The roles the project's resources use (the Lambda's, the endpoint models' execution roles), by name. */
export async function readProjectResourceRoles(
  clients: Pick<AwsClients, 'lambda' | 'sagemaker'>,
  names: { readonly functionName: string; readonly endpointName: string },
  progress: Progress,
): Promise<{ functionRole?: string; executionRoles: string[] }> {
  const { findProjectResources } = await import('../../aws/iam/audit-reads.js')
  const found = await findProjectResources(clients, names, progress)
  return {
    ...(found.functionRoleArn ? { functionRole: roleNameOf(found.functionRoleArn) } : {}),
    executionRoles: [...new Set(found.executionRoleArns.map(roleNameOf))],
  }
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
 * documents of attached managed policies that the listing did not include (each fetched once).
 */
export async function completeRoles(iam: AwsClients['iam'], roles: readonly RoleInput[], progress: Progress): Promise<RoleInput[]> {
  const { getDefaultPolicyDocument, getRoleLastUsed } = await import('../../aws/iam/audit-reads.js')
  const documents = new Map<string, Promise<RoleInput['policies'][number]['document']>>()
  const fetchDocument = (arn: string) => {
    let p = documents.get(arn)
    if (!p) {
      p = getDefaultPolicyDocument(iam, arn).then((doc) => (doc ? parsePolicyDocument(doc) : undefined))
      documents.set(arn, p)
    }
    return p
  }
  const missingLastUsed = roles.filter((r) => r.lastUsed === undefined).length
  if (missingLastUsed) progress.step(`Reading RoleLastUsed for ${missingLastUsed} role${missingLastUsed === 1 ? '' : 's'} (GetRole)…`)
  return mapLimit(roles, 4, async (role) => {
    const lastUsed = role.lastUsed ?? (await getRoleLastUsed(iam, role.name))
    const policies = await Promise.all(
      role.policies.map(async (p) => (p.document || !p.arn ? p : { ...p, ...(await fetchDocument(p.arn).then((d) => (d ? { document: d } : {}))) })),
    )
    return { ...role, lastUsed, policies }
  })
}

/** Last-accessed data for one role, for --suggest; undefined when the account cannot produce it. */
export async function readLastAccessed(
  iam: AwsClients['iam'],
  roleArn: string,
  opts: { readonly clock: Clock; readonly signal?: AbortSignal; readonly timeoutMs: number; readonly progress: Progress },
): Promise<ServiceLastAccessed[] | undefined> {
  const { fetchLastAccessed } = await import('../../aws/iam/audit-reads.js')
  const raw = await fetchLastAccessed(iam, roleArn, { ...opts, label: roleNameOf(roleArn) })
  return raw === undefined ? undefined : parseLastAccessed(raw)
}
