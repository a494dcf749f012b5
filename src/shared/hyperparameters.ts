import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ConfigError, UserError } from './errors.js'
import type { Ui } from './output.js'

/**
 * Hyperparameters checked before any AWS call (issue 14 item 11). The training script declares
 * what it accepts in `hyperparameters.json` beside it (scripts/hyperparameters.json documents the
 * format in its `$comment`; train.py builds its argparse parser from the same file), so a bad
 * `epochs: -3` fails here in a second instead of minutes into a billed job. A user's own script
 * without that file is passed through unchecked.
 */

export const HYPERPARAMETERS_FILE = 'hyperparameters.json'

type Value = string | number | boolean

/** One entry of hyperparameters.json (format 1). */
export interface HyperparameterSpec {
  readonly name: string
  readonly type: 'int' | 'float' | 'bool' | 'string' | 'choice'
  readonly default?: Value | null
  readonly min?: number
  readonly max?: number
  readonly choices?: readonly string[]
  /** choice only: what true/false mean (amp: false -> off). */
  readonly bool_means?: { readonly true: string; readonly false: string }
  readonly help?: string
}

/** The same spellings train.py's str_to_bool accepts. */
const TRUE_WORDS = ['1', 'true', 't', 'yes', 'y', 'on']
const FALSE_WORDS = ['0', 'false', 'f', 'no', 'n', 'off', 'none', '']

/** Normalised name: `batch_size` and `batch-size` are the same hyperparameter (train.py accepts both). */
export const hyperparameterKey = (name: string) => name.replace(/_/g, '-')

/** Keys SageMaker sets itself (script mode's `sagemaker_*`, the tuner's objective metric), never the script's. */
export const isReservedHyperparameter = (name: string) => name.startsWith('sagemaker_') || name === '_tuning_objective_metric'

/**
 * The paths the launcher sets for the script (SageMaker's SM_CHANNEL_* / SM_MODEL_DIR /
 * SM_OUTPUT_DATA_DIR, which mlops sets the same way for local and EC2 runs): where the data is read
 * and the model and metrics are written. As hyperparameters they would point the job somewhere
 * SageMaker neither fills nor uploads (issue 27: `--hyperparameter model-dir=...` crashed the CLI).
 */
export const LAUNCHER_PATHS = ['model-dir', 'train', 'valid', 'validation', 'test', 'output-data-dir'] as const

/**
 * Refuses a launcher-set path among `hps`, naming where it came from (`--hyperparameter model-dir`
 * or `training.hyperparameters.model-dir`). Exit 2, before anything is read or sent.
 */
export function refuseLauncherPaths(hps: Readonly<Record<string, Value>>, source: 'flag' | 'config'): void {
  const key = Object.keys(hps).find((k) => (LAUNCHER_PATHS as readonly string[]).includes(hyperparameterKey(k)))
  if (key === undefined) return
  const where = source === 'flag' ? `--hyperparameter ${key}` : `training.hyperparameters.${key}`
  throw new UserError('LauncherSetHyperparameter', `${where}: "${key}" is a path the launcher sets for the training script, not a hyperparameter.`, {
    hint:
      `Remove it. The launcher sets ${LAUNCHER_PATHS.join(', ')} (SageMaker's SM_CHANNEL_*, SM_MODEL_DIR and SM_OUTPUT_DATA_DIR): ` +
      'the data comes from data.bucket/data.prefix and the model goes to training.outputPrefix.',
  })
}

/** Config hyperparameters with the flags' values over them, one spelling per name (`batch_size` replaces `batch-size`). */
export function mergeHyperparameters(base: Readonly<Record<string, Value>>, overrides: Readonly<Record<string, Value>> = {}): Record<string, Value> {
  refuseLauncherPaths(overrides, 'flag')
  refuseLauncherPaths(base, 'config')
  const merged: Record<string, Value> = { ...base }
  for (const [k, v] of Object.entries(overrides)) {
    for (const existing of Object.keys(merged)) if (hyperparameterKey(existing) === hyperparameterKey(k)) delete merged[existing]
    merged[k] = v
  }
  return merged
}

