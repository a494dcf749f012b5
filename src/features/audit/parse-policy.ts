import type { PolicyDocument, Statement } from './types.js'

/**
 * Parsing of IAM policy documents as they arrive: an object (AWS CLI output, our own fixtures), a
 * JSON string, or a URL-encoded JSON string (the IAM API returns documents RFC 3986-encoded:
 * GetAccountAuthorizationDetails, GetPolicyVersion, GetRole).
 */

/** A document that cannot be analysed. `path` is a dotted location inside the document. */
export class PolicyParseError extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(path ? `${path}: ${message}` : message)
    this.name = 'PolicyParseError'
  }
}

/** Decodes a possibly URL-encoded JSON string, or returns the object as-is. */
export function decodePolicyValue(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw
  const text = raw.trim()
  if (text.startsWith('{')) return parseJson(text)
  if (/%7B/i.test(text.slice(0, 6))) {
    let decoded: string
    try {
      decoded = decodeURIComponent(text)
    } catch {
      throw new PolicyParseError('looks URL-encoded but does not decode')
    }
    return parseJson(decoded)
  }
  throw new PolicyParseError('expected a JSON policy document (an object with "Statement")')
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new PolicyParseError(`not valid JSON (${(e as Error).message})`)
  }
}

const STATEMENT_KEYS = new Set(['Sid', 'Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'NotPrincipal', 'Condition'])

/** Normalises a policy document (string, URL-encoded string or object). Throws PolicyParseError. */
export function parsePolicyDocument(raw: unknown): PolicyDocument {
  const value = decodePolicyValue(raw)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PolicyParseError('a policy document must be a JSON object')
  const doc = value as Record<string, unknown>
  if (!('Statement' in doc)) throw new PolicyParseError('missing "Statement"')
  const list = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]
  const statements = list.map((s, i) => normaliseStatement(s, i))
  return { ...(typeof doc.Version === 'string' ? { version: doc.Version } : {}), statements }
}

function normaliseStatement(raw: unknown, index: number): Statement {
  const at = `Statement[${index}]`
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new PolicyParseError('each statement must be an object', at)
  const s = raw as Record<string, unknown>
  for (const key of Object.keys(s)) {
    if (!STATEMENT_KEYS.has(key)) throw new PolicyParseError(`unknown key "${key}" (IAM keys are case-sensitive: ${[...STATEMENT_KEYS].join(', ')})`, at)
  }
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyParseError('Effect must be "Allow" or "Deny"', at)
  if (s.Action !== undefined && s.NotAction !== undefined) throw new PolicyParseError('has both Action and NotAction', at)
  if (s.Resource !== undefined && s.NotResource !== undefined) throw new PolicyParseError('has both Resource and NotResource', at)
  const out: {
    -readonly [K in keyof Statement]: Statement[K]
  } = { index, effect: s.Effect }
  if (typeof s.Sid === 'string') out.sid = s.Sid
  if (s.Action !== undefined) out.action = stringList(s.Action, `${at}.Action`)
  if (s.NotAction !== undefined) out.notAction = stringList(s.NotAction, `${at}.NotAction`)
  if (s.Resource !== undefined) out.resource = stringList(s.Resource, `${at}.Resource`)
  if (s.NotResource !== undefined) out.notResource = stringList(s.NotResource, `${at}.NotResource`)
  if (s.Principal !== undefined) out.principal = principal(s.Principal, `${at}.Principal`)
  if (s.NotPrincipal !== undefined) out.notPrincipal = principal(s.NotPrincipal, `${at}.NotPrincipal`)
  if (s.Condition !== undefined) out.condition = condition(s.Condition, `${at}.Condition`)
  if (!out.action && !out.notAction) throw new PolicyParseError('has neither Action nor NotAction', at)
  return out
}

function stringList(v: unknown, at: string): string[] {
  const list = Array.isArray(v) ? v : [v]
  if (!list.every((x) => typeof x === 'string')) throw new PolicyParseError('expected a string or a list of strings', at)
  return list as string[]
}

function principal(v: unknown, at: string): '*' | Record<string, string[]> {
  if (v === '*') return '*'
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new PolicyParseError('expected "*" or an object such as {"Service": "lambda.amazonaws.com"}', at)
  const out: Record<string, string[]> = {}
  for (const [k, val] of Object.entries(v)) out[k] = stringList(val, `${at}.${k}`)
  return out
}

function condition(v: unknown, at: string): Record<string, Record<string, string[]>> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicyParseError('expected an object of operators', at)
  const out: Record<string, Record<string, string[]>> = {}
  for (const [op, block] of Object.entries(v)) {
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw new PolicyParseError('expected an object of condition keys', `${at}.${op}`)
    out[op] = {}
    for (const [key, val] of Object.entries(block)) {
      const list = Array.isArray(val) ? val : [val]
      out[op][key] = list.map((x) => String(x))
    }
  }
  return out
}

/** True when the statement's Condition mentions any of these keys (case-insensitive, any operator). */
export function conditionHasKey(s: Statement, keys: readonly string[]): boolean {
  if (!s.condition) return false
  const wanted = keys.map((k) => k.toLowerCase())
  return Object.values(s.condition).some((block) => Object.keys(block).some((k) => wanted.includes(k.toLowerCase())))
}

/** Condition keys used by a statement, for messages ("conditions: aws:SourceAccount"). */
export function conditionKeys(s: Statement): string[] {
  if (!s.condition) return []
  return [...new Set(Object.values(s.condition).flatMap((block) => Object.keys(block)))]
}

/**
 * Finds the 1-based line of `Statement[index]` in a policy file, so SARIF can point at it. A small
 * scanner over the JSON text (JSON.parse keeps no positions). Returns undefined for non-JSON text.
 */
export function statementLine(text: string, index: number): number | undefined {
  const offsets = statementOffsets(text)
  const offset = offsets?.[index]
  if (offset === undefined) return undefined
  return text.slice(0, offset).split('\n').length
}

function statementOffsets(text: string): number[] | undefined {
  let i = 0
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++
  }
  const str = (): string => {
    const start = i
    i++
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  // Skips any JSON value; records element offsets when asked.
  const value = (record?: number[]): void => {
    ws()
    const c = text[i]
    if (c === '{') {
      i++
      ws()
      if (text[i] === '}') return void i++
      for (;;) {
        ws()
        const key = str()
        ws()
        i++ // ':'
        if (key === 'Statement' && record) {
          ws()
          if (text[i] === '[') {
            i++
            ws()
            if (text[i] === ']') i++
            else
              for (;;) {
                ws()
                record.push(i)
                value()
                ws()
                if (text[i++] !== ',') break
              }
          } else {
            record.push(i)
            value()
          }
        } else value()
        ws()
        if (text[i++] !== ',') return
      }
    }
    if (c === '[') {
      i++
      ws()
      if (text[i] === ']') return void i++
      for (;;) {
        value()
        ws()
        if (text[i++] !== ',') return
      }
    }
    if (c === '"') return void str()
    while (i < text.length && !/[\s,\]}]/.test(text[i])) i++
  }
  try {
    const found: number[] = []
    value(found)
    return found
  } catch {
    return undefined
  }
}
