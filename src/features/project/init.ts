import { access, chmod, constants, link, lstat, mkdir, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { DEFAULT_CONFIG_FILE, parseConfigText } from '../../config/load.js'
import { configTemplate } from '../../config/template.js'
import type { CommandContext } from '../../context.js'
import { fileSystemError, OperationError, UserError } from '../../shared/errors.js'
import { done, type Outcome } from '../../shared/outcome.js'
import { bundledScriptsDir } from '../../shared/package-root.js'

export interface InitOptions {
  readonly project?: string
  readonly bucket?: string
  /** Overwrite an existing config and bundled script files. @default false */
  readonly force?: boolean
  /** Copy the bundled training and inference code into ./scripts/. @default true */
  readonly scripts?: boolean
  /**
   * Write the commented template to this new file and nothing else (no scripts, the config untouched):
   * what a config error's hint points at instead of --force (issue 31 item 9). Never overwrites.
   */
  readonly example?: string
}

export interface InitResult {
  readonly path: string
  readonly project: string
  readonly bucket: string
  readonly dataDir: string
  readonly written: boolean
  /** True for --example: the file is a commented example; the config and scripts were not touched. */
  readonly example?: boolean
  /** Where training's code comes from: ./scripts/, or (--no-scripts) the scripts bundled with mlops. */
  readonly sourceDir?: { readonly dir: string; readonly bundled: boolean }
  /** What init did (or, with --dry-run, would do) to `.gitignore` so `.mlops/` stays out of git; absent for --example. */
  readonly gitignore?: { readonly path: string; readonly action: 'created' | 'appended' | 'already ignored' | 'skipped (not a plain file)' }
  /** The bundled code copied into the project (absent with --no-scripts). */
  readonly scripts?: {
    readonly dir: string
    /** Paths relative to `dir` that were (or, with --dry-run, would be) written. */
    readonly copied: readonly string[]
    /** Files already there and kept (pass --force to overwrite them). */
    readonly kept: readonly string[]
  }
}

/** The folder `training.sourceDir` in the template names, beside the config file. */
const SCRIPTS_DIR = 'scripts'

/**
 * Writes the commented template and copies the bundled training and inference code into
 * `./scripts/`, so `mlops train` works in a fresh folder (the user owns and edits the copy). It
 * validates the template before writing, never overwrites a file without --force, and never writes
 * through a symbolic link (issue 19): an existing link is refused, new files are created with O_EXCL.
 */
export async function runInit(ctx: CommandContext, opts: InitOptions): Promise<Outcome<InitResult>> {
  // init writes where it is told or here: never into a config found in a parent folder.
  const file = opts.example
    ? path.resolve(ctx.deps.cwd, opts.example)
    : ctx.globals.config !== undefined
      ? ctx.configPath
      : path.join(ctx.deps.cwd, DEFAULT_CONFIG_FILE)
  const dir = path.dirname(file)
  const region = ctx.awsSettings().region
  const project = opts.project ?? sanitize(path.basename(dir))
  const bucket = opts.bucket ?? `${project}-mlops-${region}`.slice(0, 63)
  const bundled = opts.scripts === false
  const text = configTemplate({ project, bucket, region, bundledScripts: bundled })
  try {
    parseConfigText(text, file)
  } catch (e) {
    throw new UserError('InvalidInitValue', `--project "${project}" or --bucket "${bucket}" is not valid.`, {
      hint: 'Project: 2-32 lower-case letters, digits or hyphens, starting with a letter. Bucket: 3-63 lower-case letters, digits, dots or hyphens.',
      cause: e,
    })
  }
  const via = opts.example ? '--example' : ctx.globals.config !== undefined ? '-c' : undefined
  await checkFolder(dir, file, via, { probe: !ctx.dryRun })
  const existing = await kindOf(file)
  if (existing === 'link') throw symlinkError(file, opts.example ? '--example <a new file>' : '-c <a real path>')
  if (existing && opts.example) {
    throw new UserError('ExampleExists', `${file} already exists; nothing was written.`, {
      hint: 'Pass --example <a new file name>: the example never overwrites a file.',
    })
  }
  if (opts.example) {
    const result: InitResult = { path: file, project, bucket, dataDir: path.resolve(dir, 'dogImages'), written: !ctx.dryRun, example: true }
    if (!ctx.dryRun) await writeAll([{ file, data: text, replace: false }])
    return done(result)
  }
  if (existing && !opts.force) {
    throw new UserError('ConfigExists', `${file} already exists; nothing was written.`, {
      hint: 'Pass --example <file> for a commented example beside it, -c <other-path>, or --force to overwrite it (and the bundled scripts).',
    })
  }
  const scriptsDir = path.join(dir, SCRIPTS_DIR)
  const copy = bundled ? undefined : await planScriptCopy(scriptsDir, Boolean(opts.force))
  if (copy?.files.length && (await kindOf(scriptsDir)) === 'dir')
    await checkFolder(scriptsDir, path.join(scriptsDir, copy.files[0].rel), via, { probe: !ctx.dryRun })
  const gitignore = await planGitignore(path.join(dir, '.gitignore'))
  const result: InitResult = {
    path: file,
    project,
    bucket,
    dataDir: path.resolve(dir, 'dogImages'),
    written: !ctx.dryRun,
    sourceDir: bundled ? { dir: bundledScriptsDir(), bundled: true } : { dir: scriptsDir, bundled: false },
    gitignore: { path: gitignore.path, action: gitignore.action },
    ...(copy ? { scripts: { dir: scriptsDir, copied: copy.files.map((f) => f.rel), kept: copy.kept } } : {}),
  }
  if (ctx.dryRun) return done(result)
  const writes: PendingWrite[] = [{ file, data: text, replace: existing !== undefined }]
  if (gitignore.text !== undefined) writes.push({ file: gitignore.path, data: gitignore.text, replace: gitignore.action === 'appended', mode: gitignore.mode })
  for (const f of copy?.files ?? []) writes.push({ file: path.join(scriptsDir, f.rel), data: await readFile(f.source), replace: f.exists })
  await writeAll(writes, copy?.files.length ? scriptsDir : undefined)
  for (const k of copy?.kept ?? []) ctx.ui.warn(`Kept your ${path.join(SCRIPTS_DIR, k)} (pass --force to replace it with the bundled one).`)
  return done(result)
}

/** The line init adds: .mlops/ holds local runs (134 MB checkpoints), downloads and state, none of it for git. */
const GITIGNORE_ENTRY = '.mlops/'

/**
 * What to do to `.gitignore` (issue 31 item 8): create it, append the entry, or nothing when a line
 * already ignores `.mlops` (with or without the slashes). Never writes through a link.
 */
async function planGitignore(file: string): Promise<{ path: string; action: NonNullable<InitResult['gitignore']>['action']; text?: string; mode?: number }> {
  const kind = await kindOf(file)
  if (kind === 'link' || kind === 'dir') return { path: file, action: 'skipped (not a plain file)' }
  if (kind === undefined) return { path: file, action: 'created', text: `${GITIGNORE_ENTRY}\n` }
  const current = await readFile(file, 'utf8')
  const ignored = current.split(/\r?\n/).some((l) => /^\/?\.mlops\/?(\*\*)?$/.test(l.trim()))
  if (ignored) return { path: file, action: 'already ignored' }
  // The whole new text, renamed over the old file (its mode kept): never half an append.
  const mode = (await stat(file)).mode & 0o7777
  return { path: file, action: 'appended', text: `${current}${current === '' || current.endsWith('\n') ? '' : '\n'}${GITIGNORE_ENTRY}\n`, mode }
}

/**
 * The bundled code the user owns and edits: its .py files and hyperparameters.json; never tests, and
 * not the shell tools (scripts/ec2/train.sh is the tool's own runner, read from the package, and
 * gpu-bench.sh a benchmark).
 */
export async function bundledScriptFiles(root = bundledScriptsDir()): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string): Promise<void> => {
    for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name
      if (entry.isFile() && isShippedScript(child)) out.push(child)
    }
  }
  await walk('')
  return out.sort()
}

