import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { sdkMock } from '../helpers/mock-sdk.js'
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { looksLikeImage, scanDataset } from '../../src/shared/dataset-layout.js'
import { MlopsError, exitCodeFor } from '../../src/shared/errors.js'
import { fakeAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg } from '../helpers/images.js'

// Running as root, chmod 000 reads fine: paths containing UNREADABLE fail to open like EACCES would.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const denied = (p: unknown) => String(p).includes('UNREADABLE')
  const eacces = (p: unknown) => Object.assign(new Error(`EACCES: permission denied, open '${String(p)}'`), { code: 'EACCES' })
  return {
    ...real,
    open: (async (p: string, ...rest: unknown[]) => {
      if (denied(p)) throw eacces(p)
      return (real.open as (...a: unknown[]) => unknown)(p, ...rest)
    }) as typeof real.open,
    readdir: (async (p: string, ...rest: unknown[]) => {
      if (denied(p)) throw eacces(p)
      return (real.readdir as (...a: unknown[]) => unknown)(p, ...rest)
    }) as typeof real.readdir,
  }
})

const s3Mock = sdkMock(S3Client)

async function dataset(images: Record<string, Buffer | string> = {}, at?: string): Promise<string> {
  const root = at ?? (await mkdtemp(path.join(os.tmpdir(), 'mlops-guard-')))
  const files: Record<string, Buffer | string> = {}
  for (const split of ['train', 'valid', 'test']) for (const cls of ['001.A', '002.B']) files[`${split}/${cls}/0.jpg`] = jpeg(`${split}${cls}`)
  for (const [rel, content] of Object.entries({ ...files, ...images })) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true })
    await writeFile(path.join(root, rel), content)
  }
  return root
}

async function failure(p: Promise<unknown>): Promise<MlopsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof MlopsError)) throw new Error(`expected an MlopsError, got ${String(err)}`)
  return err
}

describe('symbolic links out of the dataset folder (issue 19 item 9)', () => {
  it('are refused, listing the first offending links, unless followSymlinks; links inside the folder are fine', async () => {
    const root = await dataset()
    const outside = await mkdtemp(path.join(os.tmpdir(), 'mlops-outside-'))
    await writeFile(path.join(outside, 'secret.jpg'), jpeg('secret'))
    await symlink(path.join(outside, 'secret.jpg'), path.join(root, 'valid/001.A/passwd.jpg'))
    await symlink(outside, path.join(root, 'train/003.Linked'))
    await symlink(path.join(root, 'train/001.A/0.jpg'), path.join(root, 'train/002.B/inside.jpg'))
    const err = await failure(scanDataset(root))
    expect(err.code).toBe('SymlinkOutsideDataset')
    expect(exitCodeFor(err)).toBe(2)
    expect(err.message).toBe(
      `2 symbolic links in ${root} lead out of the dataset folder; nothing was uploaded:\n` +
        `  • train/003.Linked -> ${await realpathOf(outside)}\n  • valid/001.A/passwd.jpg -> ${await realpathOf(path.join(outside, 'secret.jpg'))}`,
    )
    expect(err.hint).toContain('--follow-symlinks')
    // Also with --no-validate.
    expect((await failure(scanDataset(root, { validate: false }))).code).toBe('SymlinkOutsideDataset')
    await expect(
      scanDataset(
        await dataset({ 'x/real.jpg': jpeg('r') }).then(async (r) => (await symlink(path.join(r, 'x/real.jpg'), path.join(r, 'train/001.A/in.jpg')), r)),
      ),
    ).resolves.toMatchObject({ validated: true })
  })

  it('upload-data --follow-symlinks uploads them; without it nothing reaches AWS', async () => {
    const dir = await tempProject(minimalConfig())
    const outside = await mkdtemp(path.join(os.tmpdir(), 'mlops-outside-'))
    await writeFile(path.join(outside, 'x.jpg'), jpeg('x'))
    await dataset({}, path.join(dir, 'dogImages'))
    await symlink(path.join(outside, 'x.jpg'), path.join(dir, 'dogImages/train/001.A/link.jpg'))
    const refused = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory() })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('1 symbolic link in')
    expect(refused.stderr).toContain('  • train/001.A/link.jpg -> ')
    expect(s3Mock.calls()).toHaveLength(0)
    const plan = await runMlops(['upload-data', '--follow-symlinks', '--dry-run', '--json'], { cwd: dir, awsFactory: fakeAwsFactory() })
    expect(plan.code).toBe(0)
    expect((plan.json() as { uploads: { key: string }[] }).uploads.map((u) => u.key)).toContain('data/train/001.A/link.jpg')
  })
})

