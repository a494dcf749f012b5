import { access, constants, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { writeFileAtomic } from './atomic-file.js'
import { UserError } from './errors.js'

/**
 * `.mlops/state.json`: a small local record of what mlops created, so `deploy` finds the latest
 * model and `teardown` knows what to remove. It is a cache, never the truth: every command also
 * works when it is missing, recovering from tags and Describe calls.
 */

export type ResourceKind =
  | 'training-job'
  | 'tuning-job'
  | 'model-artifact'
  | 'code-package'
  | 'model'
  | 'endpoint-config'
  | 'endpoint'
  | 'scaling-target'
  | 'function'
  | 'role'
  | 'instance-profile'
  | 'instance'
  | 'security-group'
  | 'bucket'
  /** A model trained by `mlops train --local`; name = the local job, details.modelArtifact = its model.tar.gz. */
  | 'local-model'

export interface StateRecord {
  readonly kind: ResourceKind
  /** Name or id as AWS knows it. */
  readonly name: string
  readonly arn?: string
  readonly region: string
  /** ISO time it was recorded. */
  readonly createdAt: string
  /** Kind-specific facts: a model's S3 URI, a job's final metrics, an instance's type. */
  readonly details?: Record<string, unknown>
}

interface StateFile {
  version: 1
  resources: StateRecord[]
}

export interface StateStoreOptions {
  /** Where a warning goes (a corrupt file set aside). @default nothing */
  readonly warn?: (message: string) => void
  /** Clock for the `.corrupt-<time>` suffix. @default Date.now */
  readonly now?: () => number
}

const STRING_FIELDS = ['kind', 'name', 'region', 'createdAt'] as const

/** Checks each record's shape, so a hand-edited file gives a named error instead of a TypeError later. */
function validateRecords(file: string, resources: unknown): StateRecord[] {
  const fix = `Fix or delete ${file}: it is a cache, and mlops rebuilds what it needs from AWS tags.`
  if (!Array.isArray(resources)) throw new UserError('StateInvalid', `${file}: "resources" must be a list, got ${typeOf(resources)}.`, { hint: fix })
  resources.forEach((r, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new UserError('StateInvalid', `${file}: resources[${i}] must be an object, got ${typeOf(r)}.`, { hint: fix })
    }
    const rec = r as Record<string, unknown>
    for (const field of STRING_FIELDS) {
      if (typeof rec[field] !== 'string') {
        throw new UserError('StateInvalid', `${file}: resources[${i}].${field} must be a string, got ${typeOf(rec[field])}.`, { hint: fix })
      }
    }
    if (rec.arn !== undefined && typeof rec.arn !== 'string') {
      throw new UserError('StateInvalid', `${file}: resources[${i}].arn must be a string, got ${typeOf(rec.arn)}.`, { hint: fix })
    }
    if (rec.details !== undefined && (typeof rec.details !== 'object' || rec.details === null || Array.isArray(rec.details))) {
      throw new UserError('StateInvalid', `${file}: resources[${i}].details must be an object, got ${typeOf(rec.details)}.`, { hint: fix })
    }
  })
  return resources as StateRecord[]
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v
}

export class StateStore {
  readonly file: string
  private cache?: StateFile
  private readonly opts: StateStoreOptions

  /** @param dir the folder holding mlops.config.yaml; state lives in `<dir>/.mlops/state.json`. */
  constructor(dir: string, opts: StateStoreOptions = {}) {
    this.file = path.join(dir, '.mlops', 'state.json')
    this.opts = opts
  }

