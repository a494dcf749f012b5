import type { Command } from 'commander'
import { metricsSinceField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { durationOption } from './options.js'

const sinceFlag = durationOption('--since', metricsSinceField, '1h')

interface StatusFlags {
  readonly metrics?: boolean
  readonly since?: string
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('status')
    .description('what mlops has running for the project and what it costs per hour and per month')
    .option('--metrics', "the endpoint's and the Lambda's CloudWatch metrics instead, against the last loadtest and the scaling target")
    .option('--since <duration>', 'with --metrics: the window, e.g. 30m, 6h, 2d (default: 1h)')
    .addHelpText(
      'after',
      `
Finds the project's resources by tag, fixed name and .mlops/state.json: running training and tuning
jobs, endpoints (instance type, count, price), Lambda provisioned concurrency (bills while idle),
EC2 boxes (age, price), and the dataset's size in S3.

With --metrics: invocations, model and overhead latency (p50/p90/p99), 4xx/5xx, instances in
service, CPU and memory for the endpoint; invocations, errors, throttles, p99 duration and
concurrency for the Lambda; each as a sparkline over --since, and set against the p99 the last
\`mlops loadtest\` measured at target load and the scaling policy's target. Reads only
(DescribeEndpoint, the scaling policy, GetMetricData); CloudWatch bills GetMetricData per 1,000
metrics requested (about $0.0002 for one run).

Examples:
  $ mlops status
  $ mlops status --json | jq .hourlyTotal
  $ mlops status --metrics --since 6h
  $ mlops status --metrics --json | jq '.comparisons[].text'`,
    )
    .action(
      action<StatusFlags>(deps, async (ctx, flags) => {
        const sinceSeconds = sinceFlag(flags.since)
        if (flags.metrics) {
          const { runMetrics } = await import('../features/project/live-metrics.js')
          const { renderMetrics } = await import('../features/project/live-metrics-render.js')
          ctx.ui.result(await runMetrics(ctx, { sinceSeconds: sinceSeconds ?? 3600 }), renderMetrics)
          return
        }
        if (sinceSeconds !== undefined) {
          throw new UserError('ConflictingFlags', '--since only applies with --metrics.', { hint: 'Add --metrics, or leave out --since.' })
        }
        const { renderStatus, runStatus } = await import('../features/project/status.js')
        ctx.ui.result(await runStatus(ctx), renderStatus)
      }),
    )
}