function isShippedScript(rel: string): boolean {
  const name = path.posix.basename(rel)
  if (/^test_.*\.py$|_test\.py$|^conftest\.py$/.test(name)) return false
  return name.endsWith('.py') || name === 'hyperparameters.json'
}

/** Which bundled files go where, which existing ones are kept; refuses links before anything is written. */
async function planScriptCopy(dir: string, force: boolean): Promise<{ files: { rel: string; source: string; exists: boolean }[]; kept: string[] }> {
  const dirKind = await kindOf(dir)
  if (dirKind === 'link') throw symlinkError(dir, '--no-scripts, or remove the link')
  if (dirKind === 'file') {
    throw new UserError('ScriptsDirIsFile', `${dir} is a file, not a folder; nothing was written.`, { hint: 'Move it away, or pass --no-scripts.' })
  }
  const root = bundledScriptsDir()
  const files: { rel: string; source: string; exists: boolean }[] = []
  const kept: string[] = []
  for (const rel of await bundledScriptFiles(root)) {
    const target = path.join(dir, rel)
    const kind = await kindOf(target)
    if (kind === 'link') throw symlinkError(target, '--no-scripts, or remove the link')
    if (kind && !force) kept.push(rel)
    else files.push({ rel, source: path.join(root, rel), exists: kind !== undefined })
  }
  return { files, kept }
}

