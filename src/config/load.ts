import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'
import { z } from 'zod'
import { ConfigError, UserError } from '../shared/errors.js'
import { MlopsConfigSchema, type MlopsConfig } from './schema.js'

export const DEFAULT_CONFIG_FILE = 'mlops.config.yaml'

/**
 * Never `init --force`: that overwrites the user's config and edited scripts (issue 31 item 9).
 * `init --example` writes the commented template to a new file and touches nothing else.
 */
const EXAMPLE_HINT = '`mlops init --example mlops.config.example.yaml` writes a commented example of every section to a new file (it changes nothing else).'

const FIX_HINT = `Fix the fields listed above. ${EXAMPLE_HINT}`

/**
 * Reads and validates a config file, once. Throws `ConfigError` (exit 2) naming file, line and
 * dotted path; the file is shown relative to `cwd` (the command's working folder).
 */
/**
 * The config a command uses when --config is not given: ./mlops.config.yaml, else the nearest one in
 * a parent folder, as git finds .git (issue 31 item 9). The search stops at the first folder that
 * holds a .git (a repository's root: a config above it belongs to another project) or at the
 * filesystem root. Found nowhere: ./mlops.config.yaml, so ConfigNotFound names the folder the user is in.
 */
export function findConfigUpward(cwd: string): string {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, DEFAULT_CONFIG_FILE)
    if (existsSync(candidate)) return candidate
    if (existsSync(path.join(dir, '.git')) || path.dirname(dir) === dir) return path.resolve(cwd, DEFAULT_CONFIG_FILE)
  }
}

export async function loadConfig(file: string, cwd: string): Promise<MlopsConfig> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UserError('ConfigNotFound', `No config file at ${file}.`, {
        hint: 'Run `mlops init` to write a commented mlops.config.yaml, or pass --config <path>.',
      })
    }
    throw new UserError('ConfigUnreadable', `Cannot read ${file}: ${(e as Error).message}`, { cause: e })
  }
  return parseConfigText(text, file, cwd)
}

/**
 * Validates config text; `file` is only used in messages, shown relative to `cwd` when given (as
 * written otherwise). A section left empty (`aws:` with every key commented out) takes its defaults.
 */
