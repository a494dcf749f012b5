import { createWriteStream } from 'node:fs'
import { mkdir, open, writeFile, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import zlib from 'node:zlib'
import { OperationError, UserError } from '../../shared/errors.js'
import {
  checkFreeSpace,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_RATIO,
  DEFAULT_MAX_TOTAL_BYTES,
  freeBytesAt,
  MIN_RATIO_BYTES,
  type ArchiveLimits,
} from '../../shared/archive-bounds.js'

/**
 * A small unzip for dataset archives (the dogImages.zip layout): reads the central directory,
 * inflates stored and deflated entries as streams (constant memory), checks each entry's CRC-32
 * and size, and refuses hostile archives before writing anything: entries escaping the target
 * folder ("zip slip"), and archives that expand beyond sane limits ("zip bombs"). ZIP64 is read,
 * so archives over 4 GiB or 65,535 entries work. Node has no built-in unzip; this avoids a dependency.
 */

export interface ZipEntry {
  readonly name: string
  readonly method: number
  readonly flags: number
  readonly crc32: number
  readonly compressedSize: number
  readonly uncompressedSize: number
  readonly localHeaderOffset: number
  readonly isDirectory: boolean
  readonly isSymlink: boolean
}

/** The limits shared with model archives (shared/archive-bounds.ts); the ratio applies to entries over 1 MiB too. */
export type UnzipLimits = ArchiveLimits

export interface UnzipOptions extends UnzipLimits {
  readonly signal?: AbortSignal
  /** Called as bytes are written, with the running total and the archive's declared total. */
  readonly onProgress?: (written: number, total: number) => void
  /** Entries extracted at once. @default 4 */
  readonly concurrency?: number
}

export interface UnzipResult {
  readonly files: number
  readonly bytes: number
  /** Entries not extracted, with why (macOS resource forks, symlinks). */
  readonly skipped: readonly string[]
}

const SIG_EOCD = 0x06054b50
const SIG_ZIP64_LOCATOR = 0x07064b50
const SIG_ZIP64_EOCD = 0x06064b50
const SIG_CENTRAL = 0x02014b50
const SIG_LOCAL = 0x04034b50

/** Extracts `zipFile` into `destDir` (which must exist). Throws UserError 'UnsafeArchive' / 'CorruptArchive'. */
export async function unzip(zipFile: string, destDir: string, opts: UnzipOptions = {}): Promise<UnzipResult> {
  const fh = await open(zipFile, 'r')
  try {
    const entries = await readCentralDirectory(fh, zipFile)
    checkLimits(entries, zipFile, opts)
    const skipped: string[] = []
    const work: { entry: ZipEntry; target: string }[] = []
    for (const entry of entries) {
      // Validate every name first: a hostile archive is refused before a single byte is written.
      const target = safeEntryPath(destDir, entry.name)
      if (entry.name.startsWith('__MACOSX/') || path.posix.basename(entry.name).startsWith('._')) {
        skipped.push(`${entry.name} (macOS metadata)`)
        continue
      }
      if (entry.isSymlink) {
        skipped.push(`${entry.name} (symbolic link)`)
        continue
      }
      if (entry.flags & 0x1) throw corrupt(zipFile, `${entry.name} is encrypted; encrypted archives are not supported`)
      if (!entry.isDirectory && entry.method !== 0 && entry.method !== 8) {
        throw corrupt(zipFile, `${entry.name} uses compression method ${entry.method}; only stored (0) and deflated (8) entries are supported`)
      }
      work.push({ entry, target })
    }
    const total = work.reduce((n, w) => n + w.entry.uncompressedSize, 0)
    await checkFreeSpace(destDir, zipFile, total, opts.freeBytes ?? freeBytesAt)
    let written = 0
    const made = new Set<string>()
    const ensureDir = async (dir: string) => {
      if (made.has(dir)) return
      await mkdir(dir, { recursive: true })
      made.add(dir)
    }
    let files = 0
    let next = 0
    // The first failure stops every lane, and all lanes settle before the archive is closed: a lane
    // still reading a closed handle left the promise unsettled (exit 13, issue 19).
    const stop = new AbortController()
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal
    let failure: unknown
    const lane = async () => {
      while (next < work.length && !signal.aborted) {
        const { entry, target } = work[next++]
        if (entry.isDirectory) {
          await ensureDir(target)
          continue
        }
        await ensureDir(path.dirname(target))
        await extractEntry(fh, zipFile, entry, target, signal, (n) => {
          written += n
          opts.onProgress?.(written, total)
        })
        files++
      }
    }
    const lanes = Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, () =>
      lane().catch((err: unknown) => {
        if (failure === undefined && !stop.signal.aborted) failure = err
        stop.abort()
      }),
    )
    await Promise.all(lanes)
    opts.signal?.throwIfAborted()
    if (failure !== undefined) throw namedFailure(failure, zipFile)
    return { files, bytes: written, skipped }
  } finally {
    await fh.close()
  }
}

