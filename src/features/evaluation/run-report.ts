import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { buildReportHtml } from '../../shared/report/report-page.js'
import { latestLocalRun, loadExtras, loadRun } from './run-data.js'

export interface ReportOptions {
  /** Local job names, run folders or output.tar.gz files: one, or two side by side. @default the newest local run */
  readonly runs: readonly string[]
  /** -o. @default report.html */
  readonly output: string
  /** A saved `mlops audit-iam --format json`. @default .mlops/audit.json when present */
  readonly audit?: string
}

export interface ReportResult {
  readonly runs: readonly string[]
  readonly output: string
  readonly bytes: number
  readonly charts: number
  readonly sections: { readonly evaluation: boolean; readonly loadtest: boolean; readonly liveMetrics: boolean; readonly audit: boolean }
}

/** `mlops report [run]`: one self-contained HTML page of a training run. */
export async function runReport(ctx: CommandContext, opts: ReportOptions): Promise<Outcome<ReportResult>> {
  if (!/\.html?$/i.test(opts.output)) {
    throw new UserError('InvalidFlag', `-o ${opts.output}: the report is an HTML file; give it a .html name.`, { hint: 'For example: -o report.html' })
  }
  const output = path.resolve(ctx.deps.cwd, opts.output)
  if (opts.runs.length > 2) {
    throw new UserError('InvalidArgument', `[runs] ${opts.runs.length} runs given: a report shows one run, or two side by side.`, {
      hint: 'Pass one run, or two to compare them (mlops report <a> <b>).',
    })
  }
  const latest = opts.runs.length ? undefined : await latestLocalRun(ctx.projectDir)
  const names = opts.runs.length ? opts.runs : latest ? [latest] : []
  if (!names.length) {
    throw new UserError('NoRun', 'No finished local run to report on (.mlops/local/<job>/output/data/metrics.json).', {
      hint: 'Train one with `mlops train --local`, or pass the folder of a run: mlops report <folder>.',
    })
  }
  const runs = await Promise.all(names.map((name) => loadRun(ctx.projectDir, ctx.deps.cwd, name)))
  const extras = await loadExtras(ctx.projectDir, opts.audit === undefined ? undefined : path.resolve(ctx.deps.cwd, opts.audit))
  if (ctx.dryRun) {
    return planned({
      title: `mlops report ${runs.map((r) => r.name).join(' ')}`,
      operations: [],
      notes: [`Writes ${output} from the run's files; nothing is sent to AWS.`],
      details: { runs: runs.map((r) => r.name), output },
    })
  }
  const project = (await ctx.config()).project.name
  const page = await buildReportHtml(runs, extras, { generatedAt: new Date(ctx.clock.now()).toISOString(), project })
  await mkdir(path.dirname(output), { recursive: true })
  await writeFile(output, page.html)
  return done({
    runs: runs.map((r) => r.name),
    output,
    bytes: Buffer.byteLength(page.html),
    charts: page.charts,
    sections: {
      evaluation: runs.some((r) => r.evaluation),
      loadtest: Boolean(extras.loadtest),
      liveMetrics: Boolean(extras.liveMetrics),
      audit: Boolean(extras.audit),
    },
  })
}
