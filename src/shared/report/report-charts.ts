import type { TopLevelSpec } from 'vega-lite'
import type { EpochMetrics, Evaluation, ProjectExtras } from './report-data.js'

/**
 * The report's charts as Vega-Lite specs, compiled to Vega and rendered to SVG in Node when the
 * report is written (`new vega.View(spec, { renderer: 'none' }).toSVG()`), then inlined.
 *
 * Why Vega-Lite: a chart is a short declarative spec (data, mark, encodings) rather than drawing
 * code, and Vega renders it to static SVG on the server with no DOM, no canvas and no browser, so
 * the page needs no script, loads nothing, opens from disk and prints sharp. Chart.js needs a
 * canvas (a native module in Node), D3 a DOM (jsdom) and hand-drawn paths, Plotly's static export
 * a headless browser (Kaleido).
 */

/** A chart: its title (the figure caption) and the spec. */
export interface ChartSpec {
  readonly id: string
  readonly title: string
  readonly spec: TopLevelSpec
}

const WIDTH = 380
const HEIGHT = 200
const FONT = 'system-ui, -apple-system, Segoe UI, Roboto, sans-serif'
const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { font: FONT, view: { stroke: null } }, background: 'white' } as const

/** Train and validation loss per epoch. */
export function lossChart(history: readonly EpochMetrics[]): ChartSpec {
  const values = history.flatMap((h) => [
    { epoch: h.epoch, series: 'train loss', value: h.train_loss },
    { epoch: h.epoch, series: 'validation loss', value: h.val_loss },
  ])
  return {
    id: 'loss',
    title: 'Loss per epoch',
    spec: {
      ...base,
      width: WIDTH,
      height: HEIGHT,
      data: { values },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, title: 'epoch' },
        // Log scale: the first epochs' loss can be 100x the last, which flattens a linear axis.
        y: { field: 'value', type: 'quantitative', title: 'cross-entropy loss (log scale)', scale: { type: 'log' }, axis: { tickCount: 5, grid: false } },
        color: { field: 'series', type: 'nominal', title: null, scale: { range: ['#4c78a8', '#f58518'] }, legend: { orient: 'top', labelLimit: 300 } },
      },
    },
  }
}

/** Validation accuracy per epoch, with the final test accuracy as a rule when there is one. */
export function accuracyChart(history: readonly EpochMetrics[], testAccuracy?: number): ChartSpec {
  const line = {
    data: { values: history.map((h) => ({ epoch: h.epoch, accuracy: h.val_accuracy, series: 'validation accuracy' })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1, format: 'd' }, title: 'epoch' },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: { format: '%' }, title: 'accuracy' },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: ['validation accuracy', 'test accuracy (best epoch)'], range: ['#54a24b', '#e45756'] },
        legend: { orient: 'top', labelLimit: 300 },
      },
    },
  }
  const rule = {
    data: { values: [{ accuracy: testAccuracy, series: 'test accuracy (best epoch)' }] },
    mark: { type: 'rule', strokeDash: [4, 3], strokeWidth: 2 },
    encoding: { y: { field: 'accuracy', type: 'quantitative' }, color: { field: 'series', type: 'nominal' } },
  }
  return {
    id: 'accuracy',
    title: 'Accuracy per epoch',
    spec: { ...base, width: WIDTH, height: HEIGHT, layer: testAccuracy === undefined ? [line] : [line, rule] } as TopLevelSpec,
  }
}

/** At most this many classes in the heat map: 133 rows of 4 px would say nothing. */
export const HEATMAP_CLASSES = 30

/**
 * The confusion matrix as a heat map. Up to 30 classes: all of them, worst recall first; more: the
 * 30 classes with the most errors (missed plus wrongly predicted), in that order. Rows are the true
 * class, columns the predicted one; each row is a share of that class's images.
 */
export function confusionChart(ev: Evaluation): { chart: ChartSpec; shown: number } {
  const n = ev.classes.length
  const errors = ev.classes.map((_, i) => {
    const row = ev.confusion[i] ?? []
    const missed = row.reduce((s, v, j) => s + (j === i ? 0 : v), 0)
    const wrong = ev.confusion.reduce((s, r, j) => s + (j === i ? 0 : (r[i] ?? 0)), 0)
    return { i, errors: missed + wrong, recall: ev.per_class[i]?.recall ?? 0 }
  })
  const order =
    n <= HEATMAP_CLASSES
      ? [...errors].sort((a, b) => a.recall - b.recall || a.i - b.i)
      : [...errors].sort((a, b) => b.errors - a.errors || a.i - b.i).slice(0, HEATMAP_CLASSES)
  const labels = order.map((o) => ev.classes[o.i])
  const values = order.flatMap((t) =>
    order.map((p) => {
      const count = ev.confusion[t.i]?.[p.i] ?? 0
      const support = ev.per_class[t.i]?.support ?? 0
      return { true: ev.classes[t.i], predicted: ev.classes[p.i], count, share: support ? count / support : 0 }
    }),
  )
  const cell = Math.max(12, Math.min(36, Math.floor(520 / labels.length)))
  const layers: unknown[] = [
    {
      mark: { type: 'rect', stroke: '#eee', strokeWidth: 0.5 },
      encoding: {
        color: {
          field: 'share',
          type: 'quantitative',
          title: 'share of the true class',
          scale: { range: ['#ffffff', '#08519c'], interpolate: 'rgb', domain: [0, 1] },
          legend: { format: '%', orient: 'right', titleLimit: 300 },
        },
        tooltip: [{ field: 'true' }, { field: 'predicted' }, { field: 'count' }],
      },
    },
  ]
  if (labels.length <= 15) {
    layers.push({
      mark: { type: 'text', fontSize: 10 },
      encoding: {
        text: { field: 'count', type: 'quantitative' },
        color: { condition: { test: 'datum.share > 0.5', value: 'white' }, value: '#333' },
        opacity: { condition: { test: 'datum.count > 0', value: 1 }, value: 0 },
      },
    })
  }
  return {
    shown: labels.length,
    chart: {
      id: 'confusion',
      title:
        n <= HEATMAP_CLASSES
          ? `Confusion matrix (${n} classes, worst recall first)`
          : `Confusion matrix: the ${labels.length} of ${n} classes with the most errors`,
      spec: {
        ...base,
        width: cell * labels.length,
        height: cell * labels.length,
        data: { values },
        encoding: {
          x: { field: 'predicted', type: 'nominal', sort: labels, title: 'predicted class', axis: { labelAngle: -60, labelLimit: 120 } },
          y: { field: 'true', type: 'nominal', sort: labels, title: 'true class', axis: { labelLimit: 140 } },
        },
        layer: layers,
      } as TopLevelSpec,
    },
  }
}

