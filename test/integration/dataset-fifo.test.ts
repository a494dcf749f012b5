import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { scanDataset } from '../../src/shared/dataset-layout.js'
import { MlopsError, exitCodeFor } from '../../src/shared/errors.js'
import { jpeg } from '../helpers/images.js'

/**
 * A FIFO in the dataset (opening one blocks) is named before the first write. Node cannot make a FIFO,
 * so `mkfifo` runs as a process: this test moved here from test/unit/dataset-guards.test.ts.
 */

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

async function dataset(images: Record<string, Buffer | string> = {}): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mlops-guard-'))
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

describe('unreadable files and folders are found before the first write (issue 19 crashes)', () => {
  it('names every path that cannot be opened: images, class folders, links to nothing, FIFOs', async () => {
    const root = await dataset({ 'train/001.A/UNREADABLE.jpg': jpeg('x'), 'valid/002.B/1.jpg': jpeg('y') })
    await mkdir(path.join(root, 'test/003.UNREADABLE'))
    await symlink(path.join(root, 'nowhere.jpg'), path.join(root, 'valid/001.A/dangling.jpg'))
    execFileSync('mkfifo', [path.join(root, 'train/002.B/pipe.jpg')])
    const err = await failure(scanDataset(root))
    expect(err.code).toBe('UnreadableDataset')
    expect(exitCodeFor(err)).toBe(2)
    expect(err.message).toBe(
      `4 files or folders in ${root} cannot be read; nothing was uploaded:\n` +
        '  • train/002.B/pipe.jpg (not a regular file)\n  • valid/001.A/dangling.jpg (a link to nothing)\n  • test/003.UNREADABLE/ (EACCES)\n  • train/001.A/UNREADABLE.jpg (EACCES)',
    )
  })
})
