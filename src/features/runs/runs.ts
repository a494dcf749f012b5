import type { CommandContext } from '../../context.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { listLocalRuns } from './local-runs.js'
import { planRuns } from './plan.js'
import { differingHyperparameters } from './run-hyperparameters.js'
import { listSageMakerRuns } from './sagemaker-runs.js'
import type { RunSummary, RunsResult } from './types.js'

export interface RunsOptions {
  /** Only the N most recent runs. @default all */
  readonly last?: number
  /** `start` (newest first), `cost`, `duration`, or a metric (best first: highest accuracy, lowest loss); checked by runsSortField. @default 'start' */
  readonly sort?: string
}

/** The value a run is sorted by and whether larger is better; undefined values go last. */
function sortValue(run: RunSummary, key: string): number | undefined {
  if (key === 'start') return run.startedAt ? Date.parse(run.startedAt) : undefined
  if (key === 'cost') return run.costUsd
  if (key === 'duration') return run.durationSeconds
  return run.metrics[key]
}

const ascending = (key: string) => key === 'cost' || key.endsWith('_loss')

/** Orders runs by `key`, best (or newest) first; runs without the value keep their order at the end. */
export function sortRuns(runs: readonly RunSummary[], key: string): RunSummary[] {
  const up = ascending(key)
  return runs
    .map((run, i) => ({ run, i, v: sortValue(run, key) }))
    .sort((a, b) => {
      if (a.v === undefined || b.v === undefined) return a.v === undefined ? (b.v === undefined ? a.i - b.i : 1) : -1
      return (up ? a.v - b.v : b.v - a.v) || a.i - b.i
    })
    .map((x) => x.run)
}

/** `mlops runs`: the project's SageMaker and local runs, found by tag and by folder (never by the state file). */
export async function runRuns(ctx: CommandContext, opts: RunsOptions): Promise<Outcome<RunsResult>> {
  const cfg = await ctx.config()
  const sortedBy = opts.sort ?? 'start'
  const region = ctx.awsSettings(cfg).region
  const project = cfg.project.name
  if (ctx.dryRun)
    return planned({
      title: 'mlops runs (read-only)',
      operations: planRuns(project, region),
      notes: [`Local runs are read from ${ctx.resolvePath('.mlops/local')}.`],
    })
  const { sagemaker } = await ctx.clients(['sagemaker'], cfg)
  const spin = ctx.ui.spinner(`Looking for ${project}'s runs in ${region} and .mlops/local…`)
  let runs: RunSummary[]
  let priceNote = ''
  try {
    const [remote, local] = await Promise.all([
      listSageMakerRuns(sagemaker, {
        project,
        region,
        now: ctx.clock.now(),
        signal: ctx.signal,
        prices: async (types) => {
          const book = await ctx.prices(types, 'training', cfg)
          priceNote = book.note(types)
          return book
        },
      }),
      listLocalRuns(ctx.projectDir),
    ])
    runs = [...remote, ...local]
  } finally {
    spin.stop()
  }
  const newestFirst = sortRuns(runs, 'start')
  const kept = opts.last !== undefined ? newestFirst.slice(0, opts.last) : newestFirst
  return done({
    project,
    region,
    runs: sortRuns(kept, sortedBy),
    differingHyperparameters: differingHyperparameters(kept.filter((r) => r.kind === 'training').map((r) => r.hyperparameters)),
    sortedBy,
    total: runs.length,
    priceNote: priceNote || 'Local runs cost nothing in AWS.',
  })
}
