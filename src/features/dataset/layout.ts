import type { Dirent } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from '../../shared/errors.js'

/**
 * Reads the local dataset folder and checks it has the layout training expects
 * (torchvision ImageFolder per split): `train/ valid/ test/`, one folder per class, the same
 * classes in each, images only. Local files only; nothing here talks to AWS.
 */

export const SPLITS = ['train', 'valid', 'test'] as const
export type Split = (typeof SPLITS)[number]

/** Extensions the training script loads. Matched case-insensitively. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png'])

export interface LocalFile {
  /** Absolute path on disk. */
  readonly path: string
  /** Path below the dataset root with `/` separators; the S3 key is `<prefix>/<rel>`. */
  readonly rel: string
  readonly size: number
  readonly mtimeMs: number
}

export interface SplitSummary {
  readonly files: number
  readonly bytes: number
  readonly classes: number
}

export interface SkippedFile {
  readonly rel: string
  readonly reason: string
}

export interface DatasetScan {
  /** Absolute path of the dataset root. */
  readonly root: string
  /** Files to sync, sorted by `rel`. */
  readonly files: readonly LocalFile[]
  /** False with --no-validate: every regular file is taken as is. */
  readonly validated: boolean
  /** Counts per split (validated layouts only). */
  readonly splits?: Readonly<Record<Split, SplitSummary>>
  /** Number of classes (validated layouts only). */
  readonly classes?: number
  readonly bytes: number
  /** Files and folders left out, with why (validated layouts only). */
  readonly skipped: readonly SkippedFile[]
}

export interface DatasetSummary {
  readonly validated: boolean
  readonly files: number
  readonly bytes: number
  readonly classes?: number
  readonly splits?: DatasetScan['splits']
  /** Local files left out (not images, empty, stray). */
  readonly skippedFiles: number
}

export interface ScanOptions {
  /** Check the train/valid/test layout. @default true */
  readonly validate?: boolean
  /** Most problems listed in the error message (all are in `details`). @default 25 */
  readonly maxProblemsShown?: number
}

const STAT_PARALLELISM = 64

/** Scans `root`. Throws UserError 'InvalidDatasetLayout' (exit 2) listing every problem when validation fails. */
export async function scanDataset(root: string, options: ScanOptions = {}): Promise<DatasetScan> {
  const validate = options.validate ?? true
  const top = await readDirOrThrow(root)
  if (!validate) {
    const files = await walkAll(root, '', top)
    return { root, files, validated: false, bytes: sum(files), skipped: [] }
  }

  const problems: string[] = []
  const skipped: SkippedFile[] = []
  const present = new Map(top.map((d) => [d.name, d]))
  for (const d of top) {
    if (SPLITS.includes(d.name as Split)) continue
    skipped.push({ rel: d.isDirectory() ? `${d.name}/` : d.name, reason: d.isDirectory() ? 'not a split folder' : 'not in a split folder' })
  }
  const missing: Split[] = []
  for (const s of SPLITS) {
    const d = present.get(s)
    if (!d || (await entryKind(path.join(root, s), d)) !== 'dir') missing.push(s)
  }
  if (missing.length > 0) {
    const nested = await findNestedRoot(root, top)
    problems.push(
      `missing ${missing.map((s) => `${s}/`).join(', ')} (expected train/, valid/ and test/ directly inside ${root})` +
        (nested ? `; they are in ${nested}: pass --source ${nested}` : ''),
    )
    throw layoutError(root, problems, options.maxProblemsShown)
  }

  const files: LocalFile[] = []
  const classesBySplit = new Map<Split, Set<string>>()
  const summaries = {} as Record<Split, SplitSummary>
  for (const split of SPLITS) {
    const entries = await readdir(path.join(root, split), { withFileTypes: true })
    const classes = new Set<string>()
    let bytes = 0
    let count = 0
    for (const entry of entries.sort(byName)) {
      const rel = `${split}/${entry.name}`
      const kind = await entryKind(path.join(root, rel), entry)
      if (kind === 'file') {
        if (isImage(entry.name)) problems.push(`${rel}: images must be inside a class folder (${split}/<class>/${entry.name})`)
        else skipped.push({ rel, reason: 'not an image (jpg, jpeg, png)' })
        continue
      }
      if (kind !== 'dir') {
        skipped.push({ rel, reason: 'not a regular file or folder' })
        continue
      }
      classes.add(entry.name)
      const inClass = await readdir(path.join(root, rel), { withFileTypes: true })
      const images: { name: string; abs: string }[] = []
      for (const f of inClass.sort(byName)) {
        const frel = `${rel}/${f.name}`
        const fkind = await entryKind(path.join(root, frel), f)
        if (fkind === 'dir') problems.push(`${frel}/: class folders must hold images directly, not subfolders`)
        else if (fkind !== 'file') skipped.push({ rel: frel, reason: 'not a regular file' })
        else if (!isImage(f.name)) skipped.push({ rel: frel, reason: 'not an image (jpg, jpeg, png)' })
        else images.push({ name: f.name, abs: path.join(root, frel) })
      }
      const stats = await statAll(images.map((i) => i.abs))
      let kept = 0
      images.forEach((img, i) => {
        const s = stats[i]
        const frel = `${rel}/${img.name}`
        if (s.size === 0) {
          skipped.push({ rel: frel, reason: 'empty file' })
          return
        }
        files.push({ path: img.abs, rel: frel, size: s.size, mtimeMs: s.mtimeMs })
        bytes += s.size
        count++
        kept++
      })
      if (kept === 0) problems.push(`${rel}/: no images (a class needs at least one jpg, jpeg or png in every split)`)
    }
    if (classes.size === 0) problems.push(`${split}/: no class folders (expected ${split}/<class>/<image>, e.g. ${split}/001.Affenpinscher/a.jpg)`)
    classesBySplit.set(split, classes)
    summaries[split] = { files: count, bytes, classes: classes.size }
  }

  const all = new Set(SPLITS.flatMap((s) => [...classesBySplit.get(s)!]))
  for (const split of SPLITS) {
    const have = classesBySplit.get(split)!
    if (have.size === 0) continue
    const lacking = [...all].filter((c) => !have.has(c)).sort()
    if (lacking.length > 0) {
      const where = SPLITS.filter((s) => s !== split && lacking.some((c) => classesBySplit.get(s)!.has(c)))
        .map((s) => `${s}/`)
        .join(' and ')
      problems.push(
        `${split}/ lacks ${lacking.length} class${lacking.length === 1 ? '' : 'es'} that ${where} ${where.includes(' and ') ? 'have' : 'has'}: ${preview(lacking)}`,
      )
    }
  }
  if (all.size === 1) problems.push(`only one class (${[...all][0]}): a classifier needs at least two`)
  if (problems.length > 0) throw layoutError(root, problems, options.maxProblemsShown)

  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
  return { root, files, validated: true, splits: summaries, classes: all.size, bytes: sum(files), skipped }
}

