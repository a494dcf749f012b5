import { describe, expect, it } from 'vitest'
import { confusionChart, HEATMAP_CLASSES, topConfusionsChart } from '../../src/shared/report/report-charts.js'
import { buildComparisonHtml, buildReportHtml } from '../../src/shared/report/report-page.js'
import type { Evaluation, RunData } from '../../src/shared/report/report-data.js'
import { liveMetricsOf } from '../../src/features/evaluation/run-data.js'

/** A 133-class evaluation where class i is mistaken for class i+1 i%7 times (and right 10 times). */
function evaluation(n: number): Evaluation {
  const classes = Array.from({ length: n }, (_, i) => `breed ${i}`)
  const confusion = classes.map((_, i) => classes.map((__, j) => (j === i ? 10 : j === (i + 1) % n ? i % 7 : 0)))
  return {
    split: 'test',
    images: confusion.flat().reduce((a, b) => a + b, 0),
    top1_accuracy: 0.7,
    top5_accuracy: 0.9,
    classes,
    per_class: classes.map((label, i) => ({ label, index: i, precision: 0.7, recall: 10 / (10 + (i % 7)), f1: 0.7, support: 10 + (i % 7), predicted: 10 })),
    confusion,
    worst: [],
    unreadable: [],
  }
}

function run(name: string, ev?: Evaluation): RunData {
  return {
    name,
    where: 'local',
    instances: 1,
    instanceType: 'local',
    costUsd: 0,
    hyperparameters: { arch: 'resnet18', lr: '0.003' },
    metrics: { test_accuracy: 0.7, best_val_accuracy: 0.72, epochs_run: 2 },
    history: [
      { epoch: 1, train_loss: 2, val_loss: 1.5, val_accuracy: 0.5 },
      { epoch: 2, train_loss: 1, val_loss: 1.1, val_accuracy: 0.72 },
    ],
    ...(ev ? { evaluation: ev } : {}),
  }
}

describe('report charts at 133 classes', () => {
  it('the heat map keeps the 30 classes with the most errors, most first, and says so', () => {
    const { chart, shown } = confusionChart(evaluation(133))
    expect(shown).toBe(HEATMAP_CLASSES)
    expect(chart.title).toBe('Confusion matrix: the 30 of 133 classes with the most errors')
    const values = (chart.spec as { data: { values: { true: string; predicted: string }[] } }).data.values
    expect(values).toHaveLength(30 * 30)
    // Class 6 misses 6 and receives 5 (from class 5): 11 errors, the most; then 13, 20, ...
    expect(values[0].true).toBe('breed 6')
  })

  it('up to 30 classes: all of them, worst recall first', () => {
    const { chart, shown } = confusionChart(evaluation(4))
    expect(shown).toBe(4)
    const values = (chart.spec as { data: { values: { true: string }[] } }).data.values
    expect(values.map((v) => v.true).filter((_, i) => i % 4 === 0)).toEqual(['breed 3', 'breed 2', 'breed 1', 'breed 0'])
  })

  it('the top mistakes are sorted, and a perfect run has none to chart', () => {
    const top = topConfusionsChart(evaluation(133), 3)
    expect((top?.spec as { data: { values: { pair: string; count: number }[] } }).data.values.map((v) => v.count)).toEqual([6, 6, 6])
    const perfect = {
      ...evaluation(3),
      confusion: [
        [5, 0, 0],
        [0, 5, 0],
        [0, 0, 5],
      ],
    }
    expect(topConfusionsChart(perfect)).toBeUndefined()
  })
})

describe('report page', () => {
  const meta = { generatedAt: '2026-11-22T10:00:00Z', project: 'dogs' }

  it('is self-contained: inline SVG charts, no script, no link, nothing fetched', async () => {
    const page = await buildReportHtml([run('a', evaluation(133))], {}, meta)
    expect(page.charts).toBe(4)
    expect(page.html).not.toMatch(/<script|<link|src="(?!data:)|url\((?!#)/)
    expect(page.html.match(/<svg/g)?.length).toBe(4)
    expect(page.html).toContain("default-src 'none'")
  })

  it('two runs side by side: one column per run in every section', async () => {
    const page = await buildComparisonHtml(run('first', evaluation(5)), run('second'), {}, meta)
    expect(page.html).toContain('<title>Comparison: first vs second</title>')
    expect(page.html.match(/class="row cols-2"/g)).toHaveLength(3)
    expect(page.html).toContain('No evaluation.json')
  })
})

describe('the live CloudWatch series of the last status --metrics', () => {
  const saved = {
    since: '2026-12-07T09:00:00.000Z',
    until: '2026-12-07T10:00:00.000Z',
    endpoint: {
      name: 'dogs-endpoint',
      series: [
        { label: 'model latency p99', unit: 'ms', timestamps: ['2026-12-07T09:00:00.000Z', '2026-12-07T09:01:00.000Z'], values: [180, 210] },
        { label: 'invocations', unit: 'count', timestamps: [], values: [] },
        { label: 'broken', unit: 'ms', timestamps: ['2026-12-07T09:00:00.000Z'], values: ['x'] },
      ],
    },
    lambda: { name: 'dogs-invoke', series: [{ label: 'errors', unit: 'count', timestamps: ['2026-12-07T09:00:00.000Z'], values: [2] }] },
  }

  it('keeps each well-formed series with its points paired, and leaves out a malformed one', () => {
    expect(liveMetricsOf(saved)).toEqual({
      since: saved.since,
      until: saved.until,
      series: [
        {
          source: 'endpoint dogs-endpoint',
          label: 'model latency p99',
          unit: 'ms',
          points: [
            { t: '2026-12-07T09:00:00.000Z', v: 180 },
            { t: '2026-12-07T09:01:00.000Z', v: 210 },
          ],
        },
        { source: 'endpoint dogs-endpoint', label: 'invocations', unit: 'count', points: [] },
        { source: 'lambda dogs-invoke', label: 'errors', unit: 'count', points: [{ t: '2026-12-07T09:00:00.000Z', v: 2 }] },
      ],
    })
    expect(liveMetricsOf({ since: 1 })).toBeUndefined()
    expect(liveMetricsOf(undefined)).toBeUndefined()
  })

  it('the report draws one chart per series with points, in a section of its own', async () => {
    const page = await buildReportHtml([run('a')], { liveMetrics: liveMetricsOf(saved) }, { generatedAt: '2026-12-07T10:00:00Z', project: 'dogs' })
    expect(page.html).toContain('<h2>In production (CloudWatch)</h2>')
    expect([...page.html.matchAll(/data-chart="(live-\d+)"/g)].map((m) => m[1])).toEqual(['live-0', 'live-1'])
    expect(page.html).toContain('<figcaption>endpoint dogs-endpoint: model latency p99</figcaption>')
    expect(page.html).toContain('<figcaption>lambda dogs-invoke: errors</figcaption>')
  })
})
