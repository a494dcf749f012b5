import { open, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildCodePackage } from '../../src/shared/code-package.js'
import { tempProject } from '../helpers/cli.js'

describe('the code package is size-checked before it is built in memory', () => {
  it('a source folder holding 300 MB (data or weights by mistake) is refused from its file sizes, without reading them', async () => {
    const dir = await tempProject('', { 'scripts/train.py': 'print("train")\n' })
    const src = path.join(dir, 'scripts')
    // A sparse file: 300 MB by size, nothing on disk, so only a size check can refuse it quickly.
    const weights = await open(path.join(src, 'weights.bin'), 'w')
    await weights.truncate(300 * 1024 * 1024)
    await weights.close()
    const started = process.memoryUsage().rss
    await expect(buildCodePackage(src, 'train.py')).rejects.toMatchObject({
      code: 'CodePackageTooLarge',
      message: `${src} holds 315 MB; code packages should be small (at most 50 MB packed).`,
      hint: 'Keep data and weights out of training.sourceDir (upload data with `mlops upload-data`).',
    })
    // Nothing close to the folder's size was read into memory.
    expect(process.memoryUsage().rss - started).toBeLessThan(100 * 1024 * 1024)
  })

  it('a small folder still packs, with its files listed', async () => {
    const dir = await tempProject('', { 'scripts/train.py': 'print("train")\n' })
    await writeFile(path.join(dir, 'scripts', 'model_def.py'), 'X = 1\n')
    const pkg = await buildCodePackage(path.join(dir, 'scripts'), 'train.py')
    expect(pkg.files).toEqual(['model_def.py', 'train.py'])
    expect(pkg.sha256).toMatch(/^[0-9a-f]{64}$/)
  })
})
