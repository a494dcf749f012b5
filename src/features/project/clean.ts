import { lstat, readdir, rm } from 'node:fs/promises'
import path from 'node:path'
import type { ChalkInstance } from 'chalk'
import type { CommandContext } from '../../context.js'
import { AbortError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { formatBytes } from '../../shared/output.js'

/**
 * `mlops clean`: frees what `.mlops/` gathers and no longer serves (issue 31 item 8: 1.2 GB after
 * five small local runs). Each local run (`.mlops/local/<job>/`, see local/plan.ts localJobLayout)
 * keeps its best weights (`checkpoints/best-model.pth`) and its last checkpoint (the newest
 * `checkpoint-epoch*.pt`; train.py keeps two); the older checkpoint and half-written `*.tmp` files
 * go. A run's model (`model/` and `model.tar.gz`) is kept while .mlops/state.json references it
 * (`serve` and `deploy --model <run>` find it there); an unreferenced run's model goes (its best
 * weights stay in its checkpoints), unless the state references no local model at all. `.mlops/local/serve/` holds models `serve` downloaded from S3:
 * a cache, fetched again when needed. The state file, upload cache and loadtest results are
 * never touched.
 */

/** One file or folder that clean deletes. */
export interface CleanItem {
  /** Relative to the project folder. */
  readonly path: string
  readonly bytes: number
  /** Why it can go. */
  readonly reason: string
}

export interface CleanResult {
  readonly dir: string
  readonly items: readonly CleanItem[]
  readonly bytes: number
  /** What is kept, relative to the project folder (the best and last checkpoint, referenced models). */
  readonly kept: readonly string[]
  readonly deleted: boolean
}

const CHECKPOINT_RE = /^checkpoint-epoch(\d+)\.pt$/
/** train_artifacts.py BEST_MODEL_FILE. */
const BEST_MODEL_FILE = 'best-model.pth'
/** serve.ts's download cache, beside the runs. */
const SERVE_CACHE = 'serve'

export async function runClean(ctx: CommandContext): Promise<Outcome<CleanResult>> {
  const found = await findCleanable(ctx)
  const result = { dir: path.join(ctx.projectDir, '.mlops'), ...found, bytes: sum(found.items), deleted: false }
  if (ctx.dryRun) {
    return planned({
      title: 'mlops clean (local files only; no AWS request)',
      operations: [],
      notes: [`Would free ${formatBytes(result.bytes)} in ${result.dir}:`, ...result.items.map(describe)],
      details: result,
    })
  }
  if (result.items.length === 0) return done(result)
  ctx.ui.info(`mlops clean will delete ${result.items.length} item${result.items.length === 1 ? '' : 's'}, freeing ${formatBytes(result.bytes)}:`)
  for (const item of result.items) ctx.ui.info(`  - ${describe(item)}`)
  if (!(await ctx.ui.confirm(`Free ${formatBytes(result.bytes)}?`))) throw new AbortError()
  for (const item of result.items) await rm(path.join(ctx.projectDir, item.path), { recursive: true, force: true })
  return done({ ...result, deleted: true })
}

async function findCleanable(ctx: CommandContext): Promise<{ items: CleanItem[]; kept: string[] }> {
  const local = path.join(ctx.projectDir, '.mlops', 'local')
  const rel = (p: string) => path.relative(ctx.projectDir, p)
  const referenced = new Set(
    (await ctx.state().list('local-model')).flatMap((r) => {
      const artifact = r.details?.modelArtifact
      return [r.name, ...(typeof artifact === 'string' ? [path.basename(path.dirname(path.resolve(ctx.projectDir, artifact)))] : [])]
    }),
  )
  const items: CleanItem[] = []
  const kept: string[] = []
  for (const name of await listDir(local)) {
    const run = path.join(local, name)
    if (!(await lstat(run)).isDirectory()) continue
    if (name === SERVE_CACHE) {
      for (const entry of await listDir(run)) {
        const p = path.join(run, entry)
        items.push({ path: rel(p), bytes: await sizeOf(p), reason: 'model downloaded by serve (fetched again when needed)' })
      }
      continue
    }
    const checkpoints = path.join(run, 'checkpoints')
    const files = await listDir(checkpoints)
    const epochs = files.flatMap((f) => {
      const m = CHECKPOINT_RE.exec(f)
      return m ? [{ f, epoch: Number(m[1]) }] : []
    })
    const last = epochs.sort((a, b) => a.epoch - b.epoch).at(-1)?.f
    for (const f of files) {
      const p = path.join(checkpoints, f)
      if (f === last || f === BEST_MODEL_FILE) kept.push(rel(p))
      else if (f.endsWith('.tmp')) items.push({ path: rel(p), bytes: await sizeOf(p), reason: 'half-written file of an interrupted save' })
      else if (CHECKPOINT_RE.test(f)) items.push({ path: rel(p), bytes: await sizeOf(p), reason: 'older checkpoint (the last and best are kept)' })
    }
    for (const model of ['model', 'model.tar.gz']) {
      const p = path.join(run, model)
      if (!(await exists(p))) continue
      // With no local model in the state (a deleted or reset state file: it is a cache), nothing says which
      // model is unused, so every model stays.
      // And a run without best weights in its checkpoints keeps its model: it would be the only copy.
      if (referenced.size === 0 || referenced.has(name) || !files.includes(BEST_MODEL_FILE)) kept.push(rel(p))
      else
        items.push({
          path: rel(p),
          bytes: await sizeOf(p),
          reason: 'model of a run .mlops/state.json does not reference (its best weights stay in its checkpoints)',
        })
    }
  }
  return { items, kept }
}

function describe(item: CleanItem): string {
  return `${item.path} (${formatBytes(item.bytes)}): ${item.reason}`
}

function sum(items: readonly CleanItem[]): number {
  return items.reduce((a, i) => a + i.bytes, 0)
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw e
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p)
    return true
  } catch {
    return false
  }
}

/** Bytes of a file, or of everything under a folder (links counted as themselves, never followed). */
async function sizeOf(p: string): Promise<number> {
  const st = await lstat(p)
  if (!st.isDirectory()) return st.size
  let total = 0
  for (const entry of await readdir(p)) total += await sizeOf(path.join(p, entry))
  return total
}

export function renderClean(r: CleanResult, c: ChalkInstance): string {
  if (r.items.length === 0)
    return `Nothing to clean in ${r.dir}${r.kept.length ? ` (kept ${r.kept.length}: the best and last checkpoints, referenced models)` : ''}.`
  const lines = [c.bold(`Freed ${formatBytes(r.bytes)} in ${r.dir}.`)]
  for (const i of r.items) lines.push(`  ${c.green('✔')} ${describe(i)}`)
  if (r.kept.length) lines.push(c.gray(`Kept ${r.kept.length}: the best and last checkpoint of each run, and the models .mlops/state.json references.`))
  return lines.join('\n')
}
