import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, open, readdir, readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchDataset } from '../../src/features/dataset/download.js'
import { readCentralDirectory, safeEntryPath, unzip } from '../../src/features/dataset/unzip.js'
import { crc32 } from '../../src/shared/zip-writer.js'
import { exitCodeFor, MlopsError } from '../../src/shared/errors.js'
import { Ui } from '../../src/shared/output.js'
import { fastClock } from '../helpers/cli.js'

const PY = process.env.MOTO_PYTHON ?? 'python3'

/** Writes a zip with Python's zipfile: entries are [name, content, 'stored' | 'deflated'] or a directory name ending in '/'. */
function makeZip(file: string, entries: [string, string | { zeros: number } | { symlinkTo: string }, ('stored' | 'deflated')?][]): void {
  const script = `
import json, sys, zipfile
out, entries = sys.argv[1], json.loads(sys.argv[2])
with zipfile.ZipFile(out, 'w') as z:
    for name, content, method in entries:
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED if method == 'deflated' else zipfile.ZIP_STORED
        if isinstance(content, dict) and 'symlinkTo' in content:
            info.create_system = 3
            info.external_attr = (0o120777 << 16)
            z.writestr(info, content['symlinkTo'])
        elif isinstance(content, dict):
            z.writestr(info, b'\\0' * content['zeros'])
        else:
            z.writestr(info, content.encode())
`
  execFileSync(PY, ['-c', script, file, JSON.stringify(entries.map(([n, c, m]) => [n, c, m ?? 'deflated']))])
}

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'mlops-zip-'))
}

/** Patches a 4-byte field of the first central directory entry. */
async function patchCentral(file: string, offset: number, value: number): Promise<void> {
  const buf = await readFile(file)
  const at = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
  buf.writeUInt32LE(value >>> 0, at + offset)
  await writeFile(file, buf)
}

async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map((p) => p.split(path.sep).join('/')).sort()
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof MlopsError)) throw new Error(`expected an MlopsError, got ${String(err)}`)
  return err.code
}

