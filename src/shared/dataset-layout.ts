import type { Dirent } from 'node:fs'
import { readdirSync } from 'node:fs'
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from './errors.js'

/**
 * The one dataset validator (issue 31 item 11): reads the local dataset folder and checks it has the
 * layout training expects (torchvision ImageFolder per split): `train/ valid/ test/`, one folder per
 * class, the same classes (at least two) in each, every class with at least one image in every split.
 * `upload-data` and `train --local` both call it, so both accept and refuse the same folders with the
 * same message. Local files only; nothing here talks to AWS.
 */

export const SPLITS = ['train', 'valid', 'test'] as const
export type Split = (typeof SPLITS)[number]

/**
 * Extensions the training script loads (scripts/model_def.py IMAGE_EXTENSIONS), matched
 * case-insensitively: the formats the predictor decodes (inference.py ALLOWED_FORMATS), so what is
 * uploaded is what trains and what serves. A multi-page TIFF trains on its first page, as it serves.
 */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif', '.tiff'])
const EXTENSION_LIST = [...IMAGE_EXTENSIONS].map((e) => e.slice(1)).join(', ')
const NOT_AN_IMAGE = `not an image (${EXTENSION_LIST})`

/** The layout every dataset command expects, shown in every layout error. */
export function expectedLayout(root: string): string {
  return [
    `Expected (${root}):`,
    '  train/<class>/<image>    e.g. train/001.Affenpinscher/a.jpg',
    '  valid/<class>/<image>    e.g. valid/001.Affenpinscher/b.jpg',
    '  test/<class>/<image>     e.g. test/001.Affenpinscher/c.jpg',
    `  the same class folders (at least two) in each split, each with at least one image (${EXTENSION_LIST}).`,
  ].join('\n')
}

/** The command that turns a folder of class folders into the layout above. */
export const SPLIT_COMMAND = 'mlops split-data <folder> --out <dir>'

/** Who is asking: the wording of refusals (what was not done, which flags exist). */
export type ScanPurpose = 'upload' | 'train'

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
  /** Files not opened because `checkedBefore` vouched for their size and mtime. */
  readonly unopened: number
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
  /** Follow symbolic links that lead out of the dataset folder (--follow-symlinks). @default false */
  readonly followSymlinks?: boolean
  /** `upload` (upload-data: --source, --no-validate) or `train` (train --local: data.localDir). @default 'upload' */
  readonly purpose?: ScanPurpose
  /**
   * Files checked before (upload-data's local record): the size and mtime a file had when it was last
   * read and, for a validated scan, found to start like an image. A file whose stat still shows both is
   * not opened: one stat instead of open, read and close (a no-change re-sync opens no file). Like
   * `aws s3 sync`, this trusts that a file rewritten with the same size keeps no old mtime.
   */
  readonly checkedBefore?: (absPath: string) => { readonly size: number; readonly mtimeMs: number } | undefined
}

interface Wording {
  readonly nothing: string
  readonly sourceFix: (dir: string) => string
  readonly noValidate: string
}

function wording(purpose: ScanPurpose = 'upload'): Wording {
  return purpose === 'train'
    ? { nothing: 'nothing was started', sourceFix: (dir) => `set data.localDir to ${dir}`, noValidate: '' }
    : { nothing: 'nothing was uploaded', sourceFix: (dir) => `pass --source ${dir}`, noValidate: ', or pass --no-validate to upload the folder as it is' }
}

const STAT_PARALLELISM = 64

/**
 * Scans `root`. Throws UserError (exit 2), before anything is sent: 'InvalidDatasetLayout' listing
 * every layout problem; 'SymlinkOutsideDataset' for links leading out of the folder (unless
 * followSymlinks); 'UnreadableDataset' for files and folders that cannot be opened; 'NotAnImage'
 * for jpg/jpeg/png files whose first bytes are no image (validated layouts).
 */
