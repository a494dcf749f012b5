import { sparkline } from './sparkline.js'

/**
 * The metric lines train.py prints (one per epoch, then one at the end):
 *   epoch=3 train_loss=0.912 val_loss=0.805 val_accuracy=0.771 images_per_sec=412.5
 *   test_accuracy=0.802 test_loss=0.731
 * SageMaker's tuner scrapes them with these regexes; `train`, `logs` and `train-ec2` parse them the same way.
 */
export const METRIC_NAMES = ['epoch', 'train_loss', 'val_loss', 'val_accuracy', 'images_per_sec', 'test_accuracy', 'test_loss'] as const
export type MetricName = (typeof METRIC_NAMES)[number]
export type Metrics = Partial<Record<MetricName, number>>

const NUMBER = '([-+]?[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)'

/** Regex for one metric as SageMaker wants it (Python syntax, first group is the value). */
export function metricRegex(name: MetricName): string {
  return `(?:^|\\s)${name}=${NUMBER}`
}

/** MetricDefinitions for CreateTrainingJob / tuning jobs. */
export function metricDefinitions(): { Name: string; Regex: string }[] {
  return METRIC_NAMES.filter((n) => n !== 'epoch').map((name) => ({ Name: name, Regex: metricRegex(name) }))
}

/** Whether the metric is better when larger (accuracies, throughput) or smaller (losses). */
export function objectiveDirection(name: MetricName): 'Maximize' | 'Minimize' {
  return name.endsWith('_loss') ? 'Minimize' : 'Maximize'
}

/** Parses one log line; returns undefined when it holds no metric. */
export function parseMetricLine(line: string): Metrics | undefined {
  const out: Metrics = {}
  let found = false
  for (const name of METRIC_NAMES) {
    const m = new RegExp(metricRegex(name)).exec(line)
    if (m) {
      out[name] = Number(m[1])
      found = true
    }
  }
  return found ? out : undefined
}

/** Folds metric lines into the latest value of each metric. */
export function latestMetrics(lines: Iterable<string>): Metrics {
  const acc: Metrics = {}
  for (const line of lines) Object.assign(acc, parseMetricLine(line) ?? {})
  return acc
}

/** "epoch 3  val_accuracy 0.771  val_loss 0.805" for the live view. */
export function formatMetrics(m: Metrics): string {
  return METRIC_NAMES.filter((n) => m[n] !== undefined)
    .map((n) => `${n} ${m[n]}`)
    .join('  ')
}

/**
 * One entry per epoch from metric lines (`epoch=N …`), oldest first; a line printed twice for one
 * epoch (a resumed spot job) keeps the later values. Lines without `epoch=` (the test line) are skipped.
 */
export function epochHistory(lines: Iterable<string>): Metrics[] {
  const byEpoch = new Map<number, Metrics>()
  for (const line of lines) {
    const m = parseMetricLine(line)
    if (m?.epoch !== undefined) byEpoch.set(m.epoch, { ...byEpoch.get(m.epoch), ...m })
  }
  return [...byEpoch.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m)
}

/**
 * The end of `train`: val accuracy and loss per epoch as sparklines with first, best and last values,
 * or nothing when no epoch line was seen.
 */
export function epochSummaryLines(epochs: readonly Metrics[]): string[] {
  if (epochs.length === 0) return []
  const series = (name: 'val_accuracy' | 'val_loss' | 'train_loss') => epochs.map((e) => e[name] ?? null)
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3))
  const line = (label: string, values: (number | null)[], best: (a: number, b: number) => number) => {
    const finite = values.filter((v): v is number => v !== null)
    if (finite.length === 0) return undefined
    return `  ${label.padEnd(12)} ${sparkline(values, 40)}  ${fmt(values[0])} → ${fmt(values.at(-1))} (best ${fmt(finite.reduce((a, b) => best(a, b)))})`
  }
  return [
    `  per epoch (${epochs.length} epoch${epochs.length === 1 ? '' : 's'})`,
    line('val_accuracy', series('val_accuracy'), Math.max),
    line('val_loss', series('val_loss'), Math.min),
    line('train_loss', series('train_loss'), Math.min),
  ].filter((l): l is string => l !== undefined)
}
