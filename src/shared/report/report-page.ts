import { accuracyChart, confusionChart, liveMetricsCharts, loadtestCharts, lossChart, renderSvg, topConfusionsChart, type ChartSpec } from './report-charts.js'
import type { ProjectExtras, RunData } from './report-data.js'

/**
 * The report page: one self-contained HTML file (styles inline, charts as inline SVG, thumbnails as
 * data URIs, no script, no link, nothing fetched), readable on screen and on paper. One run, or
 * two side by side (`buildComparisonHtml`, what `runs compare --html` calls): each section is a
 * row with one column per run.
 */

export interface ReportPage {
  readonly html: string
  /** Charts rendered (figures in the page). */
  readonly charts: number
}

export interface ReportMeta {
  /** When the page is written (ISO). */
  readonly generatedAt: string
  readonly project: string
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
const pct = (x: number | undefined) => (x === undefined ? '–' : `${(x * 100).toFixed(1)}%`)
const num = (x: number | undefined, d = 3) => (x === undefined ? '–' : x.toFixed(d))

function duration(s: number | undefined): string {
  if (s === undefined) return '–'
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`
}

async function figure(chart: ChartSpec, note = ''): Promise<string> {
  const svg = await renderSvg(chart)
  return `<figure class="chart" data-chart="${esc(chart.id)}"><figcaption>${esc(chart.title)}</figcaption>${svg}${note ? `<p class="note">${esc(note)}</p>` : ''}</figure>`
}

function table(headers: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`
}

function summary(run: RunData): string {
  const m = run.metrics
  const cost = run.costUsd === undefined ? 'unknown' : `$${run.costUsd.toFixed(2)}${run.costBasis ? ` <span class="muted">(${esc(run.costBasis)})</span>` : ''}`
  const rows: [string, string][] = [
    ['where', esc(run.where)],
    ['started', esc(run.startedAt?.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') ?? '–')],
    ['duration', esc(duration(run.durationSeconds))],
    ['instances', esc(`${run.instances} × ${run.instanceType}`)],
    ['cost', cost],
    ['epochs run', esc(m.epochs_run ?? run.history.length)],
    ['best epoch', esc(m.best_epoch ?? '–')],
    ['best validation accuracy', pct(m.best_val_accuracy)],
    ['test accuracy', pct(m.test_accuracy)],
    ['test loss', num(m.test_loss)],
  ]
  if (run.evaluation) rows.push(['top-5 accuracy (test)', pct(run.evaluation.top5_accuracy)])
  const hp = Object.entries(run.hyperparameters).sort(([a], [b]) => a.localeCompare(b))
  return `<div class="cards"><div><h3>Run</h3>${table(
    ['', ''],
    rows.map(([k, v]) => [esc(k), v]),
    'kv',
  )}</div><div><h3>Hyperparameters</h3>${
    hp.length
      ? table(
          ['name', 'value'],
          hp.map(([k, v]) => [esc(k), esc(v)]),
          'kv',
        )
      : '<p class="muted">Not recorded with this run.</p>'
  }</div></div>`
}

async function curves(run: RunData): Promise<string[]> {
  if (run.history.length === 0) return ['<p class="muted">No per-epoch history in metrics.json.</p>']
  const loss = await figure(lossChart(run.history))
  const accuracy = await figure(accuracyChart(run.history, run.metrics.test_accuracy), 'train.py records the training loss, not the training accuracy.')
  return [`<div class="figs">${loss}${accuracy}</div>`]
}

async function evaluation(run: RunData): Promise<string[]> {
  const ev = run.evaluation
  if (!ev) return ['<p class="muted">No evaluation.json: the run had no test split (or predates it). <code>mlops evaluate</code> computes one.</p>']
  const out: string[] = [`<p>${ev.images} test images: top-1 <b>${pct(ev.top1_accuracy)}</b>, top-5 <b>${pct(ev.top5_accuracy)}</b>.</p>`]
  const { chart, shown } = confusionChart(ev)
  out.push(await figure(chart, shown < ev.classes.length ? `The full ${ev.classes.length}×${ev.classes.length} matrix is in evaluation.json.` : ''))
  const top = topConfusionsChart(ev)
  out.push(top ? await figure(top) : '<p>No mistakes on the test split.</p>')
  const worstFirst = [...ev.per_class].sort((a, b) => a.recall - b.recall || a.f1 - b.f1 || a.label.localeCompare(b.label))
  out.push(
    `<details open><summary>Per class, worst recall first (${worstFirst.length})</summary>${table(
      ['class', 'recall', 'precision', 'F1', 'support'],
      worstFirst.map((c) => [esc(c.label), pct(c.recall), pct(c.precision), num(c.f1, 2), String(c.support)]),
      'per-class',
    )}</details>`,
  )
  if (ev.worst.length) {
    out.push(
      `<h3>Worst-classified test images</h3><div class="thumbs">${ev.worst
        .map(
          (w) =>
            `<figure class="thumb">${w.thumbnail ? `<img src="${esc(w.thumbnail)}" alt="${esc(w.file)}">` : '<div class="noimg">no preview</div>'}<figcaption><b>${esc(w.true)}</b><br>predicted ${esc(w.predicted)} (${pct(w.confidence)})<br><span class="muted">${esc(w.file)}</span></figcaption></figure>`,
        )
        .join('')}</div>`,
    )
  }
  return out
}

async function extrasSection(extras: ProjectExtras): Promise<string> {
  const parts: string[] = []
  if (extras.loadtest) {
    const lt = extras.loadtest
    const figs = await Promise.all(loadtestCharts(lt).map((c) => figure(c)))
    parts.push(
      `<section><h2>Last load test</h2><p class="muted">${esc(lt.target)}${lt.savedAt ? `, ${esc(lt.savedAt)}` : ''} (.mlops/loadtest.json)</p><div class="row">${figs.map((f) => `<div>${f}</div>`).join('')}</div></section>`,
    )
  }
  if (extras.liveMetrics) {
    const lm = extras.liveMetrics
    const figs = await Promise.all(liveMetricsCharts(lm).map((c) => figure(c)))
    if (figs.length)
      parts.push(
        `<section><h2>In production (CloudWatch)</h2><p class="muted">${esc(lm.since)} to ${esc(lm.until)}, from the last <code>mlops status --metrics</code> (.mlops/metrics.json)</p><div class="row">${figs.map((f) => `<div>${f}</div>`).join('')}</div></section>`,
      )
  }
  if (extras.audit) {
    const a = extras.audit
    const sev = Object.entries(a.bySeverity).map(([k, v]) => [esc(k), String(v)])
    parts.push(
      `<section><h2>IAM audit</h2><p>${a.roles} role${a.roles === 1 ? '' : 's'}, ${a.findings} finding${a.findings === 1 ? '' : 's'}${a.generatedAt ? `, ${esc(a.generatedAt)}` : ''}.</p>${table(['severity', 'findings'], sev, 'kv')}</section>`,
    )
  }
  return parts.join('')
}

/** One row per section, one column per run. */
function row(title: string, columns: readonly string[][]): string {
  return `<section><h2>${esc(title)}</h2><div class="row cols-${columns.length}">${columns.map((c) => `<div class="col">${c.join('')}</div>`).join('')}</div></section>`
}

const STYLE = `
:root{color-scheme:light}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:24px auto;max-width:1280px;padding:0 16px;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin:28px 0 12px}h3{font-size:14px;margin:12px 0 6px}
.muted{color:#666}.note{color:#666;font-size:12px;margin:2px 0 0}
.row{display:grid;gap:24px;grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}.row.cols-2{grid-template-columns:1fr 1fr}
.col>h3.run{margin-top:0}
.cards{display:grid;grid-template-columns:1fr 1fr;gap:16px}
table{border-collapse:collapse;font-size:12.5px;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f6f6}table.kv thead{display:none}table.per-class td:nth-child(n+2){text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0 0 16px}figure.chart svg{max-width:100%;height:auto}figcaption{font-weight:600;margin-bottom:4px}
.thumbs{display:grid;grid-template-columns:repeat(auto-fill,minmax(120px,1fr));gap:10px}
.figs{display:flex;flex-wrap:wrap;gap:24px}.cols-2 .figs{display:block}
.thumb figcaption span{word-break:break-all}
.thumb img{width:96px;height:96px;object-fit:cover;border:1px solid #ddd;display:block}.thumb figcaption{font-weight:400;font-size:11.5px}
.noimg{width:96px;height:96px;background:#eee}
details>summary{cursor:pointer;font-weight:600;margin:8px 0}
footer{margin-top:32px;font-size:12px;color:#666}
@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}figure,tr,.thumb{break-inside:avoid}details>summary{display:none}.row.cols-2{gap:12px}a{color:inherit}}
`

/** The report page for one run or more (columns), with the project's load test and audit below. */
export async function buildReportHtml(runs: readonly RunData[], extras: ProjectExtras, meta: ReportMeta): Promise<ReportPage> {
  const heads = runs.map((r) => [`<h3 class="run">${esc(r.name)}</h3>`])
  const sections = [
    row('Summary', await Promise.all(runs.map(async (r, i) => [...heads[i], summary(r)]))),
    row('Training curves', await Promise.all(runs.map(async (r, i) => [...heads[i], ...(await curves(r))]))),
    row('Evaluation on the test split', await Promise.all(runs.map(async (r, i) => [...heads[i], ...(await evaluation(r))]))),
    await extrasSection(extras),
  ]
  const body = sections.join('\n')
  const title = runs.length === 1 ? `Training report: ${runs[0].name}` : `Comparison: ${runs.map((r) => r.name).join(' vs ')}`
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body><header><h1>${esc(title)}</h1><p class="muted">Project ${esc(meta.project)} · written ${esc(meta.generatedAt)} by mlops report</p></header>
${body}
<footer>Charts: Vega-Lite specs compiled and rendered to SVG when this file was written (declarative charts, static SVG: no script, nothing loaded, prints sharp). Numbers: the run's metrics.json and evaluation.json.</footer>
</body></html>
`
  return { html, charts: (body.match(/<figure class="chart"/g) ?? []).length }
}

/** Two runs side by side (what `mlops runs compare --html` writes). */
export function buildComparisonHtml(a: RunData, b: RunData, extras: ProjectExtras, meta: ReportMeta): Promise<ReportPage> {
  return buildReportHtml([a, b], extras, meta)
}