describe('unzip', () => {
  it('extracts stored and deflated entries, checking sizes and CRCs, skipping macOS metadata and symlinks', async () => {
    const dir = await tmp()
    const zip = path.join(dir, 'd.zip')
    makeZip(zip, [
      ['dogImages/', ''],
      ['dogImages/train/001.A/a.jpg', 'stored bytes', 'stored'],
      ['dogImages/train/001.A/b.jpg', 'deflated '.repeat(1000)],
      ['dogImages/empty.txt', ''],
      ['__MACOSX/dogImages/._a.jpg', 'resource fork'],
      ['dogImages/link', { symlinkTo: '/etc/passwd' }],
    ])
    const out = path.join(dir, 'out')
    await mkdir(out)
    const seen: number[] = []
    const r = await unzip(zip, out, { onProgress: (w) => seen.push(w) })
    expect(r.files).toBe(3)
    expect(r.skipped).toEqual(['__MACOSX/dogImages/._a.jpg (macOS metadata)', 'dogImages/link (symbolic link)'])
    expect(await listTree(out)).toEqual([
      'dogImages',
      'dogImages/empty.txt',
      'dogImages/train',
      'dogImages/train/001.A',
      'dogImages/train/001.A/a.jpg',
      'dogImages/train/001.A/b.jpg',
    ])
    expect(await readFile(path.join(out, 'dogImages/train/001.A/b.jpg'), 'utf8')).toBe('deflated '.repeat(1000))
    expect(seen.at(-1)).toBe(r.bytes)
    expect(r.bytes).toBe(12 + 9000)
  })

  it('refuses entries that escape the target folder before writing anything (zip slip)', async () => {
    for (const bad of ['../evil.txt', 'a/../../evil.txt', '/tmp/evil.txt', 'C:/evil.txt', '..\\evil.txt']) {
      const dir = await tmp()
      const zip = path.join(dir, 'd.zip')
      makeZip(zip, [
        ['ok/first.txt', 'fine'],
        [bad, 'pwned'],
      ])
      const out = path.join(dir, 'out')
      await mkdir(out)
      const err = await unzip(zip, out).then(
        () => undefined,
        (e: MlopsError) => e,
      )
      expect(err?.code, bad).toBe('UnsafeArchive')
      expect(err?.message).toContain('nothing was extracted')
      expect(await readdir(out)).toEqual([])
      expect(await readdir(dir)).toEqual(['d.zip', 'out'])
    }
    expect(() => safeEntryPath('/x/out', 'a/b.jpg')).not.toThrow()
    expect(safeEntryPath('/x/out', 'a\\b.jpg')).toBe('/x/out/a/b.jpg')
  })

  it('refuses zip bombs: extreme ratios, huge totals, too many entries, and entries that inflate past their declared size', async () => {
    const dir = await tmp()
    const out = path.join(dir, 'out')
    await mkdir(out)
    const ratio = path.join(dir, 'ratio.zip')
    makeZip(ratio, [['zeros.bin', { zeros: 8 * 1024 * 1024 }]])
    expect(await codeOf(unzip(ratio, out))).toBe('UnsafeArchive')
    expect(await codeOf(unzip(ratio, out, { maxRatio: 100_000, maxTotalBytes: 1024 * 1024 }))).toBe('UnsafeArchive')
    const many = path.join(dir, 'many.zip')
    makeZip(many, [
      ['a', 'a'],
      ['b', 'b'],
      ['c', 'c'],
    ])
    expect(await codeOf(unzip(many, out, { maxEntries: 2 }))).toBe('UnsafeArchive')
    expect(await readdir(out)).toEqual([])

    // The central directory claims 1,000 bytes; the data inflates to 512 KB.
    const liar = path.join(dir, 'liar.zip')
    makeZip(liar, [['liar.bin', { zeros: 512 * 1024 }]])
    await patchCentral(liar, 24, 1000)
    const err = await unzip(liar, out).then(
      () => undefined,
      (e: MlopsError) => e,
    )
    expect(err?.code).toBe('UnsafeArchive')
    expect(err?.message).toContain('inflates beyond its declared 1000 bytes')
  })

  it('refuses hostile archives the per-entry checks miss: many small bombs, duplicate names, a file reused as a folder, over-long names (issue 19)', async () => {
    const dir = await tmp()
    const cases: [string, Parameters<typeof makeZip>[1], string][] = [
      [
        'many.zip',
        Array.from({ length: 70 }, (_, i) => [`d/train/a/${i}.jpg`, { zeros: 1024 * 1024 }] as [string, { zeros: number }]),
        'the whole archive expands',
      ],
      [
        'dup.zip',
        [
          ['d/train/a/x.jpg', 'one'],
          ['d/train/a/x.jpg', 'two'],
        ],
        'appears twice',
      ],
      [
        'filedir.zip',
        [
          ['d/train/a', 'file'],
          ['d/train/a/x.jpg', 'img'],
        ],
        'is both a file and a folder',
      ],
      ['long.zip', [[`d/${'n'.repeat(5000)}.jpg`, 'x']], 'over 255 bytes'],
    ]
    for (const [name, entries, message] of cases) {
      const zip = path.join(dir, name)
      makeZip(zip, entries)
      const out = path.join(dir, `${name}.out`)
      await mkdir(out)
      const err = await unzip(zip, out).then(
        () => undefined,
        (e: unknown) => e as MlopsError,
      )
      expect(err?.code, name).toBe('UnsafeArchive')
      expect(err?.message).toContain(message)
      expect(await listTree(out)).toEqual([])
    }
  })

  it('detects corruption: bad CRC, not a zip, unsupported methods', async () => {
    const dir = await tmp()
    const out = path.join(dir, 'out')
    await mkdir(out)
    const zip = path.join(dir, 'crc.zip')
    makeZip(zip, [['a.txt', 'hello world']])
    await patchCentral(zip, 16, 12345)
    const err = await unzip(zip, out).then(
      () => undefined,
      (e: MlopsError) => e,
    )
    expect(err?.code).toBe('CorruptArchive')
    expect(err?.message).toContain('fails its CRC-32 check')
    const junk = path.join(dir, 'junk.zip')
    await writeFile(junk, 'this is an HTML error page, not a zip')
    expect(await codeOf(unzip(junk, out))).toBe('CorruptArchive')
    const bz = path.join(dir, 'method.zip')
    makeZip(bz, [['a.txt', 'x', 'stored']])
    await patchCentral(bz, 10, 12) // method 12 = bzip2 (the field is 2 bytes; the next 2 are the time)
    expect(await codeOf(unzip(bz, out))).toBe('CorruptArchive')
  })

  it('reads ZIP64 central directories (more than 65,535 entries)', async () => {
    const dir = await tmp()
    const zip = path.join(dir, 'z64.zip')
    execFileSync(PY, [
      '-c',
      `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    for i in range(65540):
        z.writestr(str(i), b'')
`,
      zip,
    ])
    const fh = await open(zip, 'r')
    try {
      const entries = await readCentralDirectory(fh, zip)
      expect(entries).toHaveLength(65540)
      expect(entries.at(-1)).toMatchObject({ name: '65539', uncompressedSize: 0 })
    } finally {
      await fh.close()
    }
  }, 30_000)

  it('a truncated ZIP64 extra field is CorruptArchive naming the entry, not a RangeError', async () => {
    const dir = await tmp()
    const zip = path.join(dir, 'z64-truncated.zip')
    // An entry with a 4-byte extra field, then patched: its id becomes ZIP64's (0x0001) and its
    // compressed size 0xffffffff, which needs 8 bytes of that field.
    execFileSync(PY, [
      '-c',
      `
import struct, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    info = zipfile.ZipInfo('a.txt')
    info.extra = struct.pack('<HH', 0x9999, 4) + b'\\0\\0\\0\\0'
    z.writestr(info, b'hello')
`,
      zip,
    ])
    const buf = await readFile(zip)
    const at = buf.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
    buf.writeUInt32LE(0xffffffff, at + 20)
    buf.writeUInt16LE(0x0001, at + 46 + buf.readUInt16LE(at + 28))
    await writeFile(zip, buf)
    const fh = await open(zip, 'r')
    try {
      const err = await readCentralDirectory(fh, zip).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(MlopsError)
      expect(err).toMatchObject({ code: 'CorruptArchive', message: expect.stringContaining('the ZIP64 extra field of a.txt is truncated') })
    } finally {
      await fh.close()
    }
  })

  it('computes CRC-32 like zip does', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
    expect(crc32(Buffer.from('56789'), crc32(Buffer.from('1234')))).toBe(0xcbf43926)
  })
})

