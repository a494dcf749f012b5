import { existsSync, statSync } from 'node:fs'
import { mkdir, readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { extract as extractTar } from 'tar'
import { UserError } from '../../shared/errors.js'
import { METRICS_FILE, readSavedLoadtest } from '../../shared/loadtest-file.js'
import type { EpochMetrics, Evaluation, LiveSeries, ProjectExtras, RunData } from '../../shared/report/report-data.js'

/**
 * What a report shows of one training run, read from what the run left on disk: a local run's
 * folder (`.mlops/local/<job>/`: output/data/metrics.json and evaluation.json, input/config), or any
 * folder holding metrics.json (a SageMaker job's output.tar.gz, unpacked). The report builder takes
 * these objects only (shared/report/), so `runs compare --html` can hand it two runs found elsewhere.
 */

async function readJsonIf<T>(file: string): Promise<T | undefined> {
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T
  } catch (e) {
    throw new UserError('UnreadableRunFile', `${file} is not valid JSON (${(e as Error).message}).`, {
      hint: 'Was the run interrupted while writing it? Train again or pass another run.',
    })
  }
}

const localRoot = (projectDir: string) => path.join(projectDir, '.mlops', 'local')

/** The newest local run that finished (it has metrics.json), or undefined. */
export async function latestLocalRun(projectDir: string): Promise<string | undefined> {
  const root = localRoot(projectDir)
  if (!existsSync(root)) return undefined
  const runs = []
  for (const name of await readdir(root)) {
    const metrics = path.join(root, name, 'output', 'data', 'metrics.json')
    if (existsSync(metrics)) runs.push({ name, mtime: statSync(metrics).mtimeMs })
  }
  return runs.sort((a, b) => b.mtime - a.mtime || b.name.localeCompare(a.name))[0]?.name
}

/**
 * A SageMaker job's output.tar.gz (metrics.json, evaluation.json at its top), unpacked once into
 * `.mlops/report/<job>/`; the job's name is the folder above the archive (`<job>/output/output.tar.gz`).
 */
async function unpackOutput(projectDir: string, archive: string): Promise<string> {
  const parts = archive.split(path.sep)
  const job = parts.at(-2) === 'output' && parts.length > 2 ? parts.at(-3)! : path.basename(archive).replace(/\.(tar\.gz|tgz)$/, '')
  const dir = path.join(projectDir, '.mlops', 'report', job)
  await mkdir(dir, { recursive: true })
  await extractTar({ file: archive, cwd: dir, filter: (p) => /^(\.\/)?(metrics|evaluation)\.json$/.test(p) })
  return dir
}

/** `run` as a local job name, a run folder, a folder holding metrics.json, or a SageMaker output.tar.gz. */
export async function loadRun(projectDir: string, cwd: string, run: string): Promise<RunData> {
  const byName = path.join(localRoot(projectDir), run)
  const given = path.resolve(cwd, run)
  const asPath = /\.(tar\.gz|tgz)$/.test(given) && existsSync(given) && statSync(given).isFile() ? await unpackOutput(projectDir, given) : given
  const folder = /^[\w.-]+$/.test(run) && existsSync(byName) ? byName : asPath
  const dataDir = [path.join(folder, 'output', 'data'), path.join(folder, 'data'), folder].find((d) => existsSync(path.join(d, 'metrics.json')))
  if (!dataDir) {
    throw new UserError('RunNotFound', `[run] ${run}: no metrics.json in ${folder} (looked in output/data/, data/ and the folder itself).`, {
      hint: "Pass a local job name (ls .mlops/local), a run folder, or a SageMaker job's output.tar.gz (aws s3 cp s3://<bucket>/<prefix>/<job>/output/output.tar.gz .).",
    })
  }
  const summary = (await readJsonIf<Record<string, unknown>>(path.join(dataDir, 'metrics.json'))) ?? {}
  const evaluation = await readJsonIf<Evaluation>(path.join(dataDir, 'evaluation.json'))
  const config = path.join(folder, 'input', 'config')
  const hp = (await readJsonIf<Record<string, string>>(path.join(config, 'hyperparameters.json'))) ?? {}
  const resources = await readJsonIf<{ hosts?: string[] }>(path.join(config, 'resourceconfig.json'))
  // A local run: the config files are written at the start, metrics.json at the end.
  const start = existsSync(config) ? statSync(config).mtimeMs : undefined
  const end = statSync(path.join(dataDir, 'metrics.json')).mtimeMs
  const local = folder.startsWith(localRoot(projectDir) + path.sep)
  const metrics = Object.fromEntries(Object.entries(summary).filter((e): e is [string, number] => typeof e[1] === 'number'))
  return {
    name: path.basename(folder),
    where: local ? 'local' : 'sagemaker',
    ...(start !== undefined ? { startedAt: new Date(start).toISOString(), durationSeconds: Math.max(0, Math.round((end - start) / 1000)) } : {}),
    endedAt: new Date(end).toISOString(),
    instances: resources?.hosts?.length ?? (typeof summary.world_size === 'number' ? summary.world_size : 1),
    instanceType: local ? 'local' : 'unknown',
    ...(local ? { costUsd: 0, costBasis: 'trained on this machine: no AWS charge' } : {}),
    hyperparameters: Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, unquote(v)])),
    metrics,
    history: Array.isArray(summary.history) ? (summary.history as EpochMetrics[]) : [],
    ...(evaluation ? { evaluation } : {}),
  }
}

