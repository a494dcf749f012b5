import { lstat, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { DEFAULT_CONFIG_FILE, parseConfigText } from '../../config/load.js'
import { configTemplate } from '../../config/template.js'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
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
  const existing = await kindOf(file)
  if (existing === 'link') throw symlinkError(file, opts.example ? '--example <a new file>' : '-c <a real path>')
  if (existing && opts.example) {
    throw new UserError('ExampleExists', `${file} already exists; nothing was written.`, {
      hint: 'Pass --example <a new file name>: the example never overwrites a file.',
    })
  }
  if (opts.example) {
    const result: InitResult = { path: file, project, bucket, dataDir: path.resolve(dir, 'dogImages'), written: !ctx.dryRun, example: true }
    if (!ctx.dryRun) await writeSafely(file, text, false)
    return done(result)
  }
  if (existing && !opts.force) {
    throw new UserError('ConfigExists', `${file} already exists; nothing was written.`, {
      hint: 'Pass --example <file> for a commented example beside it, -c <other-path>, or --force to overwrite it (and the bundled scripts).',
    })
  }
  const scriptsDir = path.join(dir, SCRIPTS_DIR)
  const copy = bundled ? undefined : await planScriptCopy(scriptsDir, Boolean(opts.force))
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
  await writeSafely(file, text, existing !== undefined)
  if (gitignore.text !== undefined) await writeFile(gitignore.path, gitignore.text, { flag: gitignore.action === 'created' ? 'wx' : 'a' })
  if (copy) {
    for (const f of copy.files) {
      await mkdir(path.dirname(path.join(scriptsDir, f.rel)), { recursive: true })
      await writeSafely(path.join(scriptsDir, f.rel), await readFile(f.source), f.exists)
    }
    for (const k of copy.kept) ctx.ui.warn(`Kept your ${path.join(SCRIPTS_DIR, k)} (pass --force to replace it with the bundled one).`)
  }
  return done(result)
}

/** The line init adds: .mlops/ holds local runs (134 MB checkpoints), downloads and state, none of it for git. */
const GITIGNORE_ENTRY = '.mlops/'

/**
 * What to do to `.gitignore` (issue 31 item 8): create it, append the entry, or nothing when a line
 * already ignores `.mlops` (with or without the slashes). Never writes through a link.
 */
async function planGitignore(file: string): Promise<{ path: string; action: NonNullable<InitResult['gitignore']>['action']; text?: string }> {
  const kind = await kindOf(file)
  if (kind === 'link' || kind === 'dir') return { path: file, action: 'skipped (not a plain file)' }
  if (kind === undefined) return { path: file, action: 'created', text: `${GITIGNORE_ENTRY}\n` }
  const current = await readFile(file, 'utf8')
  const ignored = current.split(/\r?\n/).some((l) => /^\/?\.mlops\/?(\*\*)?$/.test(l.trim()))
  if (ignored) return { path: file, action: 'already ignored' }
  return { path: file, action: 'appended', text: `${current === '' || current.endsWith('\n') ? '' : '\n'}${GITIGNORE_ENTRY}\n` }
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

/**
 * A new file is created exclusively (O_EXCL fails on any existing path, a link planted since the
 * check included); a replaced one is written beside it and renamed over it, which replaces the
 * directory entry and never follows a link.
 */
async function writeSafely(file: string, data: string | Buffer, replace: boolean): Promise<void> {
  if (!replace) return writeFile(file, data, { flag: 'wx' })
  const tmp = `${file}.mlops-${process.pid}.tmp`
  await writeFile(tmp, data, { flag: 'wx' })
  await rename(tmp, file)
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