describe('fetchDataset', () => {
  let server: http.Server
  let base = ''
  const routes = new Map<string, (res: http.ServerResponse) => void>()
  let hits = 0
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++
      const route = routes.get(req.url ?? '')
      if (route) route(res)
      else res.writeHead(404).end('not here')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((r) => server.close(() => r())))

  function ui() {
    let err = ''
    const u = new Ui({
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      json: false,
      debug: false,
      color: false,
      env: {},
      clock: fastClock(),
      yes: true,
    })
    return { ui: u, stderr: () => err }
  }

  async function archive(): Promise<Buffer> {
    const dir = await tmp()
    const zip = path.join(dir, 'dogImages.zip')
    makeZip(zip, [
      ['dogImages/train/001.A/a.jpg', 'aaa'],
      ['dogImages/valid/001.A/b.jpg', 'bbb'],
      ['__MACOSX/._x', 'junk'],
    ])
    return readFile(zip)
  }

  it('downloads, verifies, unpacks the single top folder into place, then reuses it for the same URL', async () => {
    const zip = await archive()
    routes.set('/ok.zip', (res) => res.writeHead(200, { 'content-length': String(zip.length) }).end(zip))
    const work = await tmp()
    const dest = path.join(work, 'data', 'dogImages')
    const { ui: u, stderr } = ui()
    const sha = createHash('sha256').update(zip).digest('hex')
    const r = await fetchDataset({
      url: `${base}/ok.zip`,
      dest,
      workDir: path.join(work, '.mlops'),
      expectSha256: sha,
      signal: new AbortController().signal,
      ui: u,
    })
    expect(r).toMatchObject({ root: dest, downloaded: true, archiveBytes: zip.length, archiveSha256: sha, files: 2 })
    expect(await listTree(dest)).toEqual(['train', 'train/001.A', 'train/001.A/a.jpg', 'valid', 'valid/001.A', 'valid/001.A/b.jpg'])
    expect(stderr()).toContain('Unpacked 2 files')
    // Nothing left behind but the dataset and the record.
    expect((await readdir(path.join(work, 'data'))).sort()).toEqual(['dogImages'])
    expect(await readdir(path.join(work, '.mlops', 'downloads'))).toEqual([])
    const before = hits
    const again = await fetchDataset({ url: `${base}/ok.zip`, dest, workDir: path.join(work, '.mlops'), signal: new AbortController().signal, ui: ui().ui })
    expect(again).toMatchObject({ downloaded: false, files: 2 })
    expect(hits).toBe(before)
    // Another URL into the same, now non-empty, folder is refused.
    expect(
      await codeOf(fetchDataset({ url: `${base}/other.zip`, dest, workDir: path.join(work, '.mlops'), signal: new AbortController().signal, ui: ui().ui })),
    ).toBe('SourceNotEmpty')
  })

  it('fails cleanly on 404, a checksum mismatch and a truncated body, leaving no files', async () => {
    const zip = await archive()
    routes.set('/short.zip', (res) => {
      res.writeHead(200, { 'content-length': String(zip.length + 100) })
      res.write(zip)
      setTimeout(() => res.destroy(), 20)
    })
    routes.set('/ok2.zip', (res) => res.writeHead(200, { 'content-length': String(zip.length) }).end(zip))
    const work = await tmp()
    const dest = path.join(work, 'dogImages')
    const opts = { dest, workDir: path.join(work, '.mlops'), signal: new AbortController().signal }
    expect(await codeOf(fetchDataset({ ...opts, url: `${base}/missing.zip`, ui: ui().ui }))).toBe('DownloadFailed')
    expect(await codeOf(fetchDataset({ ...opts, url: `${base}/ok2.zip`, expectSha256: '0'.repeat(64), ui: ui().ui }))).toBe('ChecksumMismatch')
    expect(await codeOf(fetchDataset({ ...opts, url: `${base}/short.zip`, ui: ui().ui }))).toMatch(/^Download(Failed|Incomplete)$/)
    expect(await readdir(work)).toEqual(['.mlops'])
    expect(await readdir(path.join(work, '.mlops', 'downloads'))).toEqual([])
  })

  it('Ctrl-C during the download stops it, removes the partial file and says so', async () => {
    const controller = new AbortController()
    routes.set('/slow.zip', (res) => {
      res.writeHead(200, { 'content-length': '1000000' })
      res.write(Buffer.alloc(1000))
      setTimeout(() => controller.abort(), 30)
      setTimeout(() => res.destroy(), 2000)
    })
    const work = await tmp()
    const err = await fetchDataset({
      url: `${base}/slow.zip`,
      dest: path.join(work, 'd'),
      workDir: path.join(work, '.mlops'),
      signal: controller.signal,
      ui: ui().ui,
    }).then(
      () => undefined,
      (e: MlopsError) => e,
    )
    expect(err?.code).toBe('Interrupted')
    expect(await readdir(path.join(work, '.mlops', 'downloads'))).toEqual([])
  })
})