/** The specs in `<sourceDir>/hyperparameters.json`; undefined when the folder has no such file. */
export async function loadHyperparameterSpecs(sourceDir: string): Promise<HyperparameterSpec[] | undefined> {
  const file = path.join(sourceDir, HYPERPARAMETERS_FILE)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let doc: { hyperparameters?: unknown }
  try {
    doc = JSON.parse(text) as { hyperparameters?: unknown }
  } catch (err) {
    throw new UserError('InvalidHyperparameterSpec', `${file} is not valid JSON: ${(err as Error).message}`, {
      hint: `Fix the file, or delete it to pass hyperparameters to the script unchecked.`,
      cause: err,
    })
  }
  if (!Array.isArray(doc.hyperparameters)) {
    throw new UserError('InvalidHyperparameterSpec', `${file} has no "hyperparameters" list.`, {
      hint: 'See the $comment in the hyperparameters.json bundled with mlops for the format.',
    })
  }
  return doc.hyperparameters as HyperparameterSpec[]
}

function bounds(spec: HyperparameterSpec): string {
  const { min, max } = spec
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`
  if (min !== undefined) return `at least ${min}`
  if (max !== undefined) return `at most ${max}`
  return 'any number'
}

function shown(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : String(v)
}

function asNumber(v: Value): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v)
  return undefined
}

/** What is wrong with one value for its spec, or undefined when train.py would accept it. */
export function problemWith(spec: HyperparameterSpec, value: Value): string | undefined {
  switch (spec.type) {
    case 'int':
    case 'float': {
      const n = asNumber(value)
      const kind = spec.type === 'int' ? 'a whole number' : 'a number'
      if (n === undefined || (spec.type === 'int' && !Number.isInteger(n))) return `expected ${kind} ${bounds(spec)}, got ${shown(value)}`
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) return `must be ${bounds(spec)}, got ${shown(value)}`
      return undefined
    }
    case 'bool':
      if (typeof value === 'boolean') return undefined
      if ([...TRUE_WORDS, ...FALSE_WORDS].includes(String(value).trim().toLowerCase())) return undefined
      return `expected true or false, got ${shown(value)}`
    case 'choice': {
      const choices = spec.choices ?? []
      if (typeof value === 'string' && choices.includes(value)) return undefined
      const asBool = typeof value === 'boolean' || [...TRUE_WORDS, ...FALSE_WORDS].includes(String(value).trim().toLowerCase())
      if (spec.bool_means && asBool) return undefined
      return `must be one of ${choices.join(', ')}${spec.bool_means ? ' (or true/false)' : ''}, got ${shown(value)}`
    }
    default:
      return undefined
  }
}

/** One tuning range from training.tuning.ranges, as the config schema gives it. */
export type TuningRange =
  { readonly type: 'continuous' | 'integer'; readonly min: number; readonly max: number } | { readonly type: 'categorical'; readonly values: readonly Value[] }

function rangeProblems(spec: HyperparameterSpec, range: TuningRange, at: string): string[] {
  if (range.type === 'categorical') {
    return range.values.flatMap((v, i) => {
      const p = problemWith(spec, v)
      return p ? [`${at}.values.${i}: ${p}`] : []
    })
  }
  if (spec.type !== 'int' && spec.type !== 'float') return [`${at}.type: ${spec.name} is a ${spec.type}, so only a categorical range fits it`]
  if (spec.type === 'int' && range.type === 'continuous') return [`${at}.type: ${spec.name} takes whole numbers: use type: integer`]
  return (['min', 'max'] as const).flatMap((end) => {
    const p = problemWith(spec, range[end])
    return p ? [`${at}.${end}: ${p}`] : []
  })
}

export interface HyperparameterCheck {
  /** False when the script folder has no hyperparameters.json (nothing was checked). */
  readonly checked: boolean
  /** Names the script does not declare (train.py ignores them with a warning): probably typos. */
  readonly unknown: readonly string[]
}

export interface CheckOptions {
  /** Where the values came from: the message names `training.hyperparameters.<name>` or `--hyperparameter <name>=...`. */
  readonly source: 'config' | 'flag'
  /** training.tuning.ranges, checked against the same specs (config paths). */
  readonly ranges?: Readonly<Record<string, TuningRange>>
}

/**
 * Checks hyperparameter values (and tuning ranges) against `<sourceDir>/hyperparameters.json`.
 * Throws ConfigError (source 'config') or UserError 'InvalidFlag' (source 'flag'), both exit 2,
 * naming the dotted path or the flag, what was wrong and the allowed range. Keys SageMaker
 * reserves (`sagemaker_*`) are not the script's and are left alone.
 */
export async function checkHyperparameters(sourceDir: string, values: Readonly<Record<string, Value>>, opts: CheckOptions): Promise<HyperparameterCheck> {
  const specs = await loadHyperparameterSpecs(sourceDir)
  if (!specs) return { checked: false, unknown: [] }
  return checkAgainstSpecs(specs, sourceDir, values, opts)
}

/** checkHyperparameters for specs already loaded, so one command reads and parses the file once. */
function checkAgainstSpecs(
  specs: readonly HyperparameterSpec[],
  sourceDir: string,
  values: Readonly<Record<string, Value>>,
  opts: CheckOptions,
): HyperparameterCheck {
  const byKey = new Map(specs.map((s) => [hyperparameterKey(s.name), s]))
  const unknown: string[] = []
  const problems: string[] = []
  for (const [name, value] of Object.entries(values)) {
    if (isReservedHyperparameter(name)) continue
    const spec = byKey.get(hyperparameterKey(name))
    if (!spec) {
      unknown.push(name)
      continue
    }
    const problem = problemWith(spec, value)
    if (!problem) continue
    problems.push(opts.source === 'flag' ? `--hyperparameter ${name}=${value}: ${problem}` : `• training.hyperparameters.${name}: ${problem}`)
  }
  for (const [name, range] of Object.entries(opts.ranges ?? {})) {
    const spec = byKey.get(hyperparameterKey(name))
    if (spec) problems.push(...rangeProblems(spec, range, `training.tuning.ranges.${name}`).map((p) => `• ${p}`))
    else unknown.push(name)
  }
  if (problems.length > 0) throw invalidHyperparameters(problems, opts.source, path.join(sourceDir, HYPERPARAMETERS_FILE))
  return { checked: true, unknown }
}

function invalidHyperparameters(problems: string[], source: 'config' | 'flag', file: string): UserError {
  const hint = `The allowed values are declared in ${file}.`
  if (source === 'flag' && problems.every((p) => p.startsWith('--'))) {
    return new UserError('InvalidFlag', problems.join('\n'), { hint })
  }
  const count = problems.length === 1 ? '1 invalid value' : `${problems.length} invalid values`
  return new ConfigError(`The training hyperparameters have ${count}:`, problems, { hint })
}

/** Edit distance between two names (insert, delete, substitute), for "Did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)))
    prev = row
  }
  return prev[b.length]!
}

/**
 * The declared name closest to a misspelt one (`epoch` -> `epochs`, `learning-rate` is too far from
 * `lr` to guess), or undefined when nothing is near: at most 2 edits, and fewer than a third of the name.
 */
export function closestHyperparameter(name: string, declared: readonly string[]): string | undefined {
  const key = hyperparameterKey(name).toLowerCase()
  let best: { name: string; d: number } | undefined
  for (const candidate of declared) {
    const d = editDistance(key, hyperparameterKey(candidate).toLowerCase())
    if (d <= 2 && d * 3 < Math.max(key.length, 3) + 1 && (!best || d < best.d)) best = { name: candidate, d }
  }
  return best?.name
}

/** How this run treats names the script does not declare: stop (exit 2) unless --yes; --dry-run only warns. */
export interface UnknownHyperparameterGate {
  readonly ui: Pick<Ui, 'warn'>
  /** --yes: run anyway, with the warning. */
  readonly yes: boolean
  /** --dry-run: nothing runs, so the plan is shown with the warning. */
  readonly dryRun: boolean
}

/**
 * The script's declared hyperparameters (its hyperparameters.json) against the config's values,
 * the --hyperparameter flags and the tuning ranges: exit 2 before any AWS call or process start. A
 * config value a flag replaces is not checked (the flag's is). A name the script does not declare
 * (issue 31 item 10: `epoch: 3` silently ran 10 epochs) stops the run with "Did you mean" from the
 * script's table unless --yes; --dry-run warns. `train`, `tune`, `train-ec2` and `train --local`
 * all check this one way.
 */
export async function checkScriptHyperparameters(
  gate: UnknownHyperparameterGate,
  sourceDir: string,
  configValues: Readonly<Record<string, Value>>,
  flagValues: Readonly<Record<string, Value>> = {},
  ranges?: Readonly<Record<string, TuningRange>>,
): Promise<void> {
  const replaced = new Set(Object.keys(flagValues).map(hyperparameterKey))
  const fromConfig = Object.fromEntries(Object.entries(configValues).filter(([k]) => !replaced.has(hyperparameterKey(k))))
  const specs = await loadHyperparameterSpecs(sourceDir)
  if (!specs) return
  const fromFlags = checkAgainstSpecs(specs, sourceDir, flagValues, { source: 'flag' }).unknown
  const unknown = [...checkAgainstSpecs(specs, sourceDir, fromConfig, { source: 'config', ...(ranges ? { ranges } : {}) }).unknown, ...fromFlags]
  if (unknown.length === 0) return
  const declared = specs.map((s) => s.name)
  const guesses = unknown.flatMap((name) => {
    const guess = closestHyperparameter(name, declared)
    return guess ? [unknown.length === 1 ? `\`${guess}\`` : `\`${guess}\` for ${name}`] : []
  })
  const message =
    `${sourceDir}/${HYPERPARAMETERS_FILE} does not declare ${unknown.join(', ')}: the script will ignore ${unknown.length === 1 ? 'it' : 'them'}.` +
    (guesses.length > 0 ? ` Did you mean ${guesses.join(', ')}?` : '')
  if (gate.yes || gate.dryRun) {
    gate.ui.warn(gate.dryRun && !gate.yes ? `${message} A real run stops here unless --yes.` : message)
    return
  }
  const where = fromFlags.length === unknown.length ? 'the --hyperparameter flag' : 'training.hyperparameters in mlops.config.yaml'
  throw new UserError('UnknownHyperparameter', message, {
    hint: `Fix the name in ${where} (the script accepts ${declared.join(', ')}), or pass --yes to run with it ignored.`,
  })
}