export async function scanDataset(root: string, options: ScanOptions = {}): Promise<DatasetScan> {
  const words = wording(options.purpose)
  const guard = new ScanGuard(await realRoot(root), options.followSymlinks ?? false, options.validate ?? true, words, options.checkedBefore)
  const scan = { ...(await scanLayout(root, options, guard)), unopened: guard.unopened }
  if (scan.validated) {
    const fakes = scan.files.filter((f) => !guard.vouched.has(f.path) && !looksLikeImage(guard.heads.get(f.path)!)).map((f) => f.rel)
    if (fakes.length > 0) {
      throw new UserError(
        'NotAnImage',
        `${fakes.length} file${fakes.length === 1 ? '' : 's'} in ${root} ha${fakes.length === 1 ? 's' : 've'} an image name but no image inside (not JPEG, PNG, GIF, BMP, WebP or TIFF); ${words.nothing}:\n${listed(fakes)}`,
        { hint: `Remove or replace them${words.noValidate}.`, details: { root, files: fakes } },
      )
    }
  }
  return scan
}

async function scanLayout(root: string, options: ScanOptions, guard: ScanGuard): Promise<Omit<DatasetScan, 'unopened'>> {
  const validate = options.validate ?? true
  const words = wording(options.purpose)
  const top = guard.keepUtf8(await readDirOrThrow(root, words), root, '')
  if (!validate) {
    const files = await walkAll(root, '', top, guard)
    guard.refuseNonUtf8(root)
    guard.check(root, files)
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
    if (!d || (await entryKind(path.join(root, s), d, guard)) !== 'dir') missing.push(s)
  }
  if (missing.length > 0) {
    const nested = await findNestedRoot(root, top)
    const flat = nested ? false : await looksFlat(root, top)
    problems.push(
      `missing ${missing.map((s) => `${s}/`).join(', ')} (expected train/, valid/ and test/ directly inside ${root})` +
        (nested ? `; they are in ${nested}: ${words.sourceFix(nested)}` : '') +
        (flat ? `; it holds class folders with images: split them with mlops split-data ${root} --out ${root}-split` : ''),
    )
    throw layoutError(root, problems, options)
  }

  const files: LocalFile[] = []
  const classesBySplit = new Map<Split, Set<string>>()
  const summaries = {} as Record<Split, SplitSummary>
  for (const split of SPLITS) {
    const entries = (await guard.readdir(path.join(root, split), split)).sort(byName)
    // Every class folder of the split is listed at once, and every class's files are stat'ed while the
    // next classes are listed: the loop below only waits for what it has not got yet. What each entry
    // adds to the problems, the skipped files and the files is applied in the scan's order (`ordered`).
    guard.prefetch(entries.filter((e) => e.isDirectory()).map((e) => path.join(root, split, e.name)))
    const ordered: Promise<() => void>[] = []
    const now = (apply: () => void) => ordered.push(Promise.resolve(apply))
    const classes = new Set<string>()
    let bytes = 0
    let count = 0
    for (const entry of entries) {
      const rel = `${split}/${entry.name}`
      const kind = await entryKind(path.join(root, rel), entry, guard, rel)
      if (kind === 'file') {
        if (isImage(entry.name)) now(() => problems.push(`${rel}: images must be inside a class folder (${split}/<class>/${entry.name})`))
        else now(() => skipped.push({ rel, reason: NOT_AN_IMAGE }))
        continue
      }
      if (kind !== 'dir') {
        now(() => skipped.push({ rel, reason: 'not a regular file or folder' }))
        continue
      }
      classes.add(entry.name)
      const inClass = await guard.readdir(path.join(root, rel), `${rel}/`)
      const images: { name: string; abs: string }[] = []
      const found: (() => void)[] = []
      for (const f of inClass.sort(byName)) {
        const frel = `${rel}/${f.name}`
        const fkind = await entryKind(path.join(root, frel), f, guard, frel)
        if (fkind === 'dir') found.push(() => problems.push(`${frel}/: class folders must hold images directly, not subfolders`))
        else if (fkind !== 'file' && isImage(f.name)) guard.cannotRead(frel, f.isSymbolicLink() ? 'a link to nothing' : 'not a regular file')
        else if (fkind !== 'file') found.push(() => skipped.push({ rel: frel, reason: 'not a regular file' }))
        else if (!isImage(f.name)) found.push(() => skipped.push({ rel: frel, reason: NOT_AN_IMAGE }))
        else images.push({ name: f.name, abs: path.join(root, frel) })
      }
      const stated = guard.openAll(images.map((i) => i.abs)).then((stats) => () => {
        for (const apply of found) apply()
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
        if (kept === 0 && !guard.troubled(`${rel}/`)) problems.push(`${rel}/: no images (a class needs at least one image in every split)`)
      })
      stated.catch(() => undefined) // a failure is thrown below, in order; the later ones are not left unhandled
      ordered.push(stated)
    }
    for (const apply of ordered) (await apply)()
    if (classes.size === 0) problems.push(`${split}/: no class folders (expected ${split}/<class>/<image>, e.g. ${split}/001.Affenpinscher/a.jpg)`)
    classesBySplit.set(split, classes)
    summaries[split] = { files: count, bytes, classes: classes.size }
  }

  problems.push(...classSetProblems(classesBySplit))
  const all = new Set(SPLITS.flatMap((s) => [...classesBySplit.get(s)!]))
  problems.unshift(...guard.nonUtf8Problems())
  guard.check(root, files)
  if (problems.length > 0) throw layoutError(root, problems, options)

  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
  return { root, files, validated: true, splits: summaries, classes: all.size, bytes: sum(files), skipped }
}

