import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { scanDataset } from '../../src/shared/dataset-layout.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'
import { jpeg } from '../helpers/images.js'

/** `mlops split-data <folder>`: a folder of class folders -> train/ valid/ test/ (issue 31 item 11). */

async function flat(perClass: Record<string, number>, extra: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'mlops-split-'))
  for (const [cls, n] of Object.entries(perClass)) {
    await mkdir(path.join(root, 'photos', cls), { recursive: true })
    for (let i = 0; i < n; i++) await writeFile(path.join(root, 'photos', cls, `img${String(i).padStart(2, '0')}.jpg`), jpeg(`${cls}${i}`))
  }
  for (const [rel, text] of Object.entries(extra)) await writeFile(path.join(root, 'photos', rel), text)
  return root
}

async function listing(dir: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of (await readdir(path.join(dir, split))).sort()) out[`${split}/${cls}`] = (await readdir(path.join(dir, split, cls))).sort()
  }
  return out
}

const run = (args: string[], cwd: string) => runMlops(['split-data', ...args], { cwd, awsFactory: noAwsFactory() })

describe('mlops split-data', () => {
  it('cuts each class by seed into train/ valid/ test/ that the one validator accepts, and says what it did', async () => {
    const dir = await flat({ cat: 20, dog: 10 }, { 'cat/notes.txt': 'n' })
    const r = await run(['photos', '--out', 'dataset', '--json'], dir)
    expect(r.code, r.stderr).toBe(0)
    const doc = r.json()
    expect(doc).toMatchObject({
      out: path.join(dir, 'dataset'),
      seed: 0,
      fractions: { valid: 0.1, test: 0.1 },
      classes: [
        { name: 'cat', train: 16, valid: 2, test: 2 },
        { name: 'dog', train: 8, valid: 1, test: 1 },
      ],
      images: { train: 24, valid: 3, test: 3 },
      skipped: [{ rel: 'cat/notes.txt', reason: 'not an image' }],
      written: true,
    })
    const scan = await scanDataset(path.join(dir, 'dataset'))
    expect(scan.classes).toBe(2)
    expect(scan.files).toHaveLength(30)
    // Every image lands in exactly one split.
    const all = Object.entries(await listing(path.join(dir, 'dataset'))).flatMap(([k, files]) => files.map((f) => `${k.split('/')[1]}/${f}`))
    expect(all.sort()).toEqual(
      [
        ...Array.from({ length: 20 }, (_, i) => `cat/img${String(i).padStart(2, '0')}.jpg`),
        ...Array.from({ length: 10 }, (_, i) => `dog/img${String(i).padStart(2, '0')}.jpg`),
      ].sort(),
    )
    // The human rendering names the next step.
    const human = await run(['photos', '--out', 'dataset2'], dir)
    expect(human.stdout).toContain(`Next: set data.localDir: ${path.join(dir, 'dataset2')} in mlops.config.yaml`)
  })

  it('is deterministic by seed: the same seed the same split, another seed another', async () => {
    const dir = await flat({ cat: 20, dog: 20 })
    for (const [out, seed] of [
      ['a', '0'],
      ['b', '0'],
      ['c', '1'],
    ])
      expect((await run(['photos', '--out', out, '--seed', seed], dir)).code).toBe(0)
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((o) => listing(path.join(dir, o))))
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
    expect(a['test/cat']).toEqual(['img09.jpg', 'img14.jpg']) // pinned: the split must not change between versions
  })

  it('--dry-run writes nothing; the output feeds train --local as it is', async () => {
    const dir = await flat({ cat: 3, dog: 3 })
    const dry = await run(['photos', '--out', 'dataset', '--dry-run', '--json'], dir)
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.json()).toMatchObject({ dryRun: true, operations: [], images: { train: 2, valid: 2, test: 2 }, written: false })
    expect(await readdir(dir)).toEqual(['photos'])
    expect((await run(['photos', '--out', 'dataset'], dir)).code).toBe(0)
    const project = await tempProject(minimalConfig().replace('./dogImages', path.join(dir, 'dataset')))
    const train = await runMlops(['train', '--local', '--dry-run'], { cwd: project, awsFactory: noAwsFactory() })
    expect(train.code, train.stderr).toBe(0)
  })

  it('refuses, exit 2 and nothing written: too few images, one class, an already split folder, a used --out, bad fractions', async () => {
    const dir = await flat({ cat: 5, dog: 2 })
    const few = await run(['photos', '--out', 'x'], dir)
    expect(few.code).toBe(2)
    expect(few.stderr).toContain('dog/: 2 images; a class needs at least 3 (one per split)')
    expect(few.stderr).toContain('nothing was written')

    const one = await flat({ cat: 5 })
    expect((await run(['photos', '--out', 'x'], one)).stderr).toContain('only one class folder (cat): a classifier needs at least two')

    const ok = await flat({ cat: 3, dog: 3 })
    expect((await run(['photos', '--out', 'dataset'], ok)).code).toBe(0)
    const again = await run(['dataset', '--out', 'y'], ok)
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already has train/, valid/, test/')
    const used = await run(['photos', '--out', 'dataset'], ok)
    expect(used.code).toBe(2)
    expect(used.stderr).toContain(`--out ${path.join(ok, 'dataset')} already exists and is not empty; nothing was written.`)
    const inside = await run(['photos', '--out', 'photos/split'], ok)
    expect(inside.code).toBe(2)
    expect(inside.stderr).toContain('is inside the folder being split')

    const zero = await run(['photos', '--valid', '0'], ok)
    expect(zero.code).toBe(2)
    expect(zero.stderr).toContain('--valid: must be more than 0, got "0".')
    const both = await run(['photos', '--valid', '0.6', '--test', '0.5'], ok)
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('--valid 0.6 and --test 0.5 leave nothing for train/')
    const seed = await run(['photos', '--seed', '-1'], ok)
    expect(seed.code).toBe(2)
    expect(seed.stderr).toContain('--seed: must be 0 or more')
    expect((await readdir(ok)).sort()).toEqual(['dataset', 'photos'])
  })
})
