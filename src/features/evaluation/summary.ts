import type { ClassScore, Evaluation, WorstFile } from '../../shared/report/report-data.js'

/**
 * evaluation.json from prediction rows that came back from the endpoint: the TypeScript twin of
 * scripts/evaluation.py `summarize`. Python's copy imports torch (through inference.py), which an
 * engineer evaluating a deployed endpoint need not have; test/integration/evaluation-summary.test.ts
 * runs both on the same rows and requires the same document, so the two cannot drift apart.
 */

/** One image's answer with its true class (evaluation.py's predict row shape). */
export interface ScoredRow {
  readonly file: string
  readonly label: string | null
  readonly predictions?: readonly { label: string; index?: number; probability: number }[]
  readonly error?: string
  /** The image itself, for the worst files' thumbnails (kept only when small). */
  readonly bytes?: Uint8Array
  readonly contentType?: string
}

/** evaluation.py's DEFAULT_WORST. */
export const DEFAULT_WORST = 12
/** Images larger than this are not inlined as thumbnails (the report stays small). */
export const THUMBNAIL_MAX_BYTES = 48 * 1024

/** Python's round(x, digits): round half to even, as evaluation.py's numbers are rounded. */
export function pyRound(x: number, digits: number): number {
  const scale = 10 ** digits
  const scaled = x * scale
  const floor = Math.floor(scaled)
  const diff = scaled - floor
  const n = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1
  return n / scale
}

function thumbnailOf(row: ScoredRow): string {
  if (!row.bytes || row.bytes.length > THUMBNAIL_MAX_BYTES) return ''
  return `data:${row.contentType ?? 'image/jpeg'};base64,${Buffer.from(row.bytes).toString('base64')}`
}

/** The same document evaluation.py's summarize writes (its `seconds` is the caller's to add). */
export function summarizeRows(
  rows: readonly ScoredRow[],
  classes: readonly string[],
  worst = DEFAULT_WORST,
  split = '',
): Evaluation & { unknown_labels: string[] } {
  const index = new Map(classes.map((name, i) => [name, i]))
  const n = classes.length
  const confusion = Array.from({ length: n }, () => new Array<number>(n).fill(0))
  let top1 = 0
  let top5 = 0
  let images = 0
  const unknown: string[] = []
  const errors: { file: string; error: string }[] = []
  const scored: { trueP: number; row: ScoredRow; label: string; top: { label: string; probability: number } }[] = []
  for (const row of rows) {
    if (row.error !== undefined) {
      errors.push({ file: row.file, error: row.error })
      continue
    }
    const truth = row.label === null ? undefined : index.get(row.label)
    if (truth === undefined || !row.predictions?.length) {
      unknown.push(row.file)
      continue
    }
    const preds = row.predictions
    const indexOf = (p: { label: string; index?: number }) => p.index ?? index.get(p.label) ?? -1
    const predicted = indexOf(preds[0])
    if (predicted >= 0 && predicted < n) confusion[truth][predicted] += 1
    images += 1
    if (predicted === truth) top1 += 1
    if (preds.slice(0, 5).some((p) => indexOf(p) === truth)) top5 += 1
    const trueP = preds.find((p) => indexOf(p) === truth)?.probability ?? 0
    scored.push({ trueP, row, label: row.label!, top: preds[0] })
  }
  const perClass: ClassScore[] = classes.map((label, i) => {
    const tp = confusion[i][i]
    const support = confusion[i].reduce((a, b) => a + b, 0)
    const predicted = confusion.reduce((a, r) => a + r[i], 0)
    const precision = predicted ? tp / predicted : 0
    const recall = support ? tp / support : 0
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0
    return { label, index: i, precision: pyRound(precision, 4), recall: pyRound(recall, 4), f1: pyRound(f1, 4), support, predicted }
  })
  const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  const wrong = scored
    .filter((s) => s.top.label !== s.label)
    .sort((a, b) => a.trueP - b.trueP || byCode(a.row.file, b.row.file))
    .slice(0, worst)
  const worstFiles: WorstFile[] = wrong.map((s) => ({
    file: s.row.file,
    true: s.label,
    predicted: s.top.label,
    confidence: s.top.probability,
    true_probability: pyRound(s.trueP, 6),
    thumbnail: thumbnailOf(s.row),
  }))
  return {
    split,
    images,
    top1_accuracy: images ? pyRound(top1 / images, 6) : 0,
    top5_accuracy: images ? pyRound(top5 / images, 6) : 0,
    classes: [...classes],
    per_class: perClass,
    confusion,
    worst: worstFiles,
    unreadable: errors,
    unknown_labels: unknown.slice(0, 50),
  }
}

/**
 * The model's classes in index order from the endpoint's answers (each names label and index). An
 * answer for every class (top_k at least the class count) gives them all; a gap is named `class <i>`.
 */
export function classesFromAnswers(rows: readonly ScoredRow[]): string[] {
  const byIndex = new Map<number, string>()
  for (const r of rows) for (const p of r.predictions ?? []) if (p.index !== undefined && p.index >= 0) byIndex.set(p.index, p.label)
  const n = byIndex.size ? Math.max(...byIndex.keys()) + 1 : 0
  return Array.from({ length: n }, (_, i) => byIndex.get(i) ?? `class ${i}`)
}