/**
 * The rules on class folders that the local scan and train's check of the S3 channels share: every
 * split has the classes the others have, and there are at least two. Splits with no class folder
 * are left to the caller (they are named as such).
 */
export function classSetProblems(classesBySplit: ReadonlyMap<Split, ReadonlySet<string>>): string[] {
  const problems: string[] = []
  const all = new Set(SPLITS.flatMap((s) => [...(classesBySplit.get(s) ?? [])]))
  for (const split of SPLITS) {
    const have = classesBySplit.get(split) ?? new Set<string>()
    if (have.size === 0) continue
    const lacking = [...all].filter((c) => !have.has(c)).sort()
    if (lacking.length > 0) {
      const where = SPLITS.filter((s) => s !== split && lacking.some((c) => classesBySplit.get(s)?.has(c)))
        .map((s) => `${s}/`)
        .join(' and ')
      problems.push(
        `${split}/ lacks ${lacking.length} class${lacking.length === 1 ? '' : 'es'} that ${where} ${where.includes(' and ') ? 'have' : 'has'}: ${preview(lacking)}`,
      )
    }
  }
  if (all.size === 1) problems.push(`only one class (${[...all][0]}): a classifier needs at least two`)
  return problems
}

/** True for the extensions training loads (IMAGE_EXTENSIONS), in any letter case. */
export function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(name).toLowerCase())
}

function layoutError(root: string, problems: string[], options: ScanOptions): UserError {
  const maxShown = options.maxProblemsShown ?? 25
  const words = wording(options.purpose)
  const shown = problems.slice(0, maxShown).map((p) => `  • ${p}`)
  if (problems.length > maxShown) shown.push(`  • … and ${problems.length - maxShown} more`)
  return new UserError(
    'InvalidDatasetLayout',
    `${root} is not a dataset of train/ valid/ test/ with one folder per class (${problems.length} problem${problems.length === 1 ? '' : 's'}); ${words.nothing}:\n${shown.join('\n')}\n${expectedLayout(root)}`,
    {
      hint:
        `Fix the folders above; to split a folder of class folders (<folder>/<class>/<image>) into train/ valid/ test/, run \`${SPLIT_COMMAND}\`` +
        (options.purpose === 'train' ? ' and point data.localDir at <dir>.' : `${words.noValidate.replace('the folder', 'a different layout')}.`),
      details: { root, problems },
    },
  )
}