async function realpathOf(p: string): Promise<string> {
  const { realpath } = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')
  return realpath(p)
}

describe('image magic bytes (issue 19 item 9)', () => {
  it('knows JPEG, PNG, GIF, BMP and WebP by their first bytes', () => {
    const hex = (h: string) => Buffer.from(h.replace(/ /g, ''), 'hex')
    for (const good of ['ffd8ffe0', '89504e470d0a1a0a', '474946383961', '424d3600', '52494646 24000000 57454250']) expect(looksLikeImage(hex(good))).toBe(true)
    for (const bad of ['', 'ffd8', '3c68746d6c3e', '52494646 24000000 57415645', Buffer.from('root:x:0:0').toString('hex')])
      expect(looksLikeImage(hex(bad))).toBe(false)
  })

  it('refuses files named like images that are not, listing them', async () => {
    const root = await dataset({
      'train/001.A/notes.jpg': 'just text',
      'valid/002.B/page.png': '<html>',
      'test/001.A/real.png': Buffer.from('89504e470d0a1a0a00', 'hex'),
    })
    const err = await failure(scanDataset(root))
    expect(err.code).toBe('NotAnImage')
    expect(exitCodeFor(err)).toBe(2)
    expect(err.message).toBe(
      `2 files in ${root} have an image name but no image inside (not JPEG, PNG, GIF, BMP, WebP or TIFF); nothing was uploaded:\n  • train/001.A/notes.jpg\n  • valid/002.B/page.png`,
    )
    expect(err.details).toEqual({ root, files: ['train/001.A/notes.jpg', 'valid/002.B/page.png'] })
    // --no-validate uploads the folder as it is.
    expect((await scanDataset(root, { validate: false })).files).toHaveLength(9)
  })
})

describe('unreadable files and folders are found before the first write (issue 19 crashes)', () => {
  it('upload-data stops with exit 2 naming the path, before the bucket is touched', async () => {
    const dir = await tempProject(minimalConfig())
    await dataset({ 'train/001.A/UNREADABLE.jpg': jpeg('x') }, path.join(dir, 'dogImages'))
    s3Mock.on(HeadBucketCommand).resolves({})
    const run = await runMlops(['upload-data', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('  • train/001.A/UNREADABLE.jpg (EACCES)')
    expect(run.stderr).not.toContain('Unexpected')
    expect(s3Mock.calls()).toHaveLength(0)
  })

  it('an over-long --source is a usage error naming the flag (ENAMETOOLONG)', async () => {
    const dir = await tempProject(minimalConfig())
    const long = await runMlops(['upload-data', '--source', `data/${'x'.repeat(300)}`, '--yes'], { cwd: dir, awsFactory: fakeAwsFactory() })
    expect(long.code).toBe(2)
    expect(long.stderr).toContain('--source: has a folder name of 300 bytes')
    const deep = await runMlops(['upload-data', '--source', Array.from({ length: 40 }, () => 'y'.repeat(120)).join('/'), '--yes'], {
      cwd: dir,
      awsFactory: fakeAwsFactory(),
    })
    expect(deep.code).toBe(2)
    expect(deep.stderr).toContain('--source: is 4839 bytes long; paths may have at most 4,095.')
    // From the config (data.localDir) the scan says so too.
    const err = await failure(scanDataset(path.join(dir, 'z'.repeat(300))))
    expect(err.code).toBe('InvalidFlag')
    expect(err.message).toContain('--source (or data.localDir) is too long a path')
    expect(s3Mock.calls()).toHaveLength(0)
  })
})
