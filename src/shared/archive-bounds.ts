import { createReadStream } from 'node:fs'
import { stat, statfs } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import { Parser, extract as extractTar } from 'tar'
import { OperationError, UserError } from './errors.js'
import { formatBytes } from './output.js'

/**
 * The bounds every archive mlops unpacks is held to: dataset zips (features/dataset/unzip.ts) and
 * model archives (`serve --model x.tar.gz`, deploy's repack). A 3 MB model.tar.gz that became
 * 1 GiB, and a 1000:1 bomb that ended in "Unexpected error" (issue 27), are refused with the same
 * total, ratio and free-disk limits as a dataset, before anything is written.
 */

export interface ArchiveLimits {
  /** Sum of declared uncompressed sizes. @default 64 GiB */
  readonly maxTotalBytes?: number
  /** @default 1,000,000 */
  readonly maxEntries?: number
  /** Largest uncompressed/compressed ratio (over MIN_RATIO_BYTES; JPEGs and weights are ~1:1, bombs 1000:1). @default 200 */
  readonly maxRatio?: number
  /** Bytes free for an unprivileged writer on the file system holding `dir` (tests). @default statfs */
  readonly freeBytes?: (dir: string) => Promise<number>
}

export const DEFAULT_MAX_TOTAL_BYTES = 64 * 1024 ** 3
export const DEFAULT_MAX_ENTRIES = 1_000_000
export const DEFAULT_MAX_RATIO = 200
/** Below this an archive (or an entry) is too small for its ratio to matter. */
export const MIN_RATIO_BYTES = 64 * 1024 * 1024

/** Free bytes for an unprivileged writer where `dir` lives. */
export async function freeBytesAt(dir: string): Promise<number> {
  const s = await statfs(dir)
  return Number(s.bavail) * Number(s.bsize)
}

/** An archive's total unpacked size must fit on the disk, with 1% (at least 64 MiB) to spare. */
export async function checkFreeSpace(
  dir: string,
  label: string,
  total: number,
  freeBytes: (dir: string) => Promise<number> = freeBytesAt,
  hint = 'Free some space, or pass --source <dir> on a disk with room for the dataset.',
): Promise<void> {
  const free = await freeBytes(dir)
  const need = total + Math.max(64 * 1024 * 1024, Math.ceil(total / 100))
  if (free >= need) return
  throw new UserError(
    'NotEnoughDisk',
    `${label} unpacks to ${formatBytes(total)}, but ${dir} has ${formatBytes(free)} free (${formatBytes(need)} needed with a margin); nothing was extracted.`,
    { hint },
  )
}

/** Tar entry types a model archive may hold; links and devices are refused. */
const PLAIN_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory'])

export interface TarExtractOptions extends ArchiveLimits {
  /** How the archive is named in messages (a path or an s3:// URI). */
  readonly label: string
  /** What to do about a refused archive. */
  readonly hint: string
  readonly signal?: AbortSignal
}

export interface TarScan {
  readonly entries: number
  /** Sum of the declared sizes of the files. */
  readonly totalBytes: number
  /** Bytes of the archive file (compressed). */
  readonly archiveBytes: number
}

class Refused extends Error {}

/**
 * Reads a (gzipped) tar once without writing anything: every entry a plain file or folder, the
 * declared total within maxTotalBytes, at most maxEntries, and the whole archive's expansion within
 * maxRatio once it passes MIN_RATIO_BYTES. The gunzipped stream is counted too, so a bomb of
 * headers or padding stops as soon as it passes the bound rather than after a gigabyte.
 */