async function kindOf(p: string): Promise<'link' | 'file' | 'dir' | undefined> {
  try {
    const st = await lstat(p)
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'file'
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw e
  }
}

/** One file init writes: `replace` renames over an existing file; otherwise it must not exist (never clobbered). */
interface PendingWrite {
  readonly file: string
  readonly data: string | Buffer
  readonly replace: boolean
  /** The permissions of the file it replaces. */
  readonly mode?: number
}

/**
 * Writes every file or none (issue 27): each is first written in full under a temporary name beside
 * it (so a full disk fails there, before anything is in place), then put in place: a replaced file
 * by rename, which swaps the directory entry and never follows a link; a new one by a hard link,
 * which like O_EXCL fails on any existing path (a link planted since the check included). On any
 * failure the temporary files, the new files already placed and a scripts folder it created are
 * removed, and the error names the file and the fix.
 */
async function writeAll(writes: readonly PendingWrite[], scriptsDir?: string): Promise<void> {
  const staged: { tmp: string; w: PendingWrite }[] = []
  const placed: PendingWrite[] = []
  let createdDir: string | undefined
  let current = writes[0]?.file ?? ''
  try {
    if (scriptsDir && (await kindOf(scriptsDir)) === undefined) {
      current = scriptsDir
      await mkdir(scriptsDir)
      createdDir = scriptsDir
    }
    for (const w of writes) {
      current = w.file
      const tmp = `${w.file}.mlops-${process.pid}.tmp`
      await writeFile(tmp, w.data, { flag: 'wx' })
      staged.push({ tmp, w })
      if (w.mode !== undefined) await chmod(tmp, w.mode)
    }
    for (const { tmp, w } of staged) {
      current = w.file
      if (w.replace) await rename(tmp, w.file)
      else await placeNew(tmp, w.file)
      placed.push(w)
    }
  } catch (e) {
    for (const { tmp } of staged) await rm(tmp, { force: true }).catch(() => undefined)
    await rm(`${current}.mlops-${process.pid}.tmp`, { force: true }).catch(() => undefined)
    for (const w of placed) if (!w.replace) await unlink(w.file).catch(() => undefined)
    if (createdDir) await rmdir(createdDir).catch(() => undefined)
    const replaced = placed.filter((w) => w.replace).map((w) => w.file)
    throw initWriteFailed(e, current, replaced)
  }
}

/** Puts a fully written temporary file at a new name, failing if anything is there. */
async function placeNew(tmp: string, file: string): Promise<void> {
  try {
    await link(tmp, file)
  } catch (e) {
    // A file system without hard links (some network and FAT mounts): create exclusively instead.
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e
    await writeFile(file, await readFile(tmp), { flag: 'wx' })
  }
  await unlink(tmp)
}