/** True for jpg, jpeg and png, in any letter case. */
export function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())
}

function layoutError(root: string, problems: string[], maxShown = 25): UserError {
  const shown = problems.slice(0, maxShown).map((p) => `  • ${p}`)
  if (problems.length > maxShown) shown.push(`  • … and ${problems.length - maxShown} more`)
  return new UserError(
    'InvalidDatasetLayout',
    `${root} is not a dataset of train/ valid/ test/ with one folder per class (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was uploaded:\n${shown.join('\n')}`,
    {
      hint: 'Fix the folders above, or pass --no-validate to upload a different layout as it is.',
      details: { root, problems },
    },
  )
}

async function readDirOrThrow(root: string): Promise<Dirent[]> {
  try {
    return await readdir(root, { withFileTypes: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new UserError('SourceNotFound', `The dataset folder ${root} does not exist; nothing was uploaded.`, {
        hint: 'Set data.localDir in mlops.config.yaml, pass --source <dir>, or download the dataset with --from-url <zip-url>.',
      })
    }
    if (code === 'ENOTDIR') throw new UserError('SourceNotADirectory', `${root} is a file, not a dataset folder.`, { hint: 'Pass --source <dir>.' })
    throw err
  }
}

/** A single subfolder holding train/ valid/ test/ (the user pointed at the folder above the dataset). */
async function findNestedRoot(root: string, top: Dirent[]): Promise<string | undefined> {
  for (const d of top.filter((e) => e.isDirectory())) {
    const inner = await readdir(path.join(root, d.name)).catch(() => [] as string[])
    if (SPLITS.every((s) => inner.includes(s))) return path.join(root, d.name)
  }
  return undefined
}

async function entryKind(abs: string, d: Dirent): Promise<'file' | 'dir' | 'other'> {
  if (d.isFile()) return 'file'
  if (d.isDirectory()) return 'dir'
  if (d.isSymbolicLink()) {
    const s = await stat(abs).catch(() => undefined)
    if (s?.isFile()) return 'file'
    if (s?.isDirectory()) return 'dir'
  }
  return 'other'
}

/** Every regular file below `root` (symlinked files followed, symlinked folders not, to avoid loops). */
async function walkAll(root: string, relDir: string, entries: Dirent[]): Promise<LocalFile[]> {
  const out: LocalFile[] = []
  const found: string[] = []
  for (const e of entries.sort(byName)) {
    const rel = relDir ? `${relDir}/${e.name}` : e.name
    const abs = path.join(root, rel)
    if (e.isDirectory()) out.push(...(await walkAll(root, rel, await readdir(abs, { withFileTypes: true }))))
    else if (e.isFile() || (e.isSymbolicLink() && (await entryKind(abs, e)) === 'file')) found.push(rel)
  }
  const stats = await statAll(found.map((rel) => path.join(root, rel)))
  found.forEach((rel, i) => out.push({ path: path.join(root, rel), rel, size: stats[i].size, mtimeMs: stats[i].mtimeMs }))
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
}

async function statAll(paths: string[]): Promise<{ size: number; mtimeMs: number }[]> {
  const out: { size: number; mtimeMs: number }[] = new Array(paths.length)
  for (let i = 0; i < paths.length; i += STAT_PARALLELISM) {
    const batch = await Promise.all(paths.slice(i, i + STAT_PARALLELISM).map((p) => stat(p)))
    batch.forEach((s, j) => (out[i + j] = { size: s.size, mtimeMs: s.mtimeMs }))
  }
  return out
}

function byName(a: Dirent, b: Dirent): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}

function sum(files: readonly LocalFile[]): number {
  return files.reduce((n, f) => n + f.size, 0)
}

function preview(items: string[], max = 8): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')}, … (${items.length - max} more)`
}

/** The dataset part of a result: counts, bytes, classes. */
export function summarize(scan: DatasetScan): DatasetSummary {
  return {
    validated: scan.validated,
    files: scan.files.length,
    bytes: scan.bytes,
    ...(scan.classes !== undefined ? { classes: scan.classes, splits: scan.splits } : {}),
    skippedFiles: scan.skipped.length,
  }
}
