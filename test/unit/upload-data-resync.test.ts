import { HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { listObjectsInSegments } from '../../src/aws/s3/upload.js'
import { resyncSegment } from '../../src/features/dataset/upload-data.js'
import { scanDataset } from '../../src/shared/dataset-layout.js'
import { UserError } from '../../src/shared/errors.js'
import { fakeAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg } from '../helpers/images.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * The local record's reuse rule (issue 30 item 2): a file whose size and mtime equal the record's is
 * not opened (no magic-byte read, no hash), so a re-sync that changes nothing reads no file; a changed
 * mtime, a missing record or --checksum reads it. Every open of a dataset file is recorded here: the
 * scan opens with fs/promises' open, hashing streams with createReadStream, uploads read with readFile.
 */
const reads: string[] = []
const dataset = (p: unknown) => String(p).includes(`${path.sep}dogImages${path.sep}`)

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return {
    ...real,
    open: (async (p: string, ...rest: unknown[]) => {
      if (dataset(p)) reads.push(String(p))
      return (real.open as (...a: unknown[]) => unknown)(p, ...rest)
    }) as typeof real.open,
  }
})
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  return {
    ...real,
    createReadStream: ((p: string, ...rest: unknown[]) => {
      if (dataset(p)) reads.push(String(p))
      return (real.createReadStream as (...a: unknown[]) => unknown)(p, ...rest)
    }) as typeof real.createReadStream,
    readFile: ((p: string, ...rest: unknown[]) => {
      if (dataset(p)) reads.push(String(p))
      return (real.readFile as (...a: unknown[]) => unknown)(p, ...rest)
    }) as typeof real.readFile,
  }
})

const s3Mock = sdkMock(S3Client)
const factory = fakeAwsFactory()
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

const MTIME = 1_700_000_000
const RELS = ['train', 'valid', 'test'].flatMap((split) => ['001.A', '002.B'].map((cls) => `${split}/${cls}/0.jpg`))

/** A project with 6 images, and a fake S3 that stores what is put and lists it back (ETag "e-<key>"). */
async function project() {
  const dir = await tempProject(minimalConfig())
  for (const rel of RELS) {
    await mkdir(path.dirname(path.join(dir, 'dogImages', rel)), { recursive: true })
    await writeFile(path.join(dir, 'dogImages', rel), jpeg(`image ${rel}`))
    await utimes(path.join(dir, 'dogImages', rel), MTIME, MTIME) // whole seconds: restored exactly below
  }
  const stored = new Map<string, { size: number; sha256: string }>()
  s3Mock.on(HeadBucketCommand).resolves({ BucketRegion: 'us-east-1' })
  s3Mock.on(PutObjectCommand).callsFake((input: { Key: string; Body: Buffer; Metadata: { sha256: string } }) => {
    stored.set(input.Key, { size: input.Body.length, sha256: input.Metadata.sha256 })
    return { ETag: `"e-${input.Key}"` }
  })
  const listing = () => ({ Contents: [...stored].map(([Key, o]) => ({ Key, Size: o.size, ETag: `"e-${Key}"` })), IsTruncated: false })
  s3Mock.on(ListObjectsV2Command).callsFake(listing)
  s3Mock.on(HeadObjectCommand).callsFake((input: { Key: string }) => {
    const o = stored.get(input.Key)
    if (!o) throw Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } })
    return { ContentLength: o.size, ETag: `"e-${input.Key}"`, Metadata: { sha256: o.sha256 } }
  })
  return { dir, file: (rel: string) => path.join(dir, 'dogImages', rel), listing }
}

/** Rewrites a file with other bytes of the same size, and gives it back its old mtime. */
async function rewriteKeepingMtime(file: string, content: Buffer): Promise<void> {
  const before = await stat(file)
  expect(content.length).toBe(before.size)
  expect(before.mtimeMs).toBe(MTIME * 1000)
  await writeFile(file, content)
  await utimes(file, MTIME, MTIME)
}

async function sync(dir: string, ...extra: string[]) {
  reads.length = 0
  const run = await runMlops(['upload-data', '--json', '--yes', ...extra], { cwd: dir, awsFactory: factory })
  return { run, read: [...new Set(reads)].map((p) => path.relative(path.join(dir, 'dogImages'), p)).sort() }
}

beforeEach(() => {
  reads.length = 0
})