describe('hostile archives and servers (issue 19 item 5)', () => {
  let server: http.Server
  let base = ''
  let port = 0
  const routes = new Map<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>()
  const timers = new Set<NodeJS.Timeout>()
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const route = routes.get(req.url ?? '')
      if (route) route(req, res)
      else res.writeHead(404).end('not here')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
    base = `http://127.0.0.1:${port}`
  })
  afterAll(() => {
    for (const t of timers) clearInterval(t)
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })

  function quietUi() {
    let err = ''
    const u = new Ui({
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      json: false,
      debug: false,
      color: false,
      env: {},
      clock: fastClock(),
      yes: true,
    })
    return { ui: u, stderr: () => err }
  }

  async function failure(p: Promise<unknown>): Promise<MlopsError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    )
    if (!(err instanceof MlopsError)) throw new Error(`expected an MlopsError, got ${String(err)}`)
    return err
  }

  /** 14 deflated entries; entry `broken`'s deflate stream starts with a reserved block type. */
  async function corruptZip(broken: number): Promise<string> {
    const dir = await tmp()
    const zip = path.join(dir, 'corrupt.zip')
    makeZip(
      zip,
      Array.from({ length: 14 }, (_, i) => [`d/train/c${i % 2}/f${i}.jpg`, `image ${i} `.repeat(500), 'deflated'] as [string, string, 'deflated']),
    )
    const fh = await open(zip, 'r+')
    try {
      const entry = (await readCentralDirectory(fh, zip))[broken]
      const local = Buffer.alloc(30)
      await fh.read(local, 0, 30, entry.localHeaderOffset)
      const dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28)
      await fh.write(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4, dataStart)
    } finally {
      await fh.close()
    }
    return zip
  }

  it('a corrupt deflate stream settles with CorruptArchive, and no lane writes after it', async () => {
    for (const broken of [0, 6, 13]) {
      const zip = await corruptZip(broken)
      const dest = await tmp()
      const err = await failure(unzip(zip, dest, { concurrency: 4 }))
      expect(err.code).toBe('CorruptArchive')
      expect(exitCodeFor(err)).toBe(2)
      expect(err.message).toContain('a deflate stream is damaged')
      const right = await listTree(dest)
      await new Promise((r) => setTimeout(r, 150))
      expect(await listTree(dest)).toEqual(right)
    }
  })

  it('--from-url with a corrupt archive ends in CorruptArchive and leaves no *.unpacking-* folder', async () => {
    const body = await readFile(await corruptZip(3))
    routes.set('/corrupt.zip', (_req, res) => res.writeHead(200, { 'content-length': String(body.length) }).end(body))
    const work = await tmp()
    const err = await failure(
      fetchDataset({
        url: `${base}/corrupt.zip`,
        dest: path.join(work, 'dogImages'),
        workDir: path.join(work, '.mlops'),
        signal: new AbortController().signal,
        ui: quietUi().ui,
      }),
    )
    expect(err.code).toBe('CorruptArchive')
    expect(await readdir(work)).toEqual(['.mlops'])
    expect(await readdir(path.join(work, '.mlops', 'downloads'))).toEqual([])
  })

  it('checks the total unpacked size against the free disk before writing anything', async () => {
    const dir = await tmp()
    const zip = path.join(dir, 'big.zip')
    makeZip(zip, [
      ['d/a.jpg', 'a'.repeat(5000)],
      ['d/b.jpg', 'b'.repeat(5000)],
    ])
    const dest = await tmp()
    const err = await failure(unzip(zip, dest, { freeBytes: async () => 64 * 1024 * 1024 }))
    expect(err.code).toBe('NotEnoughDisk')
    expect(exitCodeFor(err)).toBe(2)
    expect(err.message).toMatch(/^.+big\.zip unpacks to 9\.8 KB, but .+ has 64\.0 MB free \(64\.0 MB needed with a margin\); nothing was extracted\.$/)
    expect(await readdir(dest)).toEqual([])
    // The real statfs of this machine has room for 10 KB.
    expect((await unzip(zip, dest)).files).toBe(2)
  })

  it('caps the download size, announced or counted, with the limit in the message', async () => {
    routes.set('/announced.zip', (_req, res) => res.writeHead(200, { 'content-length': '5000' }).end(Buffer.alloc(5000)))
    routes.set('/chunked.zip', (_req, res) => {
      res.writeHead(200)
      res.write(Buffer.alloc(3000))
      res.end(Buffer.alloc(3000))
    })
    for (const name of ['announced', 'chunked']) {
      const work = await tmp()
      const err = await failure(
        fetchDataset({
          url: `${base}/${name}.zip`,
          dest: path.join(work, 'd'),
          workDir: path.join(work, '.mlops'),
          maxBytes: 4096,
          signal: new AbortController().signal,
          ui: quietUi().ui,
        }),
      )
      expect(err.code).toBe('DownloadTooLarge')
      expect(exitCodeFor(err)).toBe(2)
      expect(err.message).toBe(`The archive at ${base}/${name}.zip is larger than the 4.0 KB limit for --from-url; nothing was kept.`)
      expect(await readdir(path.join(work, '.mlops', 'downloads'))).toEqual([])
    }
  })

  it('one overall deadline: a server dripping a byte a second is cut off at 3 s, not reset by each byte', async () => {
    routes.set('/drip.zip', (_req, res) => {
      res.writeHead(200, { 'content-length': '100' })
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('x')), 1000)
      timers.add(t)
      res.on('close', () => clearInterval(t))
    })
    const work = await tmp()
    const started = Date.now()
    const err = await failure(
      fetchDataset({
        url: `${base}/drip.zip`,
        dest: path.join(work, 'd'),
        workDir: path.join(work, '.mlops'),
        deadlineMs: 3000,
        idleTimeoutMs: 2000,
        signal: new AbortController().signal,
        ui: quietUi().ui,
      }),
    )
    const took = Date.now() - started
    expect(err.code).toBe('DownloadFailed')
    expect(err.message).toMatch(/stopped after \d+ B: it took longer than 3 s in all\.$/)
    expect(took).toBeGreaterThanOrEqual(2900)
    expect(took).toBeLessThan(4500)
  }, 10_000)

  it('refuses redirects to loopback, private and link-local targets from a public URL; loopback to loopback stays possible', async () => {
    const zipDir = await tmp()
    const zipFile = path.join(zipDir, 'ok.zip')
    makeZip(zipFile, [['dogImages/train/001.A/a.jpg', 'aaa']])
    const zip = await readFile(zipFile)
    routes.set('/final.zip', (_req, res) => res.writeHead(200, { 'content-length': String(zip.length) }).end(zip))
    const redirectTo = (to: string) => (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(302, { location: to }).end()
    routes.set('/to-self', redirectTo(`${base}/final.zip`))
    routes.set('/to-metadata', redirectTo('http://169.254.169.254/latest/meta-data/'))
    routes.set('/to-private', redirectTo('http://10.0.0.8/data.zip'))
    routes.set('/to-internal-name', redirectTo(`http://internal.example:${port}/final.zip`))
    routes.set('/to-mapped', redirectTo(`http://[::ffff:127.0.0.1]:${port}/final.zip`))
    // "files.example" looks public (a documentation address) but is served here: dial maps it to 127.0.0.1.
    const resolve = async (host: string) => (host === 'files.example' ? ['93.184.216.34'] : host === 'internal.example' ? ['93.184.216.35', '127.0.0.1'] : [])
    const dial = (ip: string) => (ip.startsWith('93.184.') ? '127.0.0.1' : ip)
    const attempt = async (url: string) => {
      const work = await tmp()
      return fetchDataset({
        url,
        dest: path.join(work, 'd'),
        workDir: path.join(work, '.mlops'),
        resolve,
        dial,
        signal: new AbortController().signal,
        ui: quietUi().ui,
      })
    }
    const pub = `http://files.example:${port}`
    for (const [route, why] of [
      ['/to-metadata', '169.254.169.254 resolves to a link-local address 169.254.169.254'],
      ['/to-private', '10.0.0.8 resolves to a private address 10.0.0.8'],
      ['/to-internal-name', 'internal.example resolves to a loopback address 127.0.0.1'],
      ['/to-mapped', '::ffff:7f00:1 resolves to a loopback address ::ffff:7f00:1'],
    ]) {
      const err = await failure(attempt(`${pub}${route}`))
      expect(err.code).toBe('DownloadRefused')
      expect(exitCodeFor(err)).toBe(2)
      expect(err.message).toContain(why)
    }
    // The URL the user gave may be local: a loopback server may redirect to loopback, not to link-local.
    expect((await attempt(`${base}/to-self`)).files).toBe(1)
    expect((await failure(attempt(`${base}/to-metadata`))).code).toBe('DownloadRefused')
    routes.set('/pub-to-pub', redirectTo(`${pub}/final.zip`))
    expect((await attempt(`${pub}/pub-to-pub`)).files).toBe(1)
  })

  it('never prints credentials from the URL, in messages, progress, results or the record', async () => {
    const zipDir = await tmp()
    const zipFile = path.join(zipDir, 'ok.zip')
    makeZip(zipFile, [['dogImages/train/001.A/a.jpg', 'aaa']])
    const zip = await readFile(zipFile)
    let auth = ''
    routes.set('/private.zip', (req, res) => {
      auth = req.headers.authorization ?? ''
      res.writeHead(200, { 'content-length': String(zip.length) }).end(zip)
    })
    const work = await tmp()
    const { ui: u, stderr } = quietUi()
    const url = `http://alice:s3cret-pw@127.0.0.1:${port}/private.zip`
    const r = await fetchDataset({ url, dest: path.join(work, 'd'), workDir: path.join(work, '.mlops'), signal: new AbortController().signal, ui: u })
    expect(auth).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`)
    expect(r.url).toBe(`http://***@127.0.0.1:${port}/private.zip`)
    const record = await readFile(path.join(work, '.mlops', 'downloads.json'), 'utf8')
    for (const text of [stderr(), JSON.stringify(r), record]) {
      expect(text).not.toContain('s3cret-pw')
      expect(text).not.toContain('alice')
    }
    expect(stderr()).toContain(`Downloading http://***@127.0.0.1:${port}/private.zip`)
    // The same URL is still recognised on the next run (the record keeps a hash, not the secret).
    expect(
      (await fetchDataset({ url, dest: path.join(work, 'd'), workDir: path.join(work, '.mlops'), signal: new AbortController().signal, ui: quietUi().ui }))
        .downloaded,
    ).toBe(false)
    const missing = quietUi()
    const err = await failure(
      fetchDataset({
        url: `http://alice:s3cret-pw@127.0.0.1:${port}/nope.zip`,
        dest: path.join(work, 'e'),
        workDir: path.join(work, '.mlops'),
        signal: new AbortController().signal,
        ui: missing.ui,
      }),
    )
    expect(err.message).toBe(`GET http://***@127.0.0.1:${port}/nope.zip answered 404 Not Found; nothing was downloaded.`)
    expect(missing.stderr()).not.toContain('s3cret-pw')
  })
})