  /**
   * Missing state is an empty cache. A file that is not JSON is set aside as
   * `state.json.corrupt-<time>` (with a warning) rather than silently overwritten; an unknown
   * `version` is refused (a newer mlops wrote it) and wrong-typed records are a named error.
   */
  private async read(): Promise<StateFile> {
    if (this.cache) return this.cache
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new UserError('StateUnreadable', `Cannot read ${this.file}: ${(e as Error).message}`, {
          hint: 'Make it a readable file, or move it away.',
          cause: e,
        })
      }
      this.cache = { version: 1, resources: [] }
      return this.cache
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      const aside = `${this.file}.corrupt-${new Date((this.opts.now ?? Date.now)()).toISOString().replace(/[:.]/g, '-')}`
      await rename(this.file, aside)
      this.opts.warn?.(`${this.file} was not valid JSON; set it aside as ${aside} and started a new one (mlops finds its resources by tag too).`)
      this.cache = { version: 1, resources: [] }
      return this.cache
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new UserError('StateInvalid', `${this.file} must be a JSON object with "version" and "resources", got ${typeOf(parsed)}.`, {
        hint: `Fix or delete ${this.file}: it is a cache, and mlops rebuilds what it needs from AWS tags.`,
      })
    }
    const o = parsed as Record<string, unknown>
    if (o.version !== 1) {
      throw new UserError('StateVersionUnknown', `${this.file} has version ${JSON.stringify(o.version)}; this mlops reads version 1 and will not rewrite it.`, {
        hint: 'A newer mlops wrote it: upgrade mlops, or move the file away to start a new one.',
      })
    }
    this.cache = { version: 1, resources: validateRecords(this.file, o.resources ?? []) }
    return this.cache
  }

  /**
   * Throws a UserError unless the state file can be written: call it BEFORE an AWS change whose
   * record would otherwise be lost (an orphan model after EISDIR). Reads the file too, so a corrupt
   * or unknown-version file stops the command before it changes anything.
   */
  async checkWritable(): Promise<void> {
    const dir = path.dirname(this.file)
    const fail = (e: unknown): never => {
      throw new UserError('StateNotWritable', `Cannot write ${this.file}: ${(e as Error).message}. Nothing was changed in AWS.`, {
        hint: `Make ${dir} a writable folder and ${this.file} a writable file (or remove it), then run the command again.`,
        cause: e,
      })
    }
    try {
      await mkdir(dir, { recursive: true })
      const st = await stat(this.file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : fail(e)))
      if (st && !st.isFile()) throw Object.assign(new Error('it is not a regular file'), { code: st.isDirectory() ? 'EISDIR' : 'EINVAL' })
      if (st) await access(this.file, constants.W_OK)
      const probe = `${this.file}.${process.pid}.probe`
      await writeFile(probe, '')
      await unlink(probe)
    } catch (e) {
      if (e instanceof UserError) throw e
      fail(e)
    }
    await this.read()
  }

  private async write(state: StateFile): Promise<void> {
    // Write then rename, so a crash or a full disk never leaves half a file; a full disk names this file.
    await writeFileAtomic(this.file, JSON.stringify(state, null, 2) + '\n')
    this.cache = state
  }

  async all(): Promise<readonly StateRecord[]> {
    return (await this.read()).resources
  }

  async list(kind: ResourceKind): Promise<StateRecord[]> {
    return (await this.read()).resources.filter((r) => r.kind === kind)
  }

  /** The most recently recorded resource of a kind, optionally filtered. */
  async latest(kind: ResourceKind, filter: (r: StateRecord) => boolean = () => true): Promise<StateRecord | undefined> {
    const matching = (await this.list(kind)).filter(filter)
    return matching.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1)
  }

  /** Adds or replaces (same kind and name) a record. */
  async record(rec: StateRecord): Promise<void> {
    const state = await this.read()
    const others = state.resources.filter((r) => !(r.kind === rec.kind && r.name === rec.name))
    await this.write({ version: 1, resources: [...others, rec] })
  }

  async remove(kind: ResourceKind, name: string): Promise<void> {
    const state = await this.read()
    const kept = state.resources.filter((r) => !(r.kind === kind && r.name === name))
    if (kept.length !== state.resources.length) await this.write({ version: 1, resources: kept })
  }
}
