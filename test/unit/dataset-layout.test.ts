import { mkdir, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { mkdtemp } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { isImage, scanDataset } from '../../src/shared/dataset-layout.js'
import { UserError } from '../../src/shared/errors.js'
import { jpeg } from '../helpers/images.js'

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mlops-layout-'))
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true })
    if (rel.endsWith('/')) await mkdir(path.join(root, rel), { recursive: true })
    // Image names get a JPEG signature before their text (magic bytes are checked); empty stays empty.
    else await writeFile(path.join(root, rel), isImage(rel) && content !== '' ? jpeg(content) : content)
  }
  return root
}

function valid(extra: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = {}
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of ['001.Affenpinscher', '002.Afghan_hound']) {
      files[`${split}/${cls}/a.jpg`] = 'aaaa'
      files[`${split}/${cls}/b.JPEG`] = 'bb'
    }
  }
  return { ...files, ...extra }
}

async function problems(files: Record<string, string>): Promise<string[]> {
  const root = await tree(files)
  try {
    await scanDataset(root)
  } catch (err) {
    expect(err).toBeInstanceOf(UserError)
    expect((err as UserError).code).toBe('InvalidDatasetLayout')
    return (err as UserError).details!.problems as string[]
  }
  throw new Error('expected the layout to be rejected')
}

describe('scanDataset', () => {
  it('counts files, bytes and classes per split and lists what it skips', async () => {
    const root = await tree(valid({ 'train/001.Affenpinscher/notes.txt': 'n', 'README.md': 'r', 'train/002.Afghan_hound/empty.png': '', 'extra/x.jpg': 'x' }))
    const scan = await scanDataset(root)
    expect(scan.validated).toBe(true)
    expect(scan.classes).toBe(2)
    expect(scan.splits).toEqual({
      train: { files: 4, bytes: 24, classes: 2 },
      valid: { files: 4, bytes: 24, classes: 2 },
      test: { files: 4, bytes: 24, classes: 2 },
    })
    expect(scan.bytes).toBe(72)
    expect(scan.files.map((f) => f.rel)).toEqual([...scan.files.map((f) => f.rel)].sort())
    expect(scan.files[0]).toMatchObject({ rel: 'test/001.Affenpinscher/a.jpg', size: 7, path: path.join(root, 'test/001.Affenpinscher/a.jpg') })
    expect(scan.skipped).toEqual(
      expect.arrayContaining([
        { rel: 'README.md', reason: 'not in a split folder' },
        { rel: 'extra/', reason: 'not a split folder' },
        { rel: 'train/001.Affenpinscher/notes.txt', reason: 'not an image (jpg, jpeg, png, bmp, gif, webp, tif, tiff)' },
        { rel: 'train/002.Afghan_hound/empty.png', reason: 'empty file' },
      ]),
    )
    expect(scan.skipped).toHaveLength(4)
  })

  it('names a missing split, and points at a dataset one folder down', async () => {
    const root = await tree(Object.fromEntries(Object.entries(valid()).map(([k, v]) => [`dogImages/${k}`, v])))
    const err = await scanDataset(root).catch((e: UserError) => e)
    expect((err as UserError).details!.problems).toEqual([
      `missing train/, valid/, test/ (expected train/, valid/ and test/ directly inside ${root}); they are in ${path.join(root, 'dogImages')}: pass --source ${path.join(root, 'dogImages')}`,
    ])
    expect((err as UserError).message).toContain('nothing was uploaded')
    expect((err as UserError).hint).toContain('--no-validate')
  })

  it('rejects stray images, nested folders, empty classes, mismatched classes and single-class datasets', async () => {
    const files = valid({ 'valid/stray.jpg': 'x', 'test/002.Afghan_hound/sub/c.jpg': 'c', 'train/003.Akita/readme.txt': 't' })
    expect(await problems(files)).toEqual([
      'train/003.Akita/: no images (a class needs at least one image in every split)',
      'valid/stray.jpg: images must be inside a class folder (valid/<class>/stray.jpg)',
      'test/002.Afghan_hound/sub/: class folders must hold images directly, not subfolders',
      'valid/ lacks 1 class that train/ has: 003.Akita',
      'test/ lacks 1 class that train/ has: 003.Akita',
    ])
    const one: Record<string, string> = {}
    for (const s of ['train', 'valid', 'test']) one[`${s}/001.Affenpinscher/a.jpg`] = 'a'
    expect(await problems(one)).toEqual(['only one class (001.Affenpinscher): a classifier needs at least two'])
    expect(await problems({ 'train/': '', 'valid/': '', 'test/': '' })).toEqual([
      'train/: no class folders (expected train/<class>/<image>, e.g. train/001.Affenpinscher/a.jpg)',
      'valid/: no class folders (expected valid/<class>/<image>, e.g. valid/001.Affenpinscher/a.jpg)',
      'test/: no class folders (expected test/<class>/<image>, e.g. test/001.Affenpinscher/a.jpg)',
    ])
  })

  it('shows at most 25 problems in the message and keeps all in details', async () => {
    const files = valid()
    for (let i = 0; i < 30; i++) files[`train/stray${i}.png`] = 'x'
    const root = await tree(files)
    const err = (await scanDataset(root).catch((e) => e)) as UserError
    expect((err.details!.problems as string[]).length).toBe(30)
    expect(err.message).toContain('(30 problems)')
    expect(err.message).toContain('… and 5 more')
  })

  it('follows symlinked images and split folders with --follow-symlinks', async () => {
    const root = await tree(valid())
    const elsewhere = await tree({ 'real.jpg': 'real' })
    await symlink(path.join(elsewhere, 'real.jpg'), path.join(root, 'train/001.Affenpinscher/link.jpg'))
    const scan = await scanDataset(root, { followSymlinks: true })
    expect(scan.files.find((f) => f.rel === 'train/001.Affenpinscher/link.jpg')?.size).toBe(7)
  })

  it('says when the folder does not exist', async () => {
    const err = (await scanDataset('/nonexistent/dogImages').catch((e) => e)) as UserError
    expect(err.code).toBe('SourceNotFound')
    expect(err.hint).toContain('--from-url')
  })

  it('--no-validate takes every regular file as it is', async () => {
    const root = await tree({ 'a.txt': 'a', 'x/y/z.bin': 'zz', '.hidden': 'h' })
    const scan = await scanDataset(root, { validate: false })
    expect(scan).toMatchObject({ validated: false, bytes: 4, skipped: [] })
    expect(scan.files.map((f) => f.rel)).toEqual(['.hidden', 'a.txt', 'x/y/z.bin'])
  })

  it('recognises the extensions training loads (jpg, jpeg, png, bmp, gif, webp, tif, tiff) in any case', () => {
    expect(['a.jpg', 'b.JPG', 'c.jpeg', 'd.Png', 'e.gif', 'h.TIFF', 'i.tif', 'j.webp', 'k.bmp'].every(isImage)).toBe(true)
    expect(['e.svg', 'f.jpg.txt', 'g', '.DS_Store', 'l.heic'].some(isImage)).toBe(false)
  })
})
