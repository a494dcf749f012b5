import { existsSync } from 'node:fs'
import { appendFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from '../../shared/errors.js'

/**
 * The file `mlops predict` writes, one row per image, appended as each batch is done so an
 * interrupted run keeps what it finished and the next run skips those files (resume).
 * CSV: file,true_label,label_1,probability_1,...,label_K,probability_K,error. JSONL: one object per
 * line, `{"file", "label", "predictions": [{label, index, probability}]}` or `{"file", "label", "error"}`.
 */

export type PredictionsFormat = 'csv' | 'jsonl'

/** One image's answer, as evaluation.py prints it. */
export interface PredictionRow {
  readonly file: string
  /** The true class when the folder is labelled, else null. */
  readonly label: string | null
  readonly predictions?: readonly { label: string; index: number; probability: number }[]
  readonly error?: string
}

/** The format from the name: .csv or .jsonl (UserError naming -o otherwise). */
export function predictionsFormat(file: string): PredictionsFormat {
  if (/\.csv$/i.test(file)) return 'csv'
  if (/\.jsonl$/i.test(file)) return 'jsonl'
  throw new UserError('InvalidFlag', `-o ${file}: the predictions file must end in .csv or .jsonl.`, { hint: 'For example: -o predictions.csv' })
}

export function csvHeader(topK: number): string {
  const ranks = Array.from({ length: topK }, (_, i) => `label_${i + 1},probability_${i + 1}`)
  return ['file', 'true_label', ...ranks, 'error'].join(',')
}

function csvCell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

/** Splits one CSV line (RFC 4180 quoting; no newlines inside cells: evaluation.py writes none). */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      cells.push(cell)
      cell = ''
    } else cell += ch
  }
  cells.push(cell)
  return cells
}

export function formatRow(row: PredictionRow, format: PredictionsFormat, topK: number): string {
  if (format === 'jsonl') return JSON.stringify(row)
  const ranks = Array.from({ length: topK }, (_, i) => {
    const p = row.predictions?.[i]
    return p ? [csvCell(p.label), String(p.probability)] : ['', '']
  }).flat()
  return [csvCell(row.file), csvCell(row.label ?? ''), ...ranks, csvCell(row.error ?? '')].join(',')
}

function parseRow(line: string, format: PredictionsFormat, header: string[]): PredictionRow | undefined {
  if (format === 'jsonl') {
    try {
      const row = JSON.parse(line) as PredictionRow
      return typeof row.file === 'string' ? row : undefined
    } catch {
      return undefined // a line cut by a crash: that file is predicted again
    }
  }
  const cells = parseCsvLine(line)
  if (cells.length !== header.length) return undefined
  const predictions = []
  for (let i = 2; i + 1 < cells.length - 1; i += 2) {
    if (cells[i]) predictions.push({ label: cells[i], index: -1, probability: Number(cells[i + 1]) })
  }
  const error = cells.at(-1)
  return { file: cells[0], label: cells[1] || null, ...(error ? { error } : { predictions }) }
}

/** The rows already in `file` (none when it does not exist), and its top-k for CSV. */
export async function readPredictions(file: string, format: PredictionsFormat): Promise<{ rows: PredictionRow[]; topK?: number }> {
  if (!existsSync(file)) return { rows: [] }
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim())
  if (format === 'jsonl') return { rows: lines.map((l) => parseRow(l, format, [])).filter((r): r is PredictionRow => r !== undefined) }
  const header = lines.length ? parseCsvLine(lines[0]) : []
  if (lines.length && (header[0] !== 'file' || header.at(-1) !== 'error')) {
    throw new UserError(
      'PredictionsFileNotOurs',
      `-o ${file} exists and is not a predictions file written by mlops predict (its header is "${lines[0].slice(0, 80)}").`,
      {
        hint: 'Pass another -o, or move that file away.',
      },
    )
  }
  const rows = lines
    .slice(1)
    .map((l) => parseRow(l, format, header))
    .filter((r): r is PredictionRow => r !== undefined)
  return { rows, topK: Math.max(0, (header.length - 3) / 2) }
}

/** Appends rows (and the CSV header first when the file is new). */
export async function appendPredictions(file: string, format: PredictionsFormat, topK: number, rows: readonly PredictionRow[], isNew: boolean): Promise<void> {
  if (rows.length === 0 && !isNew) return
  const head = isNew && format === 'csv' ? csvHeader(topK) + '\n' : ''
  await appendFile(file, head + rows.map((r) => formatRow(r, format, topK) + '\n').join(''))
}

/** Top-1 accuracy per true class over every labelled row, worst first. */
export function perClassAccuracy(rows: readonly PredictionRow[]): { label: string; images: number; correct: number; accuracy: number }[] {
  const byLabel = new Map<string, { images: number; correct: number }>()
  for (const r of rows) {
    if (r.label === null || r.error !== undefined || !r.predictions?.length) continue
    const s = byLabel.get(r.label) ?? { images: 0, correct: 0 }
    s.images++
    if (r.predictions[0].label === r.label) s.correct++
    byLabel.set(r.label, s)
  }
  return [...byLabel]
    .map(([label, s]) => ({ label, ...s, accuracy: s.correct / s.images }))
    .sort((a, b) => a.accuracy - b.accuracy || a.label.localeCompare(b.label))
}

/** Where the file goes: relative names are taken from the current folder. */
export function resolveOutput(cwd: string, file: string): string {
  return path.resolve(cwd, file)
}