/**
 * The absolute path an entry extracts to. Refuses absolute paths, drive letters, `..` segments and
 * NUL bytes, then double-checks that the resolved path stays inside `destDir`.
 */
export function safeEntryPath(destDir: string, name: string): string {
  const normalized = name.replace(/\\/g, '/')
  const unsafe = normalized.startsWith('/') || /^[a-zA-Z]:/.test(normalized) || normalized.includes('\0') || normalized.split('/').some((seg) => seg === '..')
  const root = path.resolve(destDir)
  const target = path.resolve(root, normalized)
  const rel = path.relative(root, target)
  if (unsafe || (rel === '' && !normalized.endsWith('/')) || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new UserError('UnsafeArchive', `The archive entry "${name}" would be written outside the target folder; nothing was extracted.`, {
      hint: 'The archive is malformed or hostile (a "zip slip"). Get the dataset from a source you trust.',
    })
  }
  return target
}

/** Reads the End Of Central Directory (ZIP64 aware) and every central directory entry. */
export async function readCentralDirectory(fh: FileHandle, label: string): Promise<ZipEntry[]> {
  const { size } = await fh.stat()
  const tailLen = Math.min(size, 22 + 0xffff)
  const tail = await readAt(fh, size - tailLen, tailLen)
  let eocd = -1
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD) {
      eocd = i
      break
    }
  }
  if (eocd < 0) throw corrupt(label, 'no end-of-central-directory record (not a zip file, or truncated)')
  let count = tail.readUInt16LE(eocd + 10)
  let cdSize = tail.readUInt32LE(eocd + 12)
  let cdOffset = tail.readUInt32LE(eocd + 16)
  if (tail.readUInt16LE(eocd + 4) !== 0 || tail.readUInt16LE(eocd + 6) !== 0) throw corrupt(label, 'multi-part (spanned) archives are not supported')
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = size - tailLen + eocd - 20
    const loc = locAt >= 0 ? await readAt(fh, locAt, 20) : Buffer.alloc(0)
    if (loc.length < 20 || loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw corrupt(label, 'ZIP64 locator missing')
    const z = await readAt(fh, Number(loc.readBigUInt64LE(8)), 56)
    if (z.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw corrupt(label, 'ZIP64 end-of-central-directory record missing')
    count = Number(z.readBigUInt64LE(32))
    cdSize = Number(z.readBigUInt64LE(40))
    cdOffset = Number(z.readBigUInt64LE(48))
  }
  if (cdOffset + cdSize > size) throw corrupt(label, 'central directory lies beyond the end of the file (truncated download?)')
  const cd = await readAt(fh, cdOffset, cdSize)
  const entries: ZipEntry[] = []
  let p = 0
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw corrupt(label, `central directory entry ${i + 1} is damaged`)
    const madeBy = cd.readUInt16LE(p + 4)
    const flags = cd.readUInt16LE(p + 8)
    const method = cd.readUInt16LE(p + 10)
    const crc32 = cd.readUInt32LE(p + 16)
    let compressedSize = cd.readUInt32LE(p + 20)
    let uncompressedSize = cd.readUInt32LE(p + 24)
    const nameLen = cd.readUInt16LE(p + 28)
    const extraLen = cd.readUInt16LE(p + 30)
    const commentLen = cd.readUInt16LE(p + 32)
    const externalAttrs = cd.readUInt32LE(p + 38)
    let localHeaderOffset = cd.readUInt32LE(p + 42)
    const rawName = cd.subarray(p + 46, p + 46 + nameLen)
    const name = rawName.toString(flags & 0x800 ? 'utf8' : 'latin1')
    const extra = cd.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen)
    // ZIP64 extended information: 8-byte values for whichever fields overflowed, in this order.
    for (let e = 0; e + 4 <= extra.length;) {
      const id = extra.readUInt16LE(e)
      const len = extra.readUInt16LE(e + 2)
      if (id === 0x0001) {
        let q = e + 4
        const need = (uncompressedSize === 0xffffffff ? 8 : 0) + (compressedSize === 0xffffffff ? 8 : 0) + (localHeaderOffset === 0xffffffff ? 8 : 0)
        if (len < need || e + 4 + need > extra.length) throw corrupt(label, `the ZIP64 extra field of ${name} is truncated`)
        if (uncompressedSize === 0xffffffff) {
          uncompressedSize = Number(extra.readBigUInt64LE(q))
          q += 8
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = Number(extra.readBigUInt64LE(q))
          q += 8
        }
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = Number(extra.readBigUInt64LE(q))
      }
      e += 4 + len
    }
    const unixMode = madeBy >> 8 === 3 ? externalAttrs >>> 16 : 0
    entries.push({
      name,
      method,
      flags,
      crc32,
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
      isDirectory: name.endsWith('/'),
      isSymlink: (unixMode & 0o170000) === 0o120000,
    })
    p += 46 + nameLen + extraLen + commentLen
  }
  return entries
}