async function readDirOrThrow(root: string, words: Wording): Promise<Dirent[]> {
  try {
    return await readdir(root, { withFileTypes: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new UserError('SourceNotFound', `The dataset folder ${root} does not exist; ${words.nothing}.`, {
        hint:
          words.noValidate === ''
            ? `Set data.localDir in mlops.config.yaml to your dataset folder (train/ valid/ test/), or split a folder of class folders with \`${SPLIT_COMMAND}\`.`
            : 'Set data.localDir in mlops.config.yaml, pass --source <dir>, or download the dataset with --from-url <zip-url>.',
      })
    }
    if (code === 'ENAMETOOLONG') {
      throw new UserError('InvalidFlag', `--source (or data.localDir) is too long a path for this system: ${root.slice(0, 80)}…`, {
        hint: 'Each folder name may have at most 255 bytes and the whole path 4,095. Pass a shorter --source.',
      })
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UserError('UnreadableDataset', `The dataset folder ${root} cannot be read (${code}); ${words.nothing}.`, {
        hint: 'Fix its permissions (chmod -R u+rX).',
      })
    }
    if (code === 'ENOTDIR') {
      throw new UserError('SourceNotADirectory', `${root} is a file, not a dataset folder.`, {
        hint: words.noValidate === '' ? 'Set data.localDir to the dataset folder.' : 'Pass --source <dir>.',
      })
    }
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

/** No split folder, but subfolders holding images: a folder of class folders, not yet split. */
async function looksFlat(root: string, top: Dirent[]): Promise<boolean> {
  const dirs = top.filter((e) => e.isDirectory() && !SPLITS.includes(e.name as Split))
  if (dirs.length < 2 || top.some((e) => SPLITS.includes(e.name as Split))) return false
  for (const d of dirs.slice(0, 5)) {
    const inner = await readdir(path.join(root, d.name)).catch(() => [] as string[])
    if (!inner.some(isImage)) return false
  }
  return true
}

async function entryKind(abs: string, d: Dirent, guard?: ScanGuard, rel?: string): Promise<'file' | 'dir' | 'other'> {
  if (d.isFile()) return 'file'
  if (d.isDirectory()) return 'dir'
  if (d.isSymbolicLink()) {
    const s = await stat(abs).catch(() => undefined)
    if (s && (s.isFile() || s.isDirectory()) && guard && rel !== undefined) await guard.checkLink(abs, rel)
    if (s?.isFile()) return 'file'
    if (s?.isDirectory()) return 'dir'
  }
  return 'other'
}

/**
 * What the scan found that must stop it before anything is sent: symbolic links leading out of the
 * dataset folder (a `valid/c1/passwd.jpg -> /etc/passwd` was uploaded, issue 19) and files or
 * folders that cannot be read (found by opening them, so it holds for root too).
 */
class ScanGuard {
  /** The first 12 bytes of every file checked, by path (validated layouts only). */
  readonly heads = new Map<string, Buffer>()
  private readonly escapes: string[] = []
  private readonly unreadable: string[] = []
  /** Entries whose names are not UTF-8: escaped path below root, and a UTF-8 name to suggest. */
  private readonly nonUtf8: { rel: string; suggested: string; classFolder: boolean }[] = []
  /** Files `checkedBefore` vouched for (same size and mtime): stat only, not opened. */
  readonly vouched = new Set<string>()
  /** What opening each file gave: its first bytes, or why it could not be opened or read. */
  private readonly opened = new Map<string, { head?: Buffer; error?: unknown }>()
  constructor(
    private readonly root: string,
    private readonly follow: boolean,
    /** Whether the first bytes are wanted (the image check of validated layouts). */
    private readonly readHeads: boolean,
    private readonly words: Wording,
    private readonly checkedBefore?: ScanOptions['checkedBefore'],
  ) {}

  get unopened(): number {
    return this.vouched.size
  }

  /**
   * The entries of `abs` whose names are UTF-8; the others are recorded. Node decodes a name that is
   * not UTF-8 with U+FFFD, which names another (missing) file: the scan then failed with ENOENT, and
   * train.py wrote the name into classes.json and crashed. Class names become labels in JSON and S3
   * keys, which only carry Unicode, so such names are refused with a rename to make (issue 27).
   */
  keepUtf8(entries: Dirent[], abs: string, relDir: string): Dirent[] {
    if (!entries.some((e) => e.name.includes('\uFFFD'))) return entries
    let raw: Buffer[]
    try {
      raw = readdirSync(abs, { encoding: 'buffer' })
    } catch {
      return entries
    }
    const bad = raw.filter((b) => !Buffer.from(b.toString('utf8'), 'utf8').equals(b))
    for (const b of bad) {
      const dir = relDir ? `${relDir}/` : ''
      this.nonUtf8.push({ rel: `${dir}${escapeBytes(b)}`, suggested: `${dir}${utf8Guess(b)}`, classFolder: SPLITS.includes(relDir as Split) })
    }
    const lossy = new Set(bad.map((b) => b.toString('utf8')))
    return entries.filter((e) => !lossy.has(e.name))
  }

  /** One layout problem per name that is not UTF-8, with the rename that fixes it. */
  nonUtf8Problems(): string[] {
    return this.nonUtf8.map(
      (n) =>
        `${n.rel}: the name is not UTF-8 (labels and S3 keys must be); rename it, e.g. mv $'${n.rel}' ${shellQuote(n.suggested)}${n.classFolder ? ' (and the same class folder in the other splits)' : ''}`,
    )
  }

  /** --no-validate: names that are not UTF-8 cannot become S3 keys either. */
  refuseNonUtf8(root: string): void {
    const n = this.nonUtf8.length
    if (n === 0) return
    throw new UserError(
      'NonUtf8Name',
      `${n} name${n === 1 ? '' : 's'} in ${root} ${n === 1 ? 'is' : 'are'} not UTF-8 and cannot become S3 keys or labels; ${this.words.nothing}:\n${listed(this.nonUtf8Problems())}`,
      {
        hint: 'Rename them to UTF-8 names (convmv -r -f latin1 -t utf8 --notest <folder> converts Latin-1 names in one go).',
        details: { root, names: this.nonUtf8.map((x) => x.rel) },
      },
    )
  }

  /**
   * Size and mtime of each file, `STAT_PARALLELISM` at a time, from one open per file that also reads
   * its first bytes when wanted. What the open found is reported by `check`, for the files kept only.
   */
  async openAll(paths: readonly string[]): Promise<{ size: number; mtimeMs: number }[]> {
    return Promise.all(paths.map((p) => this.limited(() => this.openOne(p))))
  }

  /** Folders listed ahead (raw: what `readdir` below makes of each answer happens when it is asked for). */
  private readonly listed = new Map<string, Promise<{ entries?: Dirent[]; error?: unknown }>>()

  /** Starts listing `paths` (at most STAT_PARALLELISM files and folders open at once, with `openAll`). */
  prefetch(paths: readonly string[]): void {
    for (const p of paths) {
      this.listed.set(
        p,
        this.limited(() => readdir(p, { withFileTypes: true })).then(
          (entries) => ({ entries }),
          (error: unknown) => ({ error }),
        ),
      )
    }
  }

  private running = 0
  private readonly waiting: (() => void)[] = []

  /** Runs `fn` when fewer than STAT_PARALLELISM others run (bounds open descriptors over every class folder). */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running < STAT_PARALLELISM) this.running++
    else await new Promise<void>((resolve) => this.waiting.push(resolve)) // a finishing call hands over its slot
    try {
      return await fn()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.running--
    }
  }

  private async openOne(abs: string): Promise<{ size: number; mtimeMs: number }> {
    const before = this.checkedBefore?.(abs)
    if (before) {
      const s = await stat(abs).catch(() => undefined)
      if (s?.isFile() && s.size === before.size && s.mtimeMs === before.mtimeMs) {
        this.vouched.add(abs)
        this.opened.set(abs, {})
        return { size: s.size, mtimeMs: s.mtimeMs }
      }
    }
    let fh: FileHandle
    try {
      fh = await open(abs, 'r')
    } catch (error) {
      // Not opened (permissions, say): its size still decides whether it is kept (an empty file is skipped, not refused).
      this.opened.set(abs, { error })
      const s = await stat(abs)
      return { size: s.size, mtimeMs: s.mtimeMs }
    }
    try {
      const s = await fh.stat()
      if (this.readHeads) {
        try {
          const buf = Buffer.alloc(12)
          const { bytesRead } = await fh.read(buf, 0, 12, 0)
          this.opened.set(abs, { head: buf.subarray(0, bytesRead) })
        } catch (error) {
          this.opened.set(abs, { error })
        }
      } else this.opened.set(abs, {})
      return { size: s.size, mtimeMs: s.mtimeMs }
    } finally {
      await fh.close()
    }
  }

  async checkLink(abs: string, rel: string): Promise<void> {
    if (this.follow) return
    const target = await realpath(abs).catch(() => undefined)
    if (target === undefined) return
    const inside = path.relative(this.root, target)
    if (inside.startsWith('..') || path.isAbsolute(inside)) this.escapes.push(`${rel} -> ${target}`)
  }

  async readdir(abs: string, rel: string): Promise<Dirent[]> {
    const ahead = this.listed.get(abs)
    this.listed.delete(abs)
    try {
      const entries = ahead ? await ahead.then((r) => (r.entries ? r.entries : Promise.reject(r.error))) : await readdir(abs, { withFileTypes: true })
      return this.keepUtf8(entries, abs, rel.replace(/\/$/, ''))
    } catch (err) {
      this.cannotRead(rel, err)
      return []
    }
  }

  cannotRead(rel: string, err: unknown): void {
    this.unreadable.push(`${rel} (${typeof err === 'string' ? err : ((err as NodeJS.ErrnoException).code ?? (err as Error).message)})`)
  }

  troubled(relDir: string): boolean {
    return this.unreadable.some((u) => u.startsWith(relDir))
  }

  /** Refuses escaping links, then unreadable paths (the kept files that could not be opened among them). */
  check(root: string, files: readonly LocalFile[]): void {
    this.refuseEscapes(root)
    for (const f of files) {
      const o = this.opened.get(f.path)
      if (o?.error !== undefined) this.cannotRead(f.rel, o.error)
      else if (o?.head) this.heads.set(f.path, o.head)
    }
    this.refuseUnreadable(root)
  }

  refuseEscapes(root: string): void {
    const n = this.escapes.length
    if (n === 0) return
    throw new UserError(
      'SymlinkOutsideDataset',
      `${n} symbolic link${n === 1 ? '' : 's'} in ${root} lead${n === 1 ? 's' : ''} out of the dataset folder; ${this.words.nothing}:\n${listed(this.escapes)}`,
      {
        hint: 'Copy the files into the folder, or pass --follow-symlinks if you mean to upload what the links point to.',
        details: { root, links: [...this.escapes] },
      },
    )
  }

  refuseUnreadable(root: string): void {
    const n = this.unreadable.length
    if (n === 0) return
    throw new UserError(
      'UnreadableDataset',
      `${n} file${n === 1 ? '' : 's'} or folder${n === 1 ? '' : 's'} in ${root} cannot be read; ${this.words.nothing}:\n${listed(this.unreadable)}`,
      { hint: 'Fix their permissions (chmod -R u+rX), or move them out of the dataset folder.', details: { root, paths: [...this.unreadable] } },
    )
  }
}

async function realRoot(root: string): Promise<string> {
  return realpath(root).catch(() => path.resolve(root))
}

/** JPEG, PNG, GIF, BMP, WebP or TIFF, by their first bytes (what PIL would decode as an image). */
export function looksLikeImage(head: Buffer): boolean {
  const starts = (bytes: number[], at = 0) => bytes.every((b, i) => head[at + i] === b)
  return (
    starts([0xff, 0xd8, 0xff]) ||
    starts([0x89, 0x50, 0x4e, 0x47]) ||
    starts([0x47, 0x49, 0x46, 0x38]) ||
    starts([0x42, 0x4d]) ||
    starts([0x49, 0x49, 0x2a, 0x00]) || // TIFF, little-endian (multi-page too: training and serving read the first page)
    starts([0x4d, 0x4d, 0x00, 0x2a]) || // TIFF, big-endian
    (starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8))
  )
}

