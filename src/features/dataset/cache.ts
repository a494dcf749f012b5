import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { LocalFile } from '../../shared/dataset-layout.js'

/**
 * `.mlops/upload-cache.json`: what lets a no-change `upload-data` cost one listing and local stats.
 *
 * Two records, both caches (deleting the file is always safe; the next run is just slower):
 *
 * - `hashes`: absolute path -> size, mtime and sha256 of the content, and whether its first bytes were
 *   found to be an image's. A file whose size and mtime match is not opened again, neither to hash it
 *   nor to check its first bytes (the same trade-off `aws s3 sync` makes with size and mtime;
 *   `upload-data --checksum` reads every file instead).
 * - `objects`: bucket -> key -> size, sha256 and ETag of what mlops uploaded.
 *
 * Why the second record: the sha256 of each file is stored on its object as `x-amz-meta-sha256`, but
 * ListObjectsV2 returns only key, size and ETag, never metadata, and the ETag of a multipart (or
 * SSE-KMS) object is not an MD5 of the content. So a listing alone cannot prove that an object of the
 * right size has the right content. When the listing's size and ETag still equal what this machine
 * recorded at upload time, the object has not been rewritten since, and the recorded sha256 holds.
 * Only objects with no record (uploaded from another machine, or the cache was deleted) cost a
 * HeadObject, which returns the metadata; the answer is recorded, so it is paid once.
 */

export interface HashRecord {
  readonly size: number
  readonly mtimeMs: number
  readonly sha256: string
  /** The layout check found the file's first bytes to be an image's (absent after --no-validate runs). */
  readonly image?: true
}

export interface ObjectRecord {
  readonly size: number
  readonly sha256: string
  /** ETag as S3 returns it, quotes included. */
  readonly etag: string
}

interface CacheFile {
  version: 1
  hashes: Record<string, HashRecord>
  objects: Record<string, Record<string, ObjectRecord>>
}

export class UploadCache {
  readonly file: string
  private data: CacheFile
  private dirty = false

  private constructor(file: string, data: CacheFile) {
    this.file = file
    this.data = data
  }

  /** `.mlops/upload-cache.json` in the project folder. */
  static pathFor(projectDir: string): string {
    return path.join(projectDir, '.mlops', 'upload-cache.json')
  }

  /** Loads the cache; a missing, corrupt or older-format file gives an empty one. */
  static async load(file: string): Promise<UploadCache> {
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile>
      if (parsed?.version === 1 && typeof parsed.hashes === 'object' && typeof parsed.objects === 'object' && parsed.hashes && parsed.objects) {
        return new UploadCache(file, parsed as CacheFile)
      }
    } catch {
      // A cache that cannot be read is rebuilt: the next run hashes files and asks S3 again.
    }
    return new UploadCache(file, { version: 1, hashes: {}, objects: {} })
  }

  /** The sha256 of a file's content when its size and mtime are unchanged since it was hashed. */
  hashOf(f: Pick<LocalFile, 'path' | 'size' | 'mtimeMs'>): string | undefined {
    const h = this.data.hashes[f.path]
    return h && h.size === f.size && h.mtimeMs === f.mtimeMs ? h.sha256 : undefined
  }

  /**
   * The size and mtime a file had when it was last read, for the scan (`ScanOptions.checkedBefore`):
   * for a validated scan only records made by one (`image`), so a --no-validate run vouches for nothing.
   */
  checkedBefore(path: string, o: { readonly image: boolean }): HashRecord | undefined {
    const h = this.data.hashes[path]
    return h && (h.image || !o.image) ? h : undefined
  }

  /** `image`: the scan that found this file checked its first bytes (a validated layout). */
  rememberHash(f: Pick<LocalFile, 'path' | 'size' | 'mtimeMs'>, sha256: string, o: { readonly image?: boolean } = {}): void {
    const h = this.data.hashes[f.path]
    const same = h && h.size === f.size && h.mtimeMs === f.mtimeMs && h.sha256 === sha256
    if (same && (h.image || !o.image)) return
    this.data.hashes[f.path] = { size: f.size, mtimeMs: f.mtimeMs, sha256, ...(o.image ? { image: true as const } : {}) }
    this.dirty = true
  }

  /** Drops hash records of files below `root` that are no longer there, so the file does not grow forever. */
  pruneHashes(root: string, keep: ReadonlySet<string>): void {
    const base = root.endsWith(path.sep) ? root : root + path.sep
    for (const p of Object.keys(this.data.hashes)) {
      if (p.startsWith(base) && !keep.has(p)) {
        delete this.data.hashes[p]
        this.dirty = true
      }
    }
  }

  object(bucket: string, key: string): ObjectRecord | undefined {
    return this.data.objects[bucket]?.[key]
  }

  rememberObject(bucket: string, key: string, rec: ObjectRecord): void {
    const objects = (this.data.objects[bucket] ??= {})
    const old = objects[key]
    if (old && old.size === rec.size && old.sha256 === rec.sha256 && old.etag === rec.etag) return
    objects[key] = { size: rec.size, sha256: rec.sha256, etag: rec.etag }
    this.dirty = true
  }

  forgetObject(bucket: string, key: string): void {
    if (this.data.objects[bucket]?.[key]) {
      delete this.data.objects[bucket][key]
      this.dirty = true
    }
  }

  /** Whether this machine recorded an upload to `bucket` (a re-sync). */
  knowsBucket(bucket: string): boolean {
    for (const _ in this.data.objects[bucket] ?? {}) return true
    return false
  }

  /** Recorded keys under `prefix` (which should end with `/`). */
  objectKeys(bucket: string, prefix: string): string[] {
    return Object.keys(this.data.objects[bucket] ?? {})
      .filter((k) => k.startsWith(prefix))
      .sort()
  }

  /**
   * Writes the file if anything changed (write-then-rename, so a crash never leaves half a file).
   * Saves are queued, so a periodic save and the final one never interleave.
   */
  save(): Promise<void> {
    const run = this.saving.then(() => this.write())
    this.saving = run.catch(() => undefined) // the caller of this save sees its error; the queue goes on
    return run
  }

  private saving: Promise<void> = Promise.resolve()

  private async write(): Promise<void> {
    if (!this.dirty) return
    // Snapshot synchronously: records added while the file is being written stay dirty for the next save.
    const text = JSON.stringify(this.data)
    this.dirty = false
    try {
      await mkdir(path.dirname(this.file), { recursive: true })
      const tmp = `${this.file}.${process.pid}.tmp`
      await writeFile(tmp, text)
      await rename(tmp, this.file)
    } catch (err) {
      this.dirty = true
      throw err
    }
  }
}