/**
 * The hint for an unknown CLI option that is a hyperparameter of the bundled script
 * (`mlops train --epochs 3` -> `--hyperparameter epochs=3`), or undefined. `option` is what commander
 * reports (`--epochs` or `--epochs=3`); `next` the argument after it, taken as the value.
 */
export function hyperparameterFlagHint(option: string, next: string | undefined, declared: readonly string[]): string | undefined {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(option)
  if (!m) return undefined
  const name = declared.find((d) => hyperparameterKey(d) === hyperparameterKey(m[1]!))
  if (!name) return undefined
  const value = m[2] ?? (next !== undefined && !next.startsWith('-') ? next : '<value>')
  return `${option.split('=')[0]} is a hyperparameter of the training script, not an mlops flag: pass --hyperparameter ${name}=${value}.`
}

/** The names the bundled script declares, read synchronously for commander's error path. */
export function bundledHyperparameterNames(scriptsDir: string): string[] {
  try {
    const doc = JSON.parse(readFileSync(path.join(scriptsDir, HYPERPARAMETERS_FILE), 'utf8')) as { hyperparameters?: { name?: unknown }[] }
    return (doc.hyperparameters ?? []).flatMap((h) => (typeof h.name === 'string' ? [h.name] : []))
  } catch {
    // A hint only: an unreadable table means no suggestion, and commander's own message still stands.
    return []
  }
}
