import { crc32, deflateRawSync } from 'node:zlib'

/**
 * A minimal, deterministic zip writer for the Lambda deployment package. Same entries in, same
 * bytes out: fixed timestamps (1980-01-01 00:00, the zip epoch), fixed permissions, no extra
 * fields. Lambda compares packages by the SHA-256 of the zip (`CodeSha256`), so determinism is
 * what lets `lambda-setup` skip UpdateFunctionCode when the code did not change.
 *
 * Entries are STORED by default: deflate output can differ between zlib versions (and so between
 * Node releases), which would make the same code look changed on another machine. The handler is
 * a few KB, so compression buys nothing.
 */

export interface ZipEntry {
  /** Path inside the archive, with forward slashes. */
  readonly name: string
  readonly data: Buffer
}

const DOS_TIME = 0 // 00:00:00
const DOS_DATE = (0 << 9) | (1 << 5) | 1 // 1980-01-01
const UNIX_FILE_MODE = 0o100644 // regular file, rw-r--r-- (Lambda needs the file world-readable)
const VERSION_MADE_BY = (3 << 8) | 20 // Unix, zip 2.0: external attributes carry the mode
const VERSION_NEEDED = 20
const FLAG_UTF8 = 0x0800

/** CRC-32 (IEEE), as zip stores it: Node's own (20.15+), one implementation for the writer and unzip. */
export { crc32 }

/** Builds the archive. Entries keep the given order (sort them first for a canonical archive). */
export function createZip(entries: readonly ZipEntry[], { deflate = false }: { deflate?: boolean } = {}): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8')
    const body = deflate ? deflateRawSync(entry.data, { level: 9 }) : entry.data
    const method = deflate ? 8 : 0
    const crc = crc32(entry.data)

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(VERSION_NEEDED, 4)
    local.writeUInt16LE(FLAG_UTF8, 6)
    local.writeUInt16LE(method, 8)
    local.writeUInt16LE(DOS_TIME, 10)
    local.writeUInt16LE(DOS_DATE, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(entry.data.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    locals.push(local, name, body)

    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(VERSION_MADE_BY, 4)
    central.writeUInt16LE(VERSION_NEEDED, 6)
    central.writeUInt16LE(FLAG_UTF8, 8)
    central.writeUInt16LE(method, 10)
    central.writeUInt16LE(DOS_TIME, 12)
    central.writeUInt16LE(DOS_DATE, 14)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(body.length, 20)
    central.writeUInt32LE(entry.data.length, 24)
    central.writeUInt16LE(name.length, 28)
    // extra length, comment length, disk number, internal attributes: all 0
    central.writeUInt32LE((UNIX_FILE_MODE << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    centrals.push(central, name)

    offset += local.length + name.length + body.length
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, ...centrals, end])
}
