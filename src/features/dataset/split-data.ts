import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ChalkInstance } from 'chalk'
import type { CommandContext } from '../../context.js'
import { expectedLayout, isImage, scanDataset, SPLITS, type SkippedFile, type Split } from '../../shared/dataset-layout.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { formatTable } from '../../shared/output.js'
import { runPool } from '../../shared/pool.js'

/**
 * `mlops split-data <folder>`: a folder of class folders (`<folder>/<class>/<image>`, how most image
 * collections come) becomes the train/ valid/ test/ layout every dataset command checks (issue 31
 * item 11). Deterministic: within each class the images are ordered by sha256(seed, file name) and
 * cut, so the same seed and files give the same split on every machine (no RNG, no file-system
 * order). Every class gets at least one image in each split. Copies (reflinks where the file system has them) into
 * a new folder, written beside it and renamed into place, so the source is never touched and a
 * failed run leaves no half-split dataset.
 */

export interface SplitDataOptions {
  /** The folder of class folders. */
  readonly source: string
  /** Where train/ valid/ test/ go; must not exist, or be empty. */
  readonly out: string
  /** Share of each class's images for valid/. @default 0.1 */
  readonly valid: number
  /** Share of each class's images for test/. @default 0.1 */
  readonly test: number
  /** Orders the images before the cut. @default 0 */
  readonly seed: number
}

export interface SplitClass {
  readonly name: string
  readonly train: number
  readonly valid: number
  readonly test: number
}

export interface SplitDataResult {
  readonly source: string
  readonly out: string
  readonly seed: number
  readonly fractions: { readonly valid: number; readonly test: number }
  readonly classes: readonly SplitClass[]
  /** Images per split, all classes. */
  readonly images: Readonly<Record<Split, number>>
  /** Files and folders of the source left out, with why. */
  readonly skipped: readonly SkippedFile[]
  /** False under --dry-run. */
  readonly written: boolean
}

/** Fewest images a class needs: one per split. */
const MIN_PER_CLASS = SPLITS.length

export async function runSplitData(ctx: CommandContext, o: SplitDataOptions): Promise<Outcome<SplitDataResult, SplitDataResult>> {
  const source = path.resolve(o.source)
  const out = path.resolve(o.out)
  await checkOut(source, out)
  const { classes, skipped } = await readClasses(source)
  const assigned = classes.map((c) => ({ name: c.name, ...assign(c.images, o) }))
  const result: SplitDataResult = {
    source,
    out,
    seed: o.seed,
    fractions: { valid: o.valid, test: o.test },
    classes: assigned.map((c) => ({ name: c.name, train: c.train.length, valid: c.valid.length, test: c.test.length })),
    images: Object.fromEntries(SPLITS.map((s) => [s, assigned.reduce((n, c) => n + c[s].length, 0)])) as Record<Split, number>,
    skipped,
    written: false,
  }
  if (ctx.dryRun) {
    return planned({
      title: `mlops split-data ${source} --out ${out} (local files only; no AWS request)`,
      operations: [],
      notes: [`Would copy ${SPLITS.map((s) => `${result.images[s]} images to ${s}/`).join(', ')} (${assigned.length} classes, seed ${o.seed}).`],
      details: result,
    })
  }
  const partial = `${out}.partial-${process.pid}`
  await rm(partial, { recursive: true, force: true })
  try {
    const copies: [string, string][] = []
    for (const c of assigned) {
      for (const split of SPLITS) {
        await mkdir(path.join(partial, split, c.name), { recursive: true })
        for (const name of c[split]) copies.push([path.join(source, c.name, name), path.join(partial, split, c.name, name)])
      }
    }
    // COPYFILE_FICLONE: a reflink where the file system has them (no bytes copied), else a plain copy.
    await runPool(copies, 16, ([from, to]) => copyFile(from, to, constants.COPYFILE_FICLONE))
    await rmdir(out).catch(() => undefined) // an empty --out is replaced
    await rename(partial, out)
  } catch (err) {
    await rm(partial, { recursive: true, force: true })
    throw err
  }
  // What was written passes the one validator (so upload-data and train --local take it as it is).
  await scanDataset(out, { purpose: 'train', followSymlinks: true })
  return done({ ...result, written: true })
}

async function checkOut(source: string, out: string): Promise<void> {
  const inside = path.relative(source, out)
  if (inside === '' || (!inside.startsWith('..') && !path.isAbsolute(inside))) {
    throw new UserError('InvalidFlag', `--out ${out} is inside the folder being split (${source}); nothing was written.`, {
      hint: `Pass a folder outside it, e.g. --out ${source}-split.`,
    })
  }
  const entries = await readdir(out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return []
    if (err.code === 'ENOTDIR') return ['(a file)']
    throw err
  })
  if (entries.length > 0) {
    throw new UserError('InvalidFlag', `--out ${out} already exists and is not empty; nothing was written.`, {
      hint: 'Pass a new folder to --out, or remove that one first.',
    })
  }
}

interface SourceClass {
  readonly name: string
  readonly images: string[]
}