describe('a re-sync reuses the local record for unchanged files (issue 30)', () => {
  it('unchanged size and mtime: no file is opened, and a same-size rewrite with the old mtime goes unseen', async () => {
    const { dir, file } = await project()
    const first = await sync(dir)
    expect(first.run.code, first.run.stderr).toBe(0)
    expect(first.run.json()).toMatchObject({ uploaded: 6, skipped: 0 })
    expect(first.read).toEqual([...RELS].sort())
    const record = JSON.parse(await readFile(path.join(dir, '.mlops/upload-cache.json'), 'utf8'))
    expect(record.hashes[file('train/001.A/0.jpg')]).toEqual({
      size: jpeg('image train/001.A/0.jpg').length,
      mtimeMs: (await stat(file('train/001.A/0.jpg'))).mtimeMs,
      sha256: sha(jpeg('image train/001.A/0.jpg')),
      image: true,
    })

    const again = await sync(dir)
    expect(again.run.code, again.run.stderr).toBe(0)
    expect(again.run.json()).toMatchObject({ uploaded: 0, skipped: 6, headRequests: 0 })
    expect(again.read).toEqual([])

    // Not opened, so not even its first bytes are checked: the trade-off `aws s3 sync` makes too.
    await rewriteKeepingMtime(file('valid/002.B/0.jpg'), Buffer.alloc(jpeg('image valid/002.B/0.jpg').length, 'x'))
    const unseen = await sync(dir)
    expect(unseen.run.code, unseen.run.stderr).toBe(0)
    expect(unseen.run.json()).toMatchObject({ uploaded: 0, skipped: 6 })
    expect(unseen.read).toEqual([])
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(6)

    // --checksum opens every file: the impostor is found before anything is sent.
    const checked = await sync(dir, '--checksum')
    expect(checked.run.code).toBe(2)
    expect(checked.run.stderr).toContain('1 file in')
    expect(checked.run.stderr).toContain('  • valid/002.B/0.jpg')
    expect(checked.read).toEqual([...RELS].sort())
  })

  it('a changed mtime: that file alone is read, hashed and, with other content, uploaded', async () => {
    const { dir, file } = await project()
    expect((await sync(dir)).run.code).toBe(0)
    const changed = jpeg('image TEST/001.A/0.jpg')
    await rewriteKeepingMtime(file('test/001.A/0.jpg'), changed)
    const later = new Date(Date.now() + 5_000)
    await utimes(file('test/001.A/0.jpg'), later, later)
    // Touched only (same bytes, new mtime): read and hashed, then skipped.
    await utimes(file('train/002.B/0.jpg'), later, later)

    const puts = s3Mock.commandCalls(PutObjectCommand).length
    const again = await sync(dir)
    expect(again.run.code, again.run.stderr).toBe(0)
    expect(again.run.json()).toMatchObject({ uploaded: 1, skipped: 5, headRequests: 0 })
    expect(again.read).toEqual(['test/001.A/0.jpg', 'train/002.B/0.jpg'])
    const sent = s3Mock.commandCalls(PutObjectCommand).slice(puts)
    expect(sent.map((c) => [c.args[0].input.Key, c.args[0].input.Metadata?.sha256])).toEqual([['data/test/001.A/0.jpg', sha(changed)]])

    // The record now holds the new mtimes: the next re-sync reads nothing.
    expect((await sync(dir)).read).toEqual([])
  })

  it('a same-size rewrite with the old mtime is uploaded with --checksum', async () => {
    const { dir, file } = await project()
    expect((await sync(dir)).run.code).toBe(0)
    const changed = jpeg('image valid/001.a/0.jpg')
    await rewriteKeepingMtime(file('valid/001.A/0.jpg'), changed)
    expect((await sync(dir)).run.json()).toMatchObject({ uploaded: 0, skipped: 6 })
    const puts = s3Mock.commandCalls(PutObjectCommand).length
    const checked = await sync(dir, '--checksum')
    expect(checked.run.code, checked.run.stderr).toBe(0)
    expect(checked.run.json()).toMatchObject({ uploaded: 1, skipped: 5 })
    expect(
      s3Mock
        .commandCalls(PutObjectCommand)
        .slice(puts)
        .map((c) => c.args[0].input.Key),
    ).toEqual(['data/valid/001.A/0.jpg'])
  })

  it('no local record: every file is read (and each object asked for its sha256 once)', async () => {
    const { dir } = await project()
    expect((await sync(dir)).run.code).toBe(0)
    await rm(path.join(dir, '.mlops/upload-cache.json'))
    const again = await sync(dir)
    expect(again.run.code, again.run.stderr).toBe(0)
    expect(again.run.json()).toMatchObject({ uploaded: 0, skipped: 6, headRequests: 6 })
    expect(again.read).toEqual([...RELS].sort())
    expect((await sync(dir)).read).toEqual([])
  })

  it('a record made by a --no-validate run does not vouch for the image check', async () => {
    const { dir, file } = await project()
    expect((await sync(dir, '--no-validate')).run.code).toBe(0)
    const record = JSON.parse(await readFile(path.join(dir, '.mlops/upload-cache.json'), 'utf8'))
    expect(record.hashes[file('train/001.A/0.jpg')].image).toBeUndefined()
    const validated = await sync(dir)
    expect(validated.run.code, validated.run.stderr).toBe(0)
    expect(validated.read).toEqual([...RELS].sort()) // opened for their first bytes, not hashed again
    expect((await sync(dir)).read).toEqual([])
  })
})