function checkLimits(entries: readonly ZipEntry[], label: string, o: UnzipLimits): void {
  const maxEntries = o.maxEntries ?? DEFAULT_MAX_ENTRIES
  const maxTotal = o.maxTotalBytes ?? DEFAULT_MAX_TOTAL_BYTES
  const maxRatio = o.maxRatio ?? DEFAULT_MAX_RATIO
  const bomb = (why: string) =>
    new UserError('UnsafeArchive', `${label} looks like a zip bomb: ${why}; nothing was extracted.`, {
      hint: 'Get the dataset from a source you trust. For a genuinely larger dataset, unpack it yourself and pass --source <dir>.',
    })
  if (entries.length > maxEntries) throw bomb(`${entries.length.toLocaleString('en-US')} entries (limit ${maxEntries.toLocaleString('en-US')})`)
  const total = entries.reduce((n, e) => n + e.uncompressedSize, 0)
  if (total > maxTotal) throw bomb(`it expands to ${total.toLocaleString('en-US')} bytes (limit ${maxTotal.toLocaleString('en-US')})`)
  // Many small entries of zeros pass a per-entry check: the archive as a whole is bounded too.
  const compressed = entries.reduce((n, e) => n + e.compressedSize, 0)
  if (total > MIN_RATIO_BYTES && total / Math.max(1, compressed) > maxRatio) {
    throw bomb(`the whole archive expands ${Math.round(total / Math.max(1, compressed))}:1 (limit ${maxRatio}:1)`)
  }
  const seen = new Set<string>()
  const dirs = new Set<string>()
  for (const e of entries) {
    const name = e.name.replace(/\\/g, '/').replace(/\/+$/, '')
    if (!e.isDirectory && seen.has(name)) throw bomb(`the entry ${e.name} appears twice`)
    if (!e.isDirectory) seen.add(name)
    const segments = name.split('/')
    if (segments.some((seg) => Buffer.byteLength(seg) > 255)) throw bomb(`an entry name has a path segment over 255 bytes (${e.name.slice(0, 60)}…)`)
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'))
  }
  for (const name of seen) if (dirs.has(name)) throw bomb(`${name} is both a file and a folder`)
  for (const e of entries) {
    if (e.uncompressedSize > 1024 * 1024 && e.uncompressedSize / Math.max(1, e.compressedSize) > maxRatio) {
      throw bomb(`${e.name} expands ${Math.round(e.uncompressedSize / Math.max(1, e.compressedSize))}:1 (limit ${maxRatio}:1)`)
    }
  }
}

