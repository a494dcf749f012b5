import { UserError } from '../shared/errors.js'

/**
 * Flag parsers built from schema fields: the one place a flag's value is checked. A flag that
 * overrides a config field takes that field's own zod schema (`EndpointSchema.shape.instanceCount`),
 * so `--instance-count 0` and `endpoint.instanceCount: 0` give the same answer from the same rule,
 * worded the same way (`--instance-count: must be at least 1 (endpoint instances), got "0".` beside
 * `endpoint.instanceCount: must be at least 1 (endpoint instances)`). A flag with no config key
 * takes a field from `config/flag-fields.ts`, so no limit is written in a command. Commands keep
 * only the rules that combine flags (--min above --max), as `ConflictingFlags` errors.
 * (npm-check-updates drives its parser and its config check from one options table: this is that idea.)
 */

/** What a zod schema (or any schema with safeParse) gives back. */
interface Field<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { message: string }[] } }
}

/** Checks one flag value: `parse(undefined)` is undefined (the flag was not given). */
export interface FlagParser<T> {
  (value: string): T
  (value: string | undefined): T | undefined
  /** The flag, as in messages (`--instance-count`). */
  readonly flag: string
}

interface FlagText {
  /** A valid value for the hint: `For example: --instance-count 2`. */
  readonly example: string
  /** How the value is shown in the message (to hide credentials in a URL). @default the value */
  readonly shown?: (value: string) => string
}

function parser<T>(flag: string, parse: (value: string) => T): FlagParser<T> {
  const fn = ((value: string | undefined) => (value === undefined ? undefined : parse(value))) as FlagParser<T>
  return Object.assign(fn, { flag })
}

/** The usage error (exit 2) for a refused value: `--flag: <the field's message>, got "value".` */
function refuse(flag: string, value: string, message: string, text: FlagText): never {
  const shown = text.shown ? text.shown(value) : value
  // A value the message already quotes, or one too long to read (a 4 KB path), is not repeated.
  const got = message.includes(`"${shown}"`) || shown.length > 100 ? '' : `, got "${shown}"`
  throw new UserError('InvalidFlag', `${flag}: ${message}${got}.`, { hint: `For example: ${flag} ${text.example}` })
}

function check<T>(flag: string, field: Field<T>, input: unknown, value: string, text: FlagText): T {
  const r = field.safeParse(input)
  if (r.success) return r.data
  return refuse(flag, value, r.error.issues[0]?.message ?? 'invalid', text)
}

/**
 * A number as YAML would read it: `150` -> 150, `1.5` -> 1.5, `1e308` -> 1e308; anything else stays
 * text, so the field answers "expected a number" exactly as it does for the config.
 */
function asNumber(value: string): number | string {
  const text = value.trim()
  return /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : value
}

/** A number flag (whole or not, and its range: the field decides). `numberOption('--target', autoscaling.targetInvocationsPerInstance.unwrap(), '120')` */
export function numberOption(flag: string, field: Field<number>, example: string): FlagParser<number> {
  return parser(flag, (value) => check(flag, field, asNumber(value), value, { example }))
}

/** A whole-number flag: the same parser as numberOption (the field rejects 1.5); the name says it at the call. */
export function intOption(flag: string, field: Field<number>, example: string): FlagParser<number> {
  return numberOption(flag, field, example)
}

/** A duration flag (90s, 30m, 2h, 1h30m) checked by a duration field; gives seconds (or what the field gives). */
export function durationOption<T = number>(flag: string, field: Field<T>, example: string): FlagParser<T> {
  return parser(flag, (value) => check(flag, field, value, value, { example }))
}

/** A text flag checked by a string field (instance type, bucket, URL, ...). */
export function stringOption<T = string>(flag: string, field: Field<T>, text: FlagText): FlagParser<T> {
  return parser(flag, (value) => check(flag, field, value, value, text))
}

/** One of a field's values; with `ignoreCase`, `random` picks `Random`. The list comes from the field. */
export function enumOption<const V extends string>(
  flag: string,
  field: Field<V> & { readonly options: readonly V[] },
  example: string,
  { ignoreCase = false } = {},
): FlagParser<V> {
  return parser(flag, (value) => {
    const picked = ignoreCase ? (field.options.find((o) => o.toLowerCase() === value.toLowerCase()) ?? value) : value
    const r = field.safeParse(picked)
    if (r.success) return r.data
    return refuse(flag, value, `must be one of ${field.options.join(', ')}`, { example })
  })
}

/** A comma-separated list (`1,2,4,8`) checked by an array field; numeric items become numbers. */
export function listOption<T>(flag: string, field: Field<T>, example: string): FlagParser<T> {
  return parser(flag, (value) => {
    const items = value.split(',').map((part) => asNumber(part.trim()))
    const r = field.safeParse(items)
    if (r.success) return r.data
    const issue = r.error.issues[0] as { message: string; path?: readonly PropertyKey[] } | undefined
    const at = typeof issue?.path?.[0] === 'number' ? value.split(',')[issue.path[0]]?.trim() : undefined
    return refuse(flag, at ?? value, issue?.message ?? 'invalid', { example })
  })
}

/**
 * `--notify <dest>`: checked by the config's notify field. A refused value that looks like a URL is
 * not echoed (a webhook URL is a secret, even a mistyped one).
 */
export function notifyOption<T>(field: Field<T>): FlagParser<T> {
  return stringOption('--notify', field, { example: 'ops@example.com', shown: (v) => (/:\/\//.test(v) ? '<the URL given>' : v) })
}
