import { parsePolicyDocument, PolicyParseError } from './parse-policy.js'
import type { AttachedPolicy, PolicyDocument, RoleInput, ServiceLastAccessed } from './types.js'

/**
 * Reads the output of `aws iam get-account-authorization-details` (or the same data fetched live)
 * into RoleInput. Documents may be objects (AWS CLI) or URL-encoded strings (IAM API, SDKs, moto).
 * Dates may be ISO strings or Date objects (SDK v3).
 *
 * One extension, for --suggest on roles mlops does not know: a role may carry `ServicesLastAccessed`
 * in the shape of GetServiceLastAccessedDetails (ServiceNamespace, LastAuthenticated,
 * TrackedActionsLastAccessed[].ActionName/LastAccessedTime).
 */

export class AuthDetailsError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AuthDetailsError'
  }
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : [])
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const iso = (v: unknown): string | undefined => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined)

export interface ManagedPolicyRecord {
  readonly arn: string
  readonly name: string
  readonly document?: PolicyDocument
}

export interface AuthDetails {
  readonly roles: RoleInput[]
  /** Managed policies by ARN (their default version). */
  readonly policies: ReadonlyMap<string, ManagedPolicyRecord>
  readonly warnings: string[]
}

/** The managed policy's name from its ARN (`arn:aws:iam::aws:policy/service-role/X` -> `X`). */
export function policyNameFromArn(arn: string): string {
  return arn.split('/').pop() ?? arn
}

export function isAwsManagedArn(arn: string): boolean {
  return /^arn:aws[\w-]*:iam::aws:policy\//.test(arn)
}

/** Parses the managed policies list (`Policies`), keeping each one's default version document. */
export function parseManagedPolicies(raw: unknown, warnings: string[]): Map<string, ManagedPolicyRecord> {
  const out = new Map<string, ManagedPolicyRecord>()
  for (const p of list(raw)) {
    const arn = str(p.Arn)
    if (!arn) continue
    const name = str(p.PolicyName) ?? policyNameFromArn(arn)
    const versions = list(p.PolicyVersionList)
    const def =
      versions.find((v) => v.IsDefaultVersion === true) ??
      versions.find((v) => v.VersionId === p.DefaultVersionId) ??
      (versions.length === 1 ? versions[0] : undefined)
    let document: PolicyDocument | undefined
    if (def?.Document !== undefined) {
      try {
        document = parsePolicyDocument(def.Document)
      } catch (e) {
        warnings.push(`managed policy ${name}: ${(e as Error).message}; only its name was checked.`)
      }
    }
    out.set(arn, { arn, name, ...(document ? { document } : {}) })
  }
  return out
}

/** Parses one RoleDetailList entry. Managed policy documents come from `policies`. */
export function parseRoleDetail(r: Obj, policies: ReadonlyMap<string, ManagedPolicyRecord>, warnings: string[]): RoleInput | undefined {
  const name = str(r.RoleName)
  const arn = str(r.Arn)
  if (!name || !arn) return undefined
  const doc = (raw: unknown, what: string): PolicyDocument | undefined => {
    if (raw === undefined || raw === null) return undefined
    try {
      return parsePolicyDocument(raw)
    } catch (e) {
      warnings.push(`${name}: ${what}: ${e instanceof PolicyParseError ? e.message : String(e)}; it was not analysed.`)
      return undefined
    }
  }
  const attached: AttachedPolicy[] = []
  for (const p of list(r.RolePolicyList)) {
    const policyName = str(p.PolicyName) ?? 'inline'
    const document = doc(p.PolicyDocument, `inline policy ${policyName}`)
    attached.push({ kind: 'inline', name: policyName, ...(document ? { document } : {}) })
  }
  for (const p of list(r.AttachedManagedPolicies)) {
    const policyArn = str(p.PolicyArn)
    if (!policyArn) continue
    const record = policies.get(policyArn)
    attached.push({
      kind: isAwsManagedArn(policyArn) ? 'aws-managed' : 'customer-managed',
      name: str(p.PolicyName) ?? record?.name ?? policyNameFromArn(policyArn),
      arn: policyArn,
      ...(record?.document ? { document: record.document } : {}),
    })
  }
  const boundaryArn = isObj(r.PermissionsBoundary) ? str(r.PermissionsBoundary.PermissionsBoundaryArn) : undefined
  const boundaryRecord = boundaryArn ? policies.get(boundaryArn) : undefined
  const lastUsed = isObj(r.RoleLastUsed)
    ? {
        ...(iso(r.RoleLastUsed.LastUsedDate) ? { date: iso(r.RoleLastUsed.LastUsedDate) } : {}),
        ...(str(r.RoleLastUsed.Region) ? { region: str(r.RoleLastUsed.Region) } : {}),
      }
    : undefined
  const trust = doc(r.AssumeRolePolicyDocument, 'trust policy')
  const tags: Record<string, string> = {}
  for (const t of list(r.Tags)) if (typeof t.Key === 'string') tags[t.Key] = String(t.Value ?? '')
  const lastAccessed = parseLastAccessed(r.ServicesLastAccessed)
  const createDate = iso(r.CreateDate)
  return {
    name,
    arn,
    path: str(r.Path) ?? '/',
    ...(createDate ? { createDate } : {}),
    ...(lastUsed ? { lastUsed } : {}),
    ...(trust ? { trust } : {}),
    policies: attached,
    ...(boundaryArn
      ? {
          boundary: {
            kind: 'boundary' as const,
            name: boundaryRecord?.name ?? policyNameFromArn(boundaryArn),
            arn: boundaryArn,
            ...(boundaryRecord?.document ? { document: boundaryRecord.document } : {}),
          },
        }
      : {}),
    instanceProfiles: list(r.InstanceProfileList).flatMap((ip) => (str(ip.InstanceProfileName) ? [str(ip.InstanceProfileName)!] : [])),
    tags,
    ...(lastAccessed ? { lastAccessed } : {}),
  }
}

/** GetServiceLastAccessedDetails' ServicesLastAccessed, as stored in an input file or fetched live. */
export function parseLastAccessed(raw: unknown): ServiceLastAccessed[] | undefined {
  if (!Array.isArray(raw)) return undefined
  return list(raw).flatMap((s) => {
    const ns = str(s.ServiceNamespace)
    if (!ns) return []
    const last = iso(s.LastAuthenticated)
    const actions = list(s.TrackedActionsLastAccessed).flatMap((a) => {
      const n = str(a.ActionName)
      const t = iso(a.LastAccessedTime)
      return n ? [{ name: n, ...(t ? { lastAccessed: t } : {}) }] : []
    })
    return [{ serviceNamespace: ns, ...(last ? { lastAuthenticated: last } : {}), ...(actions.length ? { actions } : {}) }]
  })
}

/** Parses a whole auth-details document. Throws AuthDetailsError when it is not one. */
export function parseAuthDetails(raw: unknown): AuthDetails {
  if (!isObj(raw)) throw new AuthDetailsError('expected the JSON object printed by `aws iam get-account-authorization-details`')
  if (!('RoleDetailList' in raw) && !('Policies' in raw)) {
    throw new AuthDetailsError('no RoleDetailList or Policies: expected the output of `aws iam get-account-authorization-details`')
  }
  const warnings: string[] = []
  const policies = parseManagedPolicies(raw.Policies, warnings)
  const roles = list(raw.RoleDetailList).flatMap((r) => parseRoleDetail(r, policies, warnings) ?? [])
  return { roles, policies, warnings }
}