async function extractEntry(
  fh: FileHandle,
  label: string,
  entry: ZipEntry,
  target: string,
  signal: AbortSignal | undefined,
  onBytes: (n: number) => void,
): Promise<void> {
  const local = await readAt(fh, entry.localHeaderOffset, 30)
  if (local.length < 30 || local.readUInt32LE(0) !== SIG_LOCAL) throw corrupt(label, `local header of ${entry.name} is damaged`)
  const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
  if (entry.compressedSize === 0) {
    if (entry.uncompressedSize !== 0) throw corrupt(label, `${entry.name} has no data`)
    await writeFile(target, Buffer.alloc(0))
    return
  }
  let written = 0
  let crc = 0
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length
      // Never trust the declared size: stop the moment an entry inflates past it.
      if (written > entry.uncompressedSize) {
        done(
          new UserError(
            'UnsafeArchive',
            `${label}: ${entry.name} inflates beyond its declared ${entry.uncompressedSize} bytes (a zip bomb or a corrupt archive); extraction stopped.`,
          ),
        )
        return
      }
      crc = zlib.crc32(chunk, crc)
      onBytes(chunk.length)
      done(null, chunk)
    },
  })
  // Positional reads on the shared handle: entries extract concurrently without reopening the archive.
  const source = fh.createReadStream({ autoClose: false, start: dataStart, end: dataStart + entry.compressedSize - 1, highWaterMark: 256 * 1024 })
  const out = createWriteStream(target)
  if (entry.method === 8) await pipeline(source, zlib.createInflateRaw(), check, out, { signal })
  else await pipeline(source, check, out, { signal })
  if (written !== entry.uncompressedSize) throw corrupt(label, `${entry.name} is ${written} bytes, the archive says ${entry.uncompressedSize}`)
  if (crc >>> 0 !== entry.crc32 >>> 0) throw corrupt(label, `${entry.name} fails its CRC-32 check (corrupt download?)`)
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  const { bytesRead } = await fh.read(buf, 0, length, position)
  return buf.subarray(0, bytesRead)
}

/** zlib's and the file system's errors during extraction, as named errors (exit 2 or 1, never "Unexpected error"). */
function namedFailure(err: unknown, label: string): unknown {
  if (err instanceof UserError) return err
  const e = err as NodeJS.ErrnoException
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) return corrupt(label, `a deflate stream is damaged (${e.message})`)
  if (e.code === 'ENOSPC')
    return new OperationError('NotEnoughDisk', `The disk filled up while unpacking ${label}; the partial files were removed.`, {
      hint: 'Free some space and run the command again.',
    })
  if (typeof e.code === 'string')
    return new OperationError('UnpackFailed', `Unpacking ${label} failed: ${e.message}; the partial files were removed.`, { cause: err })
  return err
}

function corrupt(label: string, why: string): UserError {
  return new UserError('CorruptArchive', `${label} is not a usable zip archive: ${why}.`, {
    hint: 'Download it again (a partial download looks like this), or unpack it yourself and pass --source <dir>.',
  })
}