async function readClasses(source: string): Promise<{ classes: SourceClass[]; skipped: SkippedFile[] }> {
  const top = await readdir(source, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT')
      throw new UserError('SourceNotFound', `The folder ${source} does not exist; nothing was written.`, {
        hint: 'Pass the folder that holds one folder per class.',
      })
    if (err.code === 'ENOTDIR')
      throw new UserError('SourceNotADirectory', `${source} is a file, not a folder of class folders.`, {
        hint: 'Pass the folder that holds one folder per class.',
      })
    throw err
  })
  const splits = SPLITS.filter((s) => top.some((d) => d.name === s)).map((s) => `${s}/`)
  if (splits.length > 0) {
    throw new UserError('AlreadySplit', `${source} already has ${splits.join(', ')}: it is split (or half split); nothing was written.`, {
      hint: 'Point data.localDir (or upload-data --source) at it as it is, or pass the folder of class folders it came from.',
    })
  }
  const classes: SourceClass[] = []
  const skipped: SkippedFile[] = []
  const problems: string[] = []
  for (const d of top.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const abs = path.join(source, d.name)
    const isDir = d.isDirectory() || (d.isSymbolicLink() && (await stat(abs).catch(() => undefined))?.isDirectory() === true)
    if (d.name.includes('\uFFFD')) {
      problems.push(`a name that is not UTF-8 (${JSON.stringify(d.name)}): rename it to UTF-8 (convmv -r -f latin1 -t utf8 --notest ${source})`)
      continue
    }
    if (d.name.startsWith('.')) continue
    if (!isDir) {
      skipped.push({ rel: d.name, reason: 'not in a class folder' })
      continue
    }
    const images: string[] = []
    for (const f of (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const rel = `${d.name}/${f.name}`
      const s = await stat(path.join(abs, f.name)).catch(() => undefined)
      if (f.name.includes('\uFFFD')) problems.push(`${JSON.stringify(rel)}: the name is not UTF-8; rename it`)
      else if (!s?.isFile())
        skipped.push({ rel: s?.isDirectory() ? `${rel}/` : rel, reason: s?.isDirectory() ? 'a folder inside a class folder' : 'not a regular file' })
      else if (!isImage(f.name)) skipped.push({ rel, reason: 'not an image' })
      else if (s.size === 0) skipped.push({ rel, reason: 'empty file' })
      else images.push(f.name)
    }
    if (images.length < MIN_PER_CLASS)
      problems.push(`${d.name}/: ${images.length} image${images.length === 1 ? '' : 's'}; a class needs at least ${MIN_PER_CLASS} (one per split)`)
    classes.push({ name: d.name, images })
  }
  if (classes.length < 2)
    problems.push(`${classes.length === 0 ? 'no class folders' : `only one class folder (${classes[0].name})`}: a classifier needs at least two`)
  if (problems.length > 0) {
    throw new UserError(
      'InvalidSplitSource',
      `${source} is not a folder of class folders that can be split (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was written:\n${problems.map((p) => `  • ${p}`).join('\n')}`,
      {
        hint: `split-data takes <folder>/<class>/<image> and writes what upload-data and train expect.\n${expectedLayout('--out')}`,
        details: { source, problems },
      },
    )
  }
  return { classes, skipped }
}

/** One class's images cut into the splits: test and valid first (at least one each), the rest train. */
function assign(images: readonly string[], o: Pick<SplitDataOptions, 'valid' | 'test' | 'seed'>): Record<Split, string[]> {
  const key = (name: string) => createHash('sha256').update(`${o.seed}\0${name}`).digest('hex')
  const ordered = images.map((name) => ({ name, key: key(name) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.name < b.name ? -1 : 1))
  const n = ordered.length
  const nTest = Math.min(Math.max(1, Math.round(n * o.test)), n - 2)
  const nValid = Math.min(Math.max(1, Math.round(n * o.valid)), n - 1 - nTest)
  const names = ordered.map((x) => x.name)
  return { test: names.slice(0, nTest).sort(), valid: names.slice(nTest, nTest + nValid).sort(), train: names.slice(nTest + nValid).sort() }
}

/** Human rendering (stdout). */
export function renderSplitData(r: SplitDataResult, c: ChalkInstance): string {
  const rows = r.classes.map((k) => [k.name, String(k.train), String(k.valid), String(k.test)])
  const lines = [
    `${c.green('✔')} Split ${r.source} into ${r.out}: ${SPLITS.map((s) => `${r.images[s]} ${s}`).join(', ')} (${r.classes.length} classes, seed ${r.seed}).`,
    '',
    formatTable(['class', 'train', 'valid', 'test'], rows),
  ]
  if (r.skipped.length > 0)
    lines.push(
      '',
      c.gray(
        `Left out ${r.skipped.length}: ${r.skipped
          .slice(0, 5)
          .map((s) => `${s.rel} (${s.reason})`)
          .join(', ')}${r.skipped.length > 5 ? ', …' : ''}`,
      ),
    )
  lines.push('', c.gray(`Next: set data.localDir: ${r.out} in mlops.config.yaml, then mlops train --local or mlops upload-data`))
  return lines.join('\n')
}