/** What init says when a write fails part way: the file, why, the fix, and that nothing was left behind. */
function initWriteFailed(e: unknown, file: string, replaced: readonly string[]): unknown {
  const left = replaced.length
    ? ` The files already replaced (${replaced.join(', ')}) hold the new version in full; the rest were left as they were.`
    : ' Nothing was written.'
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'EEXIST') {
    return new UserError('InitFileAppeared', `${file} appeared while mlops init was writing.${left}`, {
      hint: 'Run mlops init again (it keeps existing files unless --force).',
      cause: e,
    })
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return notWritable(file, e as NodeJS.ErrnoException, undefined, left)
  const mapped = fileSystemError(e, { target: file })
  if (!mapped) return e
  return new OperationError(mapped.code, `${mapped.message}${left}`, { hint: mapped.hint, cause: e, details: mapped.details })
}

/**
 * The folder init writes into must exist, be a folder and take a new file: checked before anything
 * is written (issue 27: a missing or read-only folder ended in "Unexpected error"). With `probe`
 * (a real run) an empty file is created and removed, the only test a read-only mount, a full inode
 * table or root on a folder it may not write (sysfs, a network share) all fail.
 */
async function checkFolder(dir: string, file: string, via: string | undefined, opts: { readonly probe: boolean }): Promise<void> {
  const fix = via ? `pass ${via} <a path in a folder that exists>` : 'run mlops init in a folder that exists'
  let st
  try {
    st = await stat(dir)
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') {
      throw new UserError('InitFolderMissing', `Cannot write ${file}: the folder ${dir} does not exist (${err.code}); nothing was written.`, {
        hint: `Create it first (mkdir -p ${dir}) and run mlops init again, or ${fix}.`,
        cause: e,
      })
    }
    throw notWritable(file, err, via)
  }
  if (!st.isDirectory()) {
    throw new UserError('InitFolderMissing', `Cannot write ${file}: ${dir} is not a folder (ENOTDIR); nothing was written.`, {
      hint: `Move it away, or ${fix}.`,
    })
  }
  if (!opts.probe) {
    // A dry run creates nothing: the permission bits say what the probe would find (root aside).
    await access(dir, constants.W_OK).catch((e: NodeJS.ErrnoException) => {
      throw notWritable(file, e, via)
    })
    return
  }
  const probe = path.join(dir, `.mlops-init-${process.pid}.probe`)
  try {
    await writeFile(probe, '', { flag: 'wx' })
  } catch (e) {
    await rm(probe, { force: true }).catch(() => undefined)
    const err = e as NodeJS.ErrnoException
    if (err.code === 'EACCES' || err.code === 'EPERM' || err.code === 'EROFS') throw notWritable(file, err, via)
    const mapped = fileSystemError(e, { target: file })
    throw mapped ? new OperationError(mapped.code, `${mapped.message} Nothing was written.`, { hint: mapped.hint, cause: e, details: mapped.details }) : e
  }
  await unlink(probe)
}

function notWritable(file: string, err: NodeJS.ErrnoException, via: string | undefined, left = ' Nothing was written.'): UserError {
  const dir = path.dirname(file)
  const why = err.code === 'EROFS' ? 'it is on a read-only file system' : err.code === 'EPERM' ? 'the operation is not permitted' : 'permission denied'
  const elsewhere = via ? `pass ${via} <a path in a writable folder>` : 'run mlops init in a folder you can write to'
  return new UserError('InitFolderNotWritable', `Cannot write ${path.basename(file)} into ${dir}: ${why} (${err.code}).${left}`, {
    hint: err.code === 'EROFS' ? `Remount it read-write, or ${elsewhere}.` : `Make it writable (chmod u+w ${dir}), or ${elsewhere}.`,
    cause: err,
  })
}

function symlinkError(p: string, alternative: string): UserError {
  return new UserError('RefusingSymlink', `${p} is a symbolic link; mlops init does not write through links, so nothing was written.`, {
    hint: `Pass ${alternative}.`,
  })
}

function sanitize(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 32)
  return s.length >= 2 ? s : 'mlops-project'
}
