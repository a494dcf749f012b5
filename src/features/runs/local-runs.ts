import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import type { ClassAccuracy, EpochMetrics, RunSummary } from './types.js'
import { decodeHyperparameters } from './run-hyperparameters.js'

/**
 * Local runs (`mlops train --local`) as `mlops runs` sees them: the folders under .mlops/local/,
 * each laid out as SageMaker's /opt/ml (features/local/plan.ts localJobLayout). Read from the folders
 * themselves, not from .mlops/state.json, so deleting the state file loses no history.
 */

/** `<project>/.mlops/local`. */
export function localRunsDir(projectDir: string): string {
  return path.join(projectDir, '.mlops', 'local')
}

/** Where a run's evaluation.json may be (train.py writes it beside the model; older runs have none). */
export function evaluationCandidates(runFolder: string): string[] {
  return [path.join(runFolder, 'model', 'evaluation.json'), path.join(runFolder, 'output', 'data', 'evaluation.json')]
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown
  } catch {
    return undefined
  }
}

async function mtime(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs
  } catch {
    return undefined
  }
}

/** `dogs-local-2026-11-22-10-30-05-123` -> the time in its name (uniqueName's timestamp), else undefined. */
export function startFromName(name: string): number | undefined {
  const m = /(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{3})$/.exec(name)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, ms] = m.map(Number)
  return Date.UTC(y, mo - 1, d, h, mi, s, ms)
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** The numeric members of an object (a history entry, a metrics file). */
function numbers(o: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])))
}

/** The epochs of a local run's metrics.json (`history`), oldest first. */
export function historyOf(metricsFile: unknown): EpochMetrics[] {
  if (!isRecord(metricsFile) || !Array.isArray(metricsFile.history)) return []
  return metricsFile.history.filter(isRecord).map(numbers)
}

/** Reads one local run folder; undefined when it is not one (no input/config written). */
export async function readLocalRun(folder: string): Promise<RunSummary | undefined> {
  const name = path.basename(folder)
  const config = path.join(folder, 'input', 'config')
  const hp = await readJson(path.join(config, 'hyperparameters.json'))
  if (!isRecord(hp)) return undefined
  const resources = await readJson(path.join(config, 'resourceconfig.json'))
  const metricsFile = await readJson(path.join(folder, 'output', 'data', 'metrics.json'))
  const artifact = path.join(folder, 'model.tar.gz')
  // Duration from two files of one clock: input/config is written as the run starts, model.tar.gz as it ends.
  const ended = await mtime(artifact)
  const configWritten = await mtime(path.join(config, 'hyperparameters.json'))
  const started = startFromName(name) ?? configWritten
  const history = historyOf(metricsFile)
  const last = history.at(-1) ?? {}
  const metrics: Record<string, number> = {}
  for (const key of ['val_accuracy', 'val_loss', 'train_loss'] as const) if (last[key] !== undefined) metrics[key] = last[key]
  if (isRecord(metricsFile)) {
    const top = numbers(metricsFile)
    for (const key of ['test_accuracy', 'test_loss', 'best_val_accuracy', 'epochs_run'] as const) if (top[key] !== undefined) metrics[key] = top[key]
  }
  const hosts = isRecord(resources) && Array.isArray(resources.hosts) ? resources.hosts.length : undefined
  return {
    name,
    kind: 'training',
    where: 'local',
    status: ended !== undefined ? 'Completed' : 'Incomplete',
    ...(started !== undefined ? { startedAt: new Date(started).toISOString() } : {}),
    ...(configWritten !== undefined && ended !== undefined ? { durationSeconds: Math.max(0, Math.round((ended - configWritten) / 1000)) } : {}),
    ...(hosts !== undefined ? { instanceCount: hosts } : {}),
    instanceType: 'local',
    spot: false,
    hyperparameters: decodeHyperparameters(Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, String(v)]))),
    metrics,
    costUsd: 0,
    ...(ended !== undefined ? { modelArtifact: artifact } : {}),
    folder,
  }
}

/** Every local run of the project, newest first. `serve/` (mlops serve's unpacked models) is not a run. */
export async function listLocalRuns(projectDir: string): Promise<RunSummary[]> {
  const dir = localRunsDir(projectDir)
  let entries: { name: string; isDirectory(): boolean }[]
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return []
  }
  const runs = await Promise.all(entries.filter((e) => e.isDirectory() && e.name !== 'serve').map((e) => readLocalRun(path.join(dir, e.name))))
  return runs.filter((r): r is RunSummary => r !== undefined)
}

/** The per-epoch metrics of a local run (its metrics.json history). */
export async function localEpochs(folder: string): Promise<EpochMetrics[]> {
  return historyOf(await readJson(path.join(folder, 'output', 'data', 'metrics.json')))
}

/**
 * Per-class accuracy (recall) from an evaluation.json: `per_class` as a list of `{class, recall,
 * support}` or a map `{<class>: {recall, support}}`. Undefined when there is no file or no such member.
 */
export function perClassOf(evaluation: unknown): ClassAccuracy[] | undefined {
  if (!isRecord(evaluation)) return undefined
  const raw = evaluation.per_class ?? evaluation.perClass ?? evaluation.classes
  const rows: ClassAccuracy[] = []
  const add = (cls: unknown, v: unknown) => {
    if (typeof cls !== 'string' || !isRecord(v)) return
    const acc = typeof v.recall === 'number' ? v.recall : typeof v.accuracy === 'number' ? v.accuracy : undefined
    if (acc === undefined) return
    rows.push({ class: cls, accuracy: acc, ...(typeof v.support === 'number' ? { support: v.support } : {}) })
  }
  if (Array.isArray(raw)) for (const r of raw) add(isRecord(r) ? (r.class ?? r.name ?? r.label) : undefined, r)
  else if (isRecord(raw)) for (const [cls, v] of Object.entries(raw)) add(cls, v)
  return rows.length ? rows : undefined
}

/** A local run's evaluation: the first evaluation.json found beside its model. */
export async function localEvaluation(folder: string): Promise<{ file: string; perClass: ClassAccuracy[] } | undefined> {
  for (const file of evaluationCandidates(folder)) {
    const perClass = perClassOf(await readJson(file))
    if (perClass) return { file, perClass }
  }
  return undefined
}
