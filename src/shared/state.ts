import { randomBytes } from 'node:crypto'
import { access, constants, link, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { writeFileAtomic } from './atomic-file.js'
import { systemClock, type Clock } from './clock.js'
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
  /** The `.corrupt-<time>` suffix and the lock's bounded wait (its deadline and its pauses). @default systemClock */
  readonly clock?: Clock
  /** How long a change waits for another command's lock before it gives up. @default 10_000 ms */
  readonly lockWaitMs?: number
  /**
   * A lock older than this is stale (its command died without removing it) and is taken over; a
   * change holds the lock for milliseconds. @default 30_000 ms
   */
  readonly staleLockMs?: number
}

/** What a lock file holds: who took it, so a stale one can be recognised and named. */
interface LockOwner {
  readonly pid: number
  readonly host: string
  /** ISO time it was taken. */
  readonly at: string
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

  private get clock(): Clock {
    return this.opts.clock ?? systemClock
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
      const aside = `${this.file}.corrupt-${new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-')}`
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

  /** `.mlops/state.json.lock`: held while one command re-reads, changes and writes the file. */
  get lockFile(): string {
    return `${this.file}.lock`
  }

  /**
   * Applies one change to the file as it is NOW, under the lock (issue 27): a long command
   * (`train-ec2`, a waiting `train`) read the file when it started, and writing that snapshot back
   * erased what other commands recorded meanwhile. Re-read under the lock, change, write by atomic
   * rename, release.
   */
  private async update(change: (resources: readonly StateRecord[]) => StateRecord[] | undefined): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true })
    await this.lock()
    try {
      this.cache = undefined
      const resources = change((await this.read()).resources)
      if (resources) await this.write({ version: 1, resources })
    } finally {
      await unlink(this.lockFile).catch(() => undefined)
    }
  }

  /**
   * Takes the lock file (created exclusively), waiting a bounded time for another command's. A lock
   * whose process is gone (same host) or that is older than `staleLockMs` is taken over.
   */
  private async lock(): Promise<void> {
    const waitMs = this.opts.lockWaitMs ?? 10_000
    const staleMs = this.opts.staleLockMs ?? 30_000
    const started = this.clock.now()
    const me: LockOwner = { pid: process.pid, host: hostname(), at: new Date().toISOString() }
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(this.lockFile, 'wx')
        try {
          await handle.writeFile(JSON.stringify(me))
        } finally {
          await handle.close()
        }
        return
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new UserError('StateNotWritable', `Cannot lock ${this.file} (${this.lockFile}): ${(e as Error).message}`, {
            hint: `Make ${path.dirname(this.file)} a writable folder, then run the command again.`,
            cause: e,
          })
        }
      }
      const owner = await this.lockOwner()
      if (owner === 'gone') continue
      if (owner.stale(staleMs)) {
        this.opts.warn?.(`Took over a stale lock on ${this.file} (${owner.describe}).`)
        await this.removeStaleLock(owner.text)
        continue
      }
      if (this.clock.now() - started >= waitMs) {
        throw new UserError('StateLocked', `${this.file} is locked by another mlops command (${owner.describe}); waited ${Math.round(waitMs / 1000)} s.`, {
          hint: `Let that command finish and run this one again. If no mlops command is running, delete ${this.lockFile}.`,
        })
      }
      await this.clock.sleep(Math.min(50, 5 * 2 ** Math.min(attempt, 4)))
    }
  }

  /**
   * Removes the lock judged stale, and only that one: it is renamed aside first and put back (by
   * an exclusive link) when it turns out to be a fresh lock another command took meanwhile.
   */
  private async removeStaleLock(staleText: string): Promise<void> {
    const aside = `${this.lockFile}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
    try {
      await rename(this.lockFile, aside)
    } catch {
      return // released or taken over meanwhile: try again
    }
    const text = await readFile(aside, 'utf8').catch(() => staleText)
    if (text !== staleText) await link(aside, this.lockFile).catch(() => undefined)
    await unlink(aside).catch(() => undefined)
  }

  /** Who holds the lock, and whether it is stale; 'gone' when it was released meanwhile. */
  private async lockOwner(): Promise<'gone' | { text: string; describe: string; stale: (ms: number) => boolean }> {
    let text: string
    let mtime: number
    try {
      ;[text, mtime] = await Promise.all([readFile(this.lockFile, 'utf8'), stat(this.lockFile).then((s) => s.mtimeMs)])
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'gone'
      throw e
    }
    let owner: Partial<LockOwner> = {}
    try {
      owner = JSON.parse(text) as Partial<LockOwner>
    } catch {
      // Being written this very moment, or garbage: judged by its age alone.
    }
    const dead = typeof owner.pid === 'number' && owner.host === hostname() && !processAlive(owner.pid)
    return {
      text,
      describe: `process ${owner.pid ?? 'unknown'} on ${owner.host ?? 'an unknown host'} since ${owner.at ?? new Date(mtime).toISOString()}`,
      // The file's mtime is the file system's wall clock, so its age is judged by the wall clock too.
      stale: (ms) => dead || Date.now() - mtime > ms,
    }
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

  /** Adds or replaces (same kind and name) a record, in the file as it is now (under the lock). */
  async record(rec: StateRecord): Promise<void> {
    await this.update((resources) => [...resources.filter((r) => !(r.kind === rec.kind && r.name === rec.name)), rec])
  }

  /** Removes a record, from the file as it is now (under the lock). */
  async remove(kind: ResourceKind, name: string): Promise<void> {
    await this.update((resources) => {
      const kept = resources.filter((r) => !(r.kind === kind && r.name === name))
      return kept.length !== resources.length ? kept : undefined
    })
  }
}

/** True when a process with this id exists (EPERM: it exists, owned by someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}