/** SageMaker's hyperparameters.json holds JSON-encoded strings ("\"resnet18\""); show the value. */
function unquote(v: string): string {
  try {
    const parsed: unknown = JSON.parse(v)
    return typeof parsed === 'string' ? parsed : String(v)
  } catch {
    return String(v)
  }
}

/** The last loadtest (.mlops/loadtest.json) and an audit summary (a saved `audit-iam --format json`). */
export async function loadExtras(projectDir: string, auditFile?: string): Promise<ProjectExtras> {
  const saved = await readSavedLoadtest(projectDir)
  const auditPath = auditFile ?? path.join(projectDir, '.mlops', 'audit.json')
  if (auditFile && !existsSync(auditFile)) {
    throw new UserError('InvalidFlag', `--audit ${auditFile} does not exist.`, { hint: 'Save one with: mlops audit-iam --format json > audit.json' })
  }
  const audit = await readJsonIf<{
    generatedAt?: string
    summary?: { roles: number; findings: number; bySeverity: Record<string, number> }
    report?: { generatedAt?: string; summary?: { roles: number; findings: number; bySeverity: Record<string, number> } }
  }>(auditPath)
  const auditReport = audit?.report ?? audit
  const liveMetrics = liveMetricsOf(await readJsonIf<unknown>(path.join(projectDir, METRICS_FILE)))
  return {
    ...(liveMetrics ? { liveMetrics } : {}),
    ...(saved?.levels.length ? { loadtest: { savedAt: saved.savedAt, target: `${saved.target.kind} ${saved.target.name}`.trim(), levels: saved.levels } } : {}),
    ...(auditReport?.summary
      ? {
          audit: {
            file: auditPath,
            ...(auditReport.generatedAt ? { generatedAt: auditReport.generatedAt } : {}),
            roles: auditReport.summary.roles,
            findings: auditReport.summary.findings,
            bySeverity: auditReport.summary.bySeverity,
          },
        }
      : {}),
  }
}

/**
 * The series of a saved `status --metrics --json` (.mlops/metrics.json): each with its ISO timestamps
 * and values paired; a series whose arrays are not numbers and times of one length is left out.
 */
export function liveMetricsOf(saved: unknown): ProjectExtras['liveMetrics'] {
  const o = saved as
    | {
        since?: unknown
        until?: unknown
        endpoint?: { name?: unknown; series?: unknown }
        lambda?: { name?: unknown; series?: unknown }
      }
    | undefined
  if (!o || typeof o.since !== 'string' || typeof o.until !== 'string') return undefined
  const series: LiveSeries[] = []
  for (const [kind, part] of [
    ['endpoint', o.endpoint],
    ['lambda', o.lambda],
  ] as const) {
    if (!part || !Array.isArray(part.series)) continue
    for (const s of part.series as { label?: unknown; unit?: unknown; timestamps?: unknown; values?: unknown }[]) {
      const ts = Array.isArray(s.timestamps) ? s.timestamps : []
      const vs = Array.isArray(s.values) ? s.values : []
      if (
        typeof s.label !== 'string' ||
        ts.length !== vs.length ||
        !ts.every((t) => typeof t === 'string' && !Number.isNaN(Date.parse(t))) ||
        !vs.every((v) => typeof v === 'number' && Number.isFinite(v))
      )
        continue
      series.push({
        source: `${kind} ${String(part.name ?? '')}`.trim(),
        label: s.label,
        unit: typeof s.unit === 'string' ? s.unit : '',
        points: ts.map((t, i) => ({ t: t as string, v: vs[i] as number })),
      })
    }
  }
  return series.length ? { since: o.since, until: o.until, series } : undefined
}
