import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { buildReportHtml } from './report-html.js'
import { latestLocalRun, loadExtras, loadRun } from './run-data.js'

export interface ReportOptions {
  /** A local job name or a run folder. @default the newest local run */
  readonly run?: string
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
  readonly sections: { readonly evaluation: boolean; readonly loadtest: boolean; readonly audit: boolean }
}

/** `mlops report [run]`: one self-contained HTML page of a training run. */
export async function runReport(ctx: CommandContext, opts: ReportOptions): Promise<Outcome<ReportResult>> {
  if (!/\.html?$/i.test(opts.output)) {
    throw new UserError('InvalidFlag', `-o ${opts.output}: the report is an HTML file; give it a .html name.`, { hint: 'For example: -o report.html' })
  }
  const output = path.resolve(ctx.deps.cwd, opts.output)
  const name = opts.run ?? (await latestLocalRun(ctx.projectDir))
  if (!name) {
    throw new UserError('NoRun', 'No finished local run to report on (.mlops/local/<job>/output/data/metrics.json).', {
      hint: 'Train one with `mlops train --local`, or pass the folder of a run: mlops report <folder>.',
    })
  }
  const run = await loadRun(ctx.projectDir, ctx.deps.cwd, name)
  const extras = await loadExtras(ctx.projectDir, opts.audit === undefined ? undefined : path.resolve(ctx.deps.cwd, opts.audit))
  if (ctx.dryRun) {
    return planned({
      title: `mlops report ${run.name}`,
      operations: [],
      notes: [`Writes ${output} from the run's files; nothing is sent to AWS.`],
      details: { run: run.name, output },
    })
  }
  const project = (await ctx.config()).project.name
  const page = await buildReportHtml([run], extras, { generatedAt: new Date(ctx.clock.now()).toISOString(), project })
  await mkdir(path.dirname(output), { recursive: true })
  await writeFile(output, page.html)
  return done({
    runs: [run.name],
    output,
    bytes: Buffer.byteLength(page.html),
    charts: page.charts,
    sections: { evaluation: Boolean(run.evaluation), loadtest: Boolean(extras.loadtest), audit: Boolean(extras.audit) },
  })
}
