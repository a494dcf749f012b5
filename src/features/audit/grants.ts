import { actionInfo, expandAction, loadedActions, resourceAppliesTo, servicesFor, unknownAction, type ActionInfo } from './actions.js'
import type { AttachedPolicy, PolicyDocument, PolicyRef, Statement } from './types.js'

/**
 * What a set of policies allows, action by action, after wildcard expansion and after subtracting
 * Deny statements that apply unconditionally to every resource. Conditions are kept as a flag
 * (they lower a finding's confidence; they never hide it).
 */

/** One Allow statement, expanded. Sets hold lower-case `service:action` keys. */
export interface Grant {
  readonly policy: PolicyRef
  readonly statement: Statement
  /** Actions allowed on at least one resource the statement names. */
  readonly actions: ReadonlySet<string>
  /**
   * The subset allowed on every resource of their type: Resource `*`, effectively `*` for that action
   * (e.g. `arn:aws:iam::*:role/*` for iam:PassRole), or NotResource.
   */
  readonly starActions: ReadonlySet<string>
  readonly conditional: boolean
}

/** The patterns a document uses, to decide which services of the dataset to load. */
export function actionPatterns(doc: PolicyDocument | undefined): string[] {
  if (!doc) return []
  const out: string[] = []
  for (const s of doc.statements) {
    if (s.action) out.push(...s.action)
    // NotAction means "everything except": the whole action list is needed.
    if (s.notAction) out.push('*')
  }
  return out
}

/** Services needed to analyse these documents ('all' for `*`, NotAction or a service wildcard). */
export function servicesForDocuments(docs: readonly (PolicyDocument | undefined)[]): Set<string> | 'all' {
  return servicesFor(docs.flatMap((d) => actionPatterns(d)))
}

/**
 * True when a Resource value covers every resource of its type: `*`, `arn:aws:s3:::*`,
 * `arn:aws:iam::*:role/*`, `arn:aws:lambda:*:*:function:*`. Such a grant is as broad as `*` for the
 * rules (Parliament's RESOURCE_EFFECTIVELY_STAR).
 */
export function isEffectivelyStar(resource: string): boolean {
  if (resource === '*') return true
  const parts = resource.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') return false
  const service = parts[2]
  const rest = parts.slice(5).join(':')
  if (rest === '*' || rest === '*/*') return true
  // S3 ARNs have no resource-type prefix: "bucket/*" is one bucket, not every object.
  if (service === 's3' || service === '*') return false
  return /^[A-Za-z0-9_.-]+[/:]\*$/.test(rest)
}

/** Expands a statement into the actions it names, and the subset it allows on every resource. */
function expandStatement(s: Statement): { actions: Set<string>; starActions: Set<string> } {
  const named = statementActions(s)
  // NotResource: everything except some ARNs counts as everything. No Resource: invalid in an
  // identity policy; treat it as broad rather than safe.
  if (s.notResource || !s.resource || s.resource.includes('*')) return { actions: named, starActions: named }
  const resources = s.resource
  const starResources = resources.filter(isEffectivelyStar)
  const actions = new Set<string>()
  const starActions = new Set<string>()
  for (const key of named) {
    const info = actionInfo(key) ?? unknownAction(key)
    if (!resources.some((r) => resourceAppliesTo(r, info))) continue
    actions.add(key)
    if (starResources.some((r) => resourceAppliesTo(r, info))) starActions.add(key)
  }
  return { actions, starActions }
}

function statementActions(s: Statement): Set<string> {
  const out = new Set<string>()
  if (s.action) for (const p of s.action) for (const a of expandAction(p)) out.add(a.key.toLowerCase())
  if (s.notAction) {
    const excluded = new Set<string>()
    for (const p of s.notAction) for (const a of expandAction(p)) excluded.add(a.key.toLowerCase())
    for (const a of loadedActions()) {
      const k = a.key.toLowerCase()
      if (!excluded.has(k)) out.add(k)
    }
  }
  return out
}

/** Expands the Allow statements of one policy. */
export function grantsOf(policy: AttachedPolicy): Grant[] {
  if (!policy.document) return []
  const ref = policyRef(policy)
  return policy.document.statements
    .filter((s) => s.effect === 'Allow')
    .map((s) => ({ policy: ref, statement: s, ...expandStatement(s), conditional: Boolean(s.condition) }))
}

/**
 * Actions denied outright: Deny statements without a Condition whose Resource is (effectively) `*`.
 * A Deny on specific resources or with a Condition is not subtracted (it cannot be proven to apply).
 */
export function deniedActions(policies: readonly AttachedPolicy[]): Set<string> {
  const out = new Set<string>()
  for (const p of policies) {
    for (const s of p.document?.statements ?? []) {
      if (s.effect !== 'Deny' || s.condition || s.notResource || !s.resource) continue
      for (const a of expandStatement(s).starActions) out.add(a)
    }
  }
  return out
}

/** The policy fields that identify it, without the document. */
export function policyRef(p: PolicyRef): PolicyRef {
  return { kind: p.kind, name: p.name, ...(p.arn ? { arn: p.arn } : {}), ...(p.file ? { file: p.file } : {}) }
}

/** How broadly one action is allowed across a set of grants. */
export type GrantLevel = 'star' | 'star-conditional' | 'scoped'

export interface ActionGrant {
  readonly level: GrantLevel
  /** The grants that give this level (for locations). */
  readonly via: readonly Grant[]
}

/**
 * A principal's effective permissions: its grants with denied actions removed and, when a
 * permissions boundary is known, limited to what the boundary allows.
 */
export class Permissions {
  readonly grants: readonly Grant[]
  private readonly byAction = new Map<string, Grant[]>()

  constructor(grants: readonly Grant[], denied: ReadonlySet<string>, boundary?: ReadonlySet<string>) {
    const keep = (a: string) => !denied.has(a) && (!boundary || boundary.has(a))
    this.grants = grants.map((g) => {
      if (denied.size === 0 && !boundary) return g
      const actions = new Set([...g.actions].filter(keep))
      return { ...g, actions, starActions: g.starActions === g.actions ? actions : new Set([...g.starActions].filter(keep)) }
    })
    for (const g of this.grants) {
      for (const a of g.actions) {
        const list = this.byAction.get(a)
        if (list) list.push(g)
        else this.byAction.set(a, [g])
      }
    }
  }

  /** Every allowed action (lower-case keys). */
  actions(): IterableIterator<string> {
    return this.byAction.keys()
  }

  has(action: string): boolean {
    return this.byAction.has(action.toLowerCase())
  }

  /** The broadest way `action` is allowed, or undefined when it is not. */
  grantOf(action: string): ActionGrant | undefined {
    const list = this.byAction.get(action.toLowerCase())
    if (!list) return undefined
    const key = action.toLowerCase()
    const starFree = list.filter((g) => g.starActions.has(key) && !g.conditional)
    if (starFree.length) return { level: 'star', via: starFree }
    const starCond = list.filter((g) => g.starActions.has(key))
    if (starCond.length) return { level: 'star-conditional', via: starCond }
    return { level: 'scoped', via: list }
  }
}

/** Actions a permissions boundary allows at all (on any resource), minus its unconditioned denies. */
export function boundaryActions(boundary: AttachedPolicy): Set<string> {
  const denied = deniedActions([boundary])
  const out = new Set<string>()
  for (const g of grantsOf(boundary)) for (const a of g.actions) if (!denied.has(a)) out.add(a)
  return out
}

/** The dataset's details for a lower-case key, or a stub for actions it does not know. */
export function infoFor(key: string): ActionInfo {
  return actionInfo(key) ?? unknownAction(key)
}