/** Bytes as bash's $'…' reads them: printable ASCII as is, everything else \xNN. */
function escapeBytes(b: Buffer): string {
  let out = ''
  for (const byte of b)
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c && byte !== 0x27 ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
  return out
}

/** A UTF-8 name to suggest: Latin-1 read as such (the usual cause), else the bad bytes as `_`. */
function utf8Guess(b: Buffer): string {
  const lossy = b.toString('utf8')
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f\uFFFD]*$/.test(lossy) ? b.toString('latin1') : lossy.replace(/\uFFFD/g, '_')
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

function listed(items: readonly string[], max = 10): string {
  const shown = items.slice(0, max).map((p) => `  • ${p}`)
  if (items.length > max) shown.push(`  • … and ${items.length - max} more`)
  return shown.join('\n')
}

/** Every regular file below `root` (symlinked files followed, symlinked folders not, to avoid loops). */
async function walkAll(root: string, relDir: string, entries: Dirent[], guard: ScanGuard): Promise<LocalFile[]> {
  const out: LocalFile[] = []
  const found: string[] = []
  for (const e of entries.sort(byName)) {
    const rel = relDir ? `${relDir}/${e.name}` : e.name
    const abs = path.join(root, rel)
    if (e.isDirectory()) out.push(...(await walkAll(root, rel, await guard.readdir(abs, `${rel}/`), guard)))
    else if (e.isFile() || (e.isSymbolicLink() && (await entryKind(abs, e, guard, rel)) === 'file')) found.push(rel)
  }
  const stats = await guard.openAll(found.map((rel) => path.join(root, rel)))
  found.forEach((rel, i) => out.push({ path: path.join(root, rel), rel, size: stats[i].size, mtimeMs: stats[i].mtimeMs }))
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
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
