import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'

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

export class StateStore {
  readonly file: string
  private cache?: StateFile

  /** @param dir the folder holding mlops.config.yaml; state lives in `<dir>/.mlops/state.json`. */
  constructor(dir: string) {
    this.file = path.join(dir, '.mlops', 'state.json')
  }

  private async read(): Promise<StateFile> {
    if (this.cache) return this.cache
    try {
      const parsed = JSON.parse(await readFile(this.file, 'utf8')) as StateFile
      this.cache = parsed && Array.isArray(parsed.resources) ? parsed : { version: 1, resources: [] }
    } catch {
      // Missing or corrupt state is not an error: it is a cache rebuilt from AWS.
      this.cache = { version: 1, resources: [] }
    }
    return this.cache
  }

  private async write(state: StateFile): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true })
    // Write then rename, so a crash mid-write never leaves half a file.
    const tmp = `${this.file}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify(state, null, 2) + '\n')
    await rename(tmp, this.file)
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