describe('upload-data --help', () => {
  it('says which files a re-sync does not open, and how to read them all', async () => {
    const run = await runMlops(['upload-data', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('--checksum')
    expect(run.stdout.replace(/\s+/g, ' ')).toContain(
      'a file whose size and mtime are unchanged is not opened again, so a re-sync that changes nothing costs one stat per file and one listing. ' +
        'Like `aws s3 sync`, this misses a file rewritten with the same size and an old mtime; --checksum reads, checks and hashes every file.',
    )
  })
})

describe('the bucket checks and the listing go out together', () => {
  it('on a re-sync the listing is sent with HeadBucket; on a first upload only after HeadBucket answered', async () => {
    const { dir, listing } = await project()
    // HeadBucket answers once ListObjectsV2 has arrived, or after 500 ms: did the listing come first?
    const listedFirst: boolean[] = []
    let arrived = () => undefined as void
    s3Mock.on(HeadBucketCommand).callsFake(async () => {
      const listed = new Promise<boolean>((resolve) => (arrived = () => resolve(true)))
      listedFirst.push(await Promise.race([listed, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 500))]))
      return { BucketRegion: 'us-east-1' }
    })
    s3Mock.on(ListObjectsV2Command).callsFake(() => {
      arrived()
      return listing()
    })
    expect((await sync(dir)).run.code).toBe(0)
    expect((await sync(dir)).run.json()).toMatchObject({ uploaded: 0, skipped: 6 })
    expect(listedFirst).toEqual([false, true])
  })

  it('a first upload to a missing bucket sends no public-bucket check and no listing', async () => {
    const { dir } = await project()
    s3Mock.on(HeadBucketCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }))
    const first = await sync(dir)
    expect(first.run.code, first.run.stderr).toBe(0)
    expect(first.run.json()).toMatchObject({ uploaded: 6, bucketCreated: true })
    const sent = s3Mock.calls().map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, ''))
    expect(sent.filter((n) => n !== 'PutObject')).toEqual([
      'HeadBucket',
      'CreateBucket',
      'PutPublicAccessBlock',
      'PutBucketEncryption',
      'PutBucketPolicy',
      'PutBucketTagging',
      'PutBucketLifecycleConfiguration',
    ])
  })

  it('a re-sync of a folder the scan refuses: exit 2, nothing written', async () => {
    const { dir, file } = await project()
    expect((await sync(dir)).run.code).toBe(0)
    const puts = s3Mock.commandCalls(PutObjectCommand).length
    await writeFile(file('train/001.A/fake.jpg'), 'not an image')
    const refused = await sync(dir)
    expect(refused.run.code).toBe(2)
    expect(refused.run.stderr).toContain('  • train/001.A/fake.jpg')
    expect(refused.read).toEqual(['train/001.A/fake.jpg'])
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(puts)
  })
})