/** The most frequent mistakes (true -> predicted), most first; undefined when there are none. */
export function topConfusionsChart(ev: Evaluation, limit = 15): ChartSpec | undefined {
  const pairs = ev.confusion
    .flatMap((row, t) => row.map((count, p) => ({ pair: `${ev.classes[t]} → ${ev.classes[p]}`, count, t, p })))
    .filter((x) => x.t !== x.p && x.count > 0)
  pairs.sort((a, b) => b.count - a.count || a.pair.localeCompare(b.pair))
  const top = pairs.slice(0, limit)
  if (top.length === 0) return undefined
  return {
    id: 'top-confusions',
    title: `Most frequent mistakes (true → predicted), top ${top.length}`,
    spec: {
      ...base,
      width: WIDTH,
      height: { step: 16 },
      data: { values: top },
      mark: { type: 'bar', color: '#e45756' },
      encoding: {
        y: { field: 'pair', type: 'nominal', sort: '-x', title: null, axis: { labelLimit: 260 } },
        x: { field: 'count', type: 'quantitative', title: 'test images', axis: { tickMinStep: 1, format: 'd' } },
      },
    } as TopLevelSpec,
  }
}

/** Latency percentiles by concurrency, and throughput by concurrency, from the last loadtest. */
export function loadtestCharts(lt: NonNullable<ProjectExtras['loadtest']>): ChartSpec[] {
  const latency = lt.levels.flatMap((l) =>
    (
      [
        ['p50', l.p50Ms],
        ['p95', l.p95Ms],
        ['p99', l.p99Ms],
      ] as const
    )
      .filter(([, v]) => v !== null)
      .map(([q, v]) => ({ concurrency: l.concurrency, percentile: q, ms: v })),
  )
  const x = { field: 'concurrency', type: 'ordinal', title: 'concurrent requests', axis: { labelAngle: 0 } } as const
  return [
    {
      id: 'loadtest-latency',
      title: 'Latency by concurrency',
      spec: {
        ...base,
        width: WIDTH,
        height: HEIGHT,
        data: { values: latency },
        mark: { type: 'line', point: true },
        encoding: {
          x,
          y: { field: 'ms', type: 'quantitative', title: 'latency (ms)' },
          color: { field: 'percentile', type: 'nominal', title: null, legend: { orient: 'top' } },
        },
      } as TopLevelSpec,
    },
    {
      id: 'loadtest-throughput',
      title: 'Throughput by concurrency',
      spec: {
        ...base,
        width: WIDTH,
        height: HEIGHT,
        data: { values: lt.levels.map((l) => ({ concurrency: l.concurrency, rps: l.rps })) },
        mark: { type: 'bar', color: '#4c78a8' },
        encoding: { x, y: { field: 'rps', type: 'quantitative', title: 'requests per second' } },
      } as TopLevelSpec,
    },
  ]
}

/**
 * The live CloudWatch series of the last `status --metrics`, one small line chart each (series with no
 * point are left out): what the endpoint and the Lambda did in production, beside what the load test measured.
 */
export function liveMetricsCharts(lm: NonNullable<ProjectExtras['liveMetrics']>): ChartSpec[] {
  return lm.series
    .filter((s) => s.points.length > 0)
    .map((s, i) => ({
      id: `live-${i}`,
      title: `${s.source}: ${s.label}`,
      spec: {
        ...base,
        width: WIDTH,
        height: 140,
        data: { values: s.points.map((p) => ({ time: p.t, value: p.v })) },
        mark: { type: 'line', point: s.points.length < 3, color: '#4c78a8' },
        encoding: {
          x: { field: 'time', type: 'temporal', title: null },
          y: { field: 'value', type: 'quantitative', title: s.unit },
        },
      } as TopLevelSpec,
    }))
}

/** Compiles Vega-Lite to Vega and renders static SVG in Node (no DOM, no canvas, no network). */
export async function renderSvg(chart: ChartSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')])
  const view = new vega.View(vega.parse(vegaLite.compile(chart.spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}