export function parseConfigText(text: string, file: string, cwd?: string): MlopsConfig {
  const shown = (cwd === undefined ? file : path.relative(cwd, file)) || file
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((err) => {
      const line = err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line
      return `${shown}:${line} • ${err.message.split('\n')[0]}`
    })
    throw new ConfigError(`${shown} is not valid YAML.`, issues, { hint: 'Check indentation and quoting on the line shown.' })
  }
  const data = toData(doc, lineCounter, shown)
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(`${shown} must be a YAML mapping of sections (project, aws, data, ...).`, [`${shown}:1 • (root): expected a mapping`], {
      hint: FIX_HINT,
    })
  }
  const result = MlopsConfigSchema.safeParse(emptySectionsAsDefaults(data, MlopsConfigSchema))
  if (result.success) return result.data
  const issues = result.error.issues.map((issue) => describeIssue(issue, doc, lineCounter, shown))
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`
  throw new ConfigError(`${shown} has ${count}:`, issues, { hint: FIX_HINT })
}

/**
 * The document as plain data. Aliases are YAML's only way to make a small file expand without
 * bound ("billion laughs"), and an alias without its anchor has no value: both are usage errors
 * that name the alias's line, not an "Unexpected error" (issue 19).
 */
function toData(doc: Document, lineCounter: LineCounter, shown: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 }) ?? {}
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e
    const unresolved = /Unresolved alias[^:]*: (.+)$/.exec(e.message)?.[1]
    let line = 1
    visit(doc, {
      Alias(_key, node) {
        if (unresolved !== undefined && node.source !== unresolved) return undefined
        if (node.range) line = lineCounter.linePos(node.range[0]).line
        return visit.BREAK
      },
    })
    if (unresolved !== undefined) {
      throw new ConfigError(`${shown} uses an alias with no anchor.`, [`${shown}:${line} • *${unresolved}: no &${unresolved} is defined before it`], {
        hint: `Define &${unresolved} before *${unresolved}, or write the value out.`,
      })
    }
    throw new ConfigError(`${shown} expands its YAML aliases too far.`, [`${shown}:${line} • aliases expand to more than 100 nodes (an alias bomb?)`], {
      hint: 'Write the values out instead of nesting aliases (*name) inside anchored values (&name).',
    })
  }
}

/**
 * YAML reads a key with nothing under it (`aws:` whose keys are all commented out) as null. Where the
 * schema expects a mapping (a section, or a nested one such as `endpoint.autoscaling`) or a record
 * (`training.hyperparameters`), null means "all defaults": it becomes `{}`. Elsewhere null stays
 * null, so `bucket:` with no value is still an error naming the field.
 */
function emptySectionsAsDefaults(data: unknown, schema: unknown): unknown {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data
  const inner = unwrap(schema)
  const shape = (inner as { shape?: Record<string, unknown> }).shape
  const valueType = inner instanceof z.ZodRecord ? (inner as unknown as { valueType: unknown }).valueType : undefined
  if (!shape && !valueType) return data
  // fromEntries defines own properties, so a hostile `__proto__` key stays a plain (unknown) key.
  return Object.fromEntries(
    Object.entries(data).map(([key, value]) => {
      const field = shape ? (Object.hasOwn(shape, key) ? shape[key] : undefined) : valueType
      if (field === undefined) return [key, value]
      return [key, value === null && takesMapping(field) ? {} : emptySectionsAsDefaults(value, field)]
    }),
  )
}

function takesMapping(schema: unknown): boolean {
  const inner = unwrap(schema)
  return inner instanceof z.ZodObject || inner instanceof z.ZodRecord
}

type Issue = z.core.$ZodIssue

function describeIssue(issue: Issue, doc: Document, lineCounter: LineCounter, file: string): string {
  const issuePath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
  let dotted = issuePath.length ? issuePath.join('.') : '(root)'
  let message = issue.message
  let node = nearestNode(doc, issuePath)
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]
    const parent = doc.getIn(issuePath, true) as Node | undefined
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === key)
      if (pair && isScalar(pair.key)) node = pair.key
    }
    dotted = [...issuePath, key].join('.')
    const supported = supportedKeysAt(issuePath)
    const plural = issue.keys.length > 1 ? `unknown keys ${issue.keys.map((k) => `"${k}"`).join(', ')}` : `unknown key "${key}"`
    message = `${plural}${supported.length ? `; supported keys here: ${supported.join(', ')}` : ''}`
  } else if (issue.code === 'invalid_type' && !doc.hasIn(issuePath)) {
    message = `required field is missing (${issue.message.replace(/^Invalid input: /, '')})`
  } else if (issue.code === 'invalid_type' && issue.expected !== 'int') {
    const actual = doc.getIn(issuePath)
    message = `${issue.message.replace(/^Invalid input: /, '').replace(/, received \w+$/, '')}, got ${describeValue(isScalar(actual) ? actual.value : actual)}`
  }
  const line = node?.range ? lineCounter.linePos(node.range[0]).line : 1
  return `${file}:${line} • ${dotted}: ${message}`
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null'
  if (isMap(v)) return 'a mapping'
  if (isSeq(v)) return 'a list'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `"${v}"`
  return String(v)
}

/** The YAML node at `p`, or the closest ancestor that exists (a missing field points at its parent). */
function nearestNode(doc: Document, p: (string | number)[]): Node | undefined {
  for (let i = p.length; i >= 0; i--) {
    const node = doc.getIn(p.slice(0, i), true) as Node | undefined
    if (node && typeof node === 'object' && 'range' in node) return node
  }
  return undefined
}

/** The keys a strict object accepts at a dotted path of the schema, for "unknown key" messages. */
export function supportedKeysAt(p: (string | number)[]): string[] {
  let schema: unknown = MlopsConfigSchema
  for (const segment of [...p, null]) {
    schema = unwrap(schema)
    if (segment === null) break
    const shape = (schema as { shape?: Record<string, unknown> }).shape
    if (shape && typeof segment === 'string' && segment in shape) schema = shape[segment]
    else if (schema instanceof z.ZodRecord) schema = (schema as unknown as { valueType: unknown }).valueType
    else return []
  }
  const shape = (schema as { shape?: Record<string, unknown> }).shape
  return shape ? Object.keys(shape) : []
}

function unwrap(schema: unknown): unknown {
  let s = schema as { def?: { type?: string; innerType?: unknown; in?: unknown; schema?: unknown } }
  for (let i = 0; i < 10 && s?.def; i++) {
    const t = s.def.type
    if (t === 'optional' || t === 'default' || t === 'prefault' || t === 'nullable' || t === 'readonly') s = s.def.innerType as typeof s
    else if (t === 'pipe') s = s.def.in as typeof s
    else break
  }
  return s
}
