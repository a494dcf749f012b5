import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { action } from './action.js'

/** The flags `report` declares. */
export interface ReportFlags {
  readonly output: string
  readonly audit?: string
}

/**
 * `mlops report`. The file is not commands/report.ts: the audit family already has a report.ts
 * (the audit's own report), and a command's file names its one feature family.
 */
export function register(program: Command, deps: Deps): Command {
  return program
    .command('report')
    .description('write one self-contained HTML page of a training run: curves, metrics, cost, confusion matrix, worst images')
    .argument('[runs...]', 'a local job name, a run folder or a SageMaker output.tar.gz (default: the newest local run); two runs: side by side')
    .option('-o, --output <file>', 'the HTML file to write', 'report.html')
    .option('--audit <file>', 'an IAM audit to summarise, saved with `mlops audit-iam --format json > audit.json` (default: .mlops/audit.json when present)')
    .addHelpText(
      'after',
      `
The page: train and validation loss and validation accuracy per epoch; the final metrics and
hyperparameters; duration, instances and cost; the confusion matrix as a heat map (above 30 classes,
the 30 with the most errors; the full matrix stays in evaluation.json) and the most frequent
mistakes; the per-class table, worst recall first; thumbnails of the worst-classified test images;
and, when present, the last load test (.mlops/loadtest.json), the endpoint's and the Lambda's
CloudWatch series from the last \`mlops status --metrics\` (.mlops/metrics.json), and the audit summary.

One file with everything inside (no script, no network, no server): it opens from disk, can be
mailed, and prints. Charts are Vega-Lite specs rendered to SVG when the file is written.

A SageMaker run: pass its output.tar.gz (what train.py wrote to SM_OUTPUT_DATA_DIR: metrics.json,
evaluation.json), e.g. aws s3 cp s3://<bucket>/output/<job>/output/output.tar.gz <job>/output/

Examples:
  $ mlops train --local && mlops report && open report.html
  $ mlops report localtest-local-2026-11-22-10-00-00-000 -o run.html
  $ mlops report <job>/output/output.tar.gz --audit audit.json
  $ mlops report <run-a> <run-b> -o compare.html       two runs side by side (also: mlops runs compare --html)`,
    )
    .action(
      action<ReportFlags>(deps, async (ctx, flags, args) => {
        const { runReport } = await import('../features/evaluation/run-report.js')
        const { renderReport } = await import('../features/evaluation/render.js')
        const outcome = await runReport(ctx, {
          output: flags.output,
          runs: args,
          ...(flags.audit !== undefined ? { audit: flags.audit } : {}),
        })
        ctx.ui.result(outcome, renderReport)
      }),
    )
}
