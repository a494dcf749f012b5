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
import { MlopsError } from '../../src/shared/errors.js'
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