export async function scanTar(file: string, o: TarExtractOptions): Promise<TarScan> {
  const maxTotal = o.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES
  const maxEntries = o.maxEntries ?? DEFAULT_MAX_ENTRIES
  const maxRatio = o.maxRatio ?? DEFAULT_MAX_RATIO
  const archiveBytes = (await stat(file)).size
  const bomb = (why: string) => new UserError('UnsafeArchive', `${o.label} looks like an archive bomb: ${why}; nothing was extracted.`, { hint: o.hint })
  const ratioOf = (n: number) => n / Math.max(1, archiveBytes)
  let entries = 0
  let totalBytes = 0
  let inflated = 0
  let refusal: UserError | undefined
  const parser = new Parser({ strict: true })
  parser.on('entry', (entry: { type: string; path: string; size: number; resume: () => void }) => {
    entry.resume()
    if (refusal) return
    entries++
    if (!PLAIN_TYPES.has(entry.type)) {
      refusal = new UserError(
        'UnsafeArchive',
        `${o.label} holds ${entry.path}, a ${entry.type === 'SymbolicLink' ? 'symbolic link' : entry.type === 'Link' ? 'hard link' : entry.type} entry; a model archive holds plain files only, and nothing was extracted.`,
        { hint: o.hint },
      )
      return
    }
    totalBytes += entry.size
    if (entries > maxEntries) refusal = bomb(`more than ${maxEntries.toLocaleString('en-US')} entries`)
    else if (totalBytes > maxTotal) refusal = bomb(`it expands to more than ${maxTotal.toLocaleString('en-US')} bytes`)
    else if (totalBytes > MIN_RATIO_BYTES && ratioOf(totalBytes) > maxRatio) {
      refusal = bomb(`${formatBytes(archiveBytes)} expands to at least ${formatBytes(totalBytes)} (${Math.round(ratioOf(totalBytes))}:1; limit ${maxRatio}:1)`)
    }
  })
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      inflated += chunk.length
      if (refusal) return done(new Refused())
      if (inflated > maxTotal + 1024 * 1024 || (inflated > MIN_RATIO_BYTES && ratioOf(inflated) > maxRatio)) {
        refusal = bomb(`${formatBytes(archiveBytes)} inflates past ${formatBytes(inflated)} (${Math.round(ratioOf(inflated))}:1; limit ${maxRatio}:1)`)
        return done(new Refused())
      }
      done(null, chunk)
    },
  })
  const head = await readHead(file)
  const gzipped = head[0] === 0x1f && head[1] === 0x8b
  try {
    const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [
      createReadStream(file),
      ...(gzipped ? [zlib.createGunzip()] : []),
      count,
      parser as unknown as NodeJS.WritableStream,
    ]
    await pipeline(stages, o.signal ? { signal: o.signal } : {})
  } catch (err) {
    if (refusal) throw refusal
    o.signal?.throwIfAborted()
    throw new UserError('ModelArchiveUnreadable', `${o.label} is not a readable tar.gz archive: ${(err as Error).message}`, { hint: o.hint, cause: err })
  }
  if (refusal) throw refusal
  return { entries, totalBytes, archiveBytes }
}

async function readHead(file: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of createReadStream(file, { start: 0, end: 1 })) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/**
 * Extracts a (gzipped) tar into `dest` (which must exist) after scanTar passed and the disk has room
 * (checkFreeSpace). tar refuses absolute paths and `..`; links and devices are skipped (the scan
 * already refused them). UserError 'UnsafeArchive' / 'NotEnoughDisk' / 'ModelArchiveUnreadable'.
 */
export async function extractTarBounded(file: string, dest: string, o: TarExtractOptions): Promise<TarScan> {
  const scan = await scanTar(file, o)
  await checkFreeSpace(dest, o.label, scan.totalBytes, o.freeBytes, o.hint)
  try {
    await extractTar({ file, cwd: dest, strict: true, filter: (_p, entry) => PLAIN_TYPES.has((entry as { type?: string }).type ?? '') })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new OperationError('NotEnoughDisk', `The disk filled up while unpacking ${o.label}.`, {
        hint: 'Free some space and run the command again.',
        cause: err,
      })
    }
    throw new UserError('ModelArchiveUnreadable', `${o.label} is not a readable tar.gz archive: ${(err as Error).message}`, { hint: o.hint, cause: err })
  }
  return scan
}
