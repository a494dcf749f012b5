/**
 * Is an existing bucket public? Pure analysis of what GetPublicAccessBlock, GetBucketPolicy and
 * GetBucketAcl return, following AWS's definition of "public":
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
 *
 * GetBucketPolicyStatus would answer the policy half directly, but it is not available everywhere
 * mlops runs (moto lacks it), and this analysis also says *which* statement or grant is public.
 * Account-level Block Public Access (s3control) is not consulted: it can only make a bucket less
 * public, so ignoring it errs on the side of refusing.
 */

export interface PublicAccessBlock {
  readonly BlockPublicAcls?: boolean
  readonly IgnorePublicAcls?: boolean
  readonly BlockPublicPolicy?: boolean
  readonly RestrictPublicBuckets?: boolean
}

export interface AclGrant {
  readonly Grantee?: { readonly URI?: string; readonly Type?: string }
  readonly Permission?: string
}

export interface BucketAccessFacts {
  /** Undefined when the bucket has no Block Public Access configuration. */
  readonly publicAccessBlock?: PublicAccessBlock
  /** The bucket policy document (JSON text); undefined when there is none. */
  readonly policy?: string
  readonly grants?: readonly AclGrant[]
}

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'
const AUTHENTICATED_USERS = 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers'

/**
 * Condition keys that, with fixed (non-wildcard) values, make a wildcard-principal statement
 * non-public in AWS's sense.
 */
const RESTRICTING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourceaccount',
  'aws:sourcearn',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgid',
  'aws:principalorgpaths',
  'aws:userid',
  's3:dataaccesspointaccount',
  's3:dataaccesspointarn',
])

/** Human reasons the bucket is public; empty when it is not. */
export function publicAccessReasons(facts: BucketAccessFacts): string[] {
  const bpa = facts.publicAccessBlock ?? {}
  const reasons: string[] = []
  if (facts.policy && !bpa.RestrictPublicBuckets) reasons.push(...publicPolicyStatements(facts.policy))
  if (!bpa.IgnorePublicAcls) {
    for (const g of facts.grants ?? []) {
      if (g.Grantee?.URI === ALL_USERS) reasons.push(`its ACL grants ${g.Permission ?? 'access'} to everyone (AllUsers)`)
      else if (g.Grantee?.URI === AUTHENTICATED_USERS) reasons.push(`its ACL grants ${g.Permission ?? 'access'} to any AWS account (AuthenticatedUsers)`)
    }
  }
  return reasons
}

/** Reasons for each Allow statement that grants to everyone without a restricting condition. */
export function publicPolicyStatements(policyText: string): string[] {
  let doc: { Statement?: unknown }
  try {
    doc = JSON.parse(policyText) as { Statement?: unknown }
  } catch {
    return []
  }
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : []) as Record<string, unknown>[]
  const out: string[] = []
  statements.forEach((st, i) => {
    if (st.Effect !== 'Allow' || !isWildcardPrincipal(st.Principal) || isRestricted(st.Condition)) return
    const actions = ([] as unknown[]).concat(st.Action ?? st.NotAction ?? '*').join(', ')
    out.push(`bucket policy statement ${typeof st.Sid === 'string' && st.Sid ? `"${st.Sid}"` : `#${i + 1}`} allows ${actions} to everyone (Principal "*")`)
  })
  return out
}

function isWildcardPrincipal(p: unknown): boolean {
  if (p === '*') return true
  if (p && typeof p === 'object' && 'AWS' in p) {
    const aws = (p as { AWS: unknown }).AWS
    return aws === '*' || (Array.isArray(aws) && aws.includes('*'))
  }
  return false
}

function isRestricted(condition: unknown): boolean {
  if (!condition || typeof condition !== 'object') return false
  for (const block of Object.values(condition as Record<string, unknown>)) {
    if (!block || typeof block !== 'object') continue
    for (const [key, value] of Object.entries(block as Record<string, unknown>)) {
      const values = ([] as unknown[]).concat(value)
      if (RESTRICTING_KEYS.has(key.toLowerCase()) && values.length > 0 && values.every((v) => typeof v === 'string' && !v.includes('*'))) return true
    }
  }
  return false
}