describe('listObjectsInSegments', () => {
  const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))
  /** A bucket that lists as S3 does: UTF-8 order, 1,000 keys a page, StartAfter, continuation tokens. */
  function bucket(keys: string[]) {
    const sorted = [...keys].sort(utf8)
    const requests: { StartAfter?: string; ContinuationToken?: string; MaxKeys?: number }[] = []
    s3Mock.on(ListObjectsV2Command).callsFake((input: { Prefix: string; StartAfter?: string; ContinuationToken?: string; MaxKeys?: number }) => {
      requests.push({
        ...(input.StartAfter ? { StartAfter: input.StartAfter } : {}),
        ...(input.ContinuationToken ? { ContinuationToken: input.ContinuationToken } : {}),
        ...(input.MaxKeys ? { MaxKeys: input.MaxKeys } : {}),
      })
      const after = input.ContinuationToken ?? input.StartAfter
      const from = after === undefined ? 0 : sorted.findIndex((k) => utf8(k, after) > 0)
      const rest = from < 0 ? [] : sorted.slice(from).filter((k) => k.startsWith(input.Prefix))
      const size = Math.min(1000, input.MaxKeys ?? 1000)
      const page = rest.slice(0, size)
      return {
        Contents: page.map((Key) => ({ Key, Size: 1, ETag: '"e"' })),
        IsTruncated: rest.length > size,
        NextContinuationToken: rest.length > size ? page.at(-1) : undefined,
      }
    })
    return { sorted, requests }
  }
  const keys = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `data/k${String(i).padStart(5, '0')}${tag}`)

  it('lists every key once, one page per segment when the bucket holds what was recorded', async () => {
    const local = keys(2500)
    const { sorted, requests } = bucket(local)
    const split = [local[999], local[1999]]
    const listed = await listObjectsInSegments(new S3Client({ region: 'us-east-1' }), 'b', 'data/', split)
    expect([...listed.keys()]).toEqual(sorted)
    expect(requests).toEqual([{}, { StartAfter: local[999] }, { StartAfter: local[1999] }])
  })

  it('pages of pageSize keys (MaxKeys): a segment of 250 asks for 250, not the next segment’s keys too', async () => {
    const local = keys(934)
    const { sorted, requests } = bucket(local)
    const segment = resyncSegment(local.length)
    expect(segment).toBe(250)
    const split = local.filter((_, i) => i % segment === segment - 1 && i < local.length - 1)
    const listed = await listObjectsInSegments(new S3Client({ region: 'us-east-1' }), 'b', 'data/', split, undefined, segment)
    expect([...listed.keys()]).toEqual(sorted)
    expect(requests).toEqual([
      { MaxKeys: 250 },
      { StartAfter: local[249], MaxKeys: 250 },
      { StartAfter: local[499], MaxKeys: 250 },
      { StartAfter: local[749], MaxKeys: 250 },
    ])
  })

  it('the segment size: about eight pages at once, 250 to 1,000 keys each', () => {
    expect([100, 934, 2088, 8351, 100_000].map(resyncSegment)).toEqual([250, 250, 261, 1000, 1000])
  })

  it('whatever the bucket holds: keys added and removed since, pages past a split, UTF-8 order', async () => {
    const local = keys(3000)
    const remote = [...local.filter((_, i) => i % 7 !== 0), ...keys(1500, 'x'), 'data/\u{1F600}', 'data/\uFFFD', 'other/k']
    const { sorted } = bucket(remote)
    const split = [local[999], local[1999], 'data/\uFFFD']
    const listed = await listObjectsInSegments(new S3Client({ region: 'us-east-1' }), 'b', 'data/', split)
    expect([...listed.keys()].sort(utf8)).toEqual(sorted.filter((k) => k.startsWith('data/')))
    expect(listed.size).toBe(remote.length - 1)
    // The same with pages of 300 keys: segments page on past their first page, still every key once.
    const small = await listObjectsInSegments(new S3Client({ region: 'us-east-1' }), 'b', 'data/', split, undefined, 300)
    expect([...small.keys()].sort(utf8)).toEqual(sorted.filter((k) => k.startsWith('data/')))
    expect(small.size).toBe(remote.length - 1)
  })
})

describe('scanDataset checkedBefore', () => {
  it('stats, and does not open, files whose size and mtime it vouches for', async () => {
    const { dir, file } = await project()
    const root = path.join(dir, 'dogImages')
    const fake = file('train/001.A/0.jpg')
    const size = jpeg('image train/001.A/0.jpg').length
    await rewriteKeepingMtime(fake, Buffer.alloc(size, 'x'))
    const s = await stat(fake)
    const vouch = (m: number) => (p: string) => (p === fake ? { size, mtimeMs: m } : undefined)

    reads.length = 0
    const scan = await scanDataset(root, { checkedBefore: vouch(s.mtimeMs) })
    expect(scan.unopened).toBe(1)
    expect(scan.files.map((f) => f.rel)).toEqual([...RELS].sort())
    expect(reads.map((p) => path.relative(root, p)).sort()).toEqual(RELS.filter((r) => r !== 'train/001.A/0.jpg').sort())

    const err = await scanDataset(root, { checkedBefore: vouch(s.mtimeMs - 1000) }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).code).toBe('NotAnImage')
    expect((err as UserError).details).toEqual({ root, files: ['train/001.A/0.jpg'] })
    expect((await scanDataset(root, { validate: false, checkedBefore: vouch(s.mtimeMs) })).unopened).toBe(1)
  })
})
