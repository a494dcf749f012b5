import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { create as createTar } from 'tar'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { collectInferenceCode, repackModelArchive } from '../../src/features/deploy/model-package.js'
import { extractTarBounded } from '../../src/shared/archive-bounds.js'
import { MlopsError } from '../../src/shared/errors.js'

/**
 * Issue 27: model archives unpack within the dataset unzip's bounds (total, ratio, free disk) and hold
 * plain files only, in `serve` (extractTarBounded) and in deploy's repack; refused before writing.
 */
const made: string[] = []
const tmp = async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-bounds-'))
  made.push(dir)
  return dir
}
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))))
/** 128 MiB of zeros in ~130 KB: a 1000:1 bomb. */
let bomb: string
beforeAll(async () => {
  bomb = await archive(128 * 1024 * 1024)
}, 30_000)
const HINT = 'use a model you trust'

/** model-info.json plus `model.pth` of `size` bytes of zeros (a sparse file: nothing on disk), as a .tar.gz. */
async function archive(size: number, extra?: (dir: string) => Promise<void>): Promise<string> {
  const dir = await tmp()
  const src = path.join(dir, 'src')
  await mkdir(src)
  await writeFile(path.join(src, 'model-info.json'), '{"arch":"resnet18"}')
  await writeFile(path.join(src, 'model.pth'), '')
  await truncate(path.join(src, 'model.pth'), size)
  await extra?.(src)
  const file = path.join(dir, 'model.tar.gz')
  await createTar({ cwd: src, gzip: true, file, portable: true }, await readdir(src))
  return file
}

async function refusal(p: Promise<unknown>): Promise<MlopsError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof MlopsError)) throw new Error(`expected an MlopsError, got ${String(err)}`)
  return err
}

describe('model archives are bounded like dataset zips', () => {
  it('refuses a 1000:1 bomb with a named error and writes nothing', async () => {
    const dest = await tmp()
    const err = await refusal(extractTarBounded(bomb, dest, { label: 'bomb.tar.gz', hint: HINT }))
    expect(err.code).toBe('UnsafeArchive')
    expect(err.message).toMatch(
      /^bomb\.tar\.gz looks like an archive bomb: .* expands to at least 128\.0 MB \(\d{4}:1; limit 200:1\); nothing was extracted\.$/,
    )
    expect(err.hint).toBe(HINT)
    expect(await readdir(dest)).toEqual([])
  }, 30_000)

  it('refuses an archive larger than the total limit, or than the free disk', async () => {
    const model = await archive(2 * 1024 * 1024)
    const dest = await tmp()
    expect((await refusal(extractTarBounded(model, dest, { label: 'm', hint: HINT, maxTotalBytes: 1024 * 1024 }))).message).toMatch(
      /^m looks like an archive bomb: it expands to more than 1,048,576 bytes; nothing was extracted\.$/,
    )
    const full = await refusal(extractTarBounded(model, dest, { label: 'm', hint: HINT, freeBytes: async () => 10 * 1024 * 1024 }))
    expect(full.code).toBe('NotEnoughDisk')
    expect(full.hint).toBe(HINT)
    expect(await readdir(dest)).toEqual([])
  })

  it('refuses symbolic links (a classes file pointing at /etc/passwd) and unpacks plain files', async () => {
    const linked = await archive(10, (src) => symlink('/etc/passwd', path.join(src, 'classes.json')))
    const dest = await tmp()
    const err = await refusal(extractTarBounded(linked, dest, { label: 'm.tar.gz', hint: HINT }))
    expect(err.message).toBe('m.tar.gz holds classes.json, a symbolic link entry; a model archive holds plain files only, and nothing was extracted.')
    expect(await readdir(dest)).toEqual([])
    const ok = await archive(1000)
    expect(await extractTarBounded(ok, dest, { label: 'ok', hint: HINT })).toMatchObject({ entries: 2, totalBytes: 1019 })
    expect((await readdir(dest)).sort()).toEqual(['model-info.json', 'model.pth'])
  })

  it("deploy's repack refuses the bomb before unpacking it", async () => {
    const work = await tmp()
    const code = await collectInferenceCode(path.resolve(import.meta.dirname, '../../scripts'), 'deployment.py')
    const err = await refusal(repackModelArchive(createReadStream(bomb), code, 'applications: []\n', work, 's3://b/output/j/output/model.tar.gz'))
    expect(err.code).toBe('UnsafeArchive')
    expect(err.message).toMatch(/^s3:\/\/b\/output\/j\/output\/model\.tar\.gz looks like an archive bomb/)
    expect(await readdir(path.join(work, 'model'))).toEqual([])
  }, 30_000)
})
