import { existsSync } from 'node:fs'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import type { AwsClients } from '../../aws/clients.js'
import { filterLogEvents } from '../../aws/logs/filter-log-events.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { listTags } from '../../aws/sagemaker/project-resources.js'
import { describeTrainingJobIfExists } from '../../aws/sagemaker/run-history.js'
import { UserError } from '../../shared/errors.js'
import { parseMetricLine } from '../../shared/metrics.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { TABLE_PRICES, type PriceBook } from '../../shared/pricing.js'
import { localEpochs, localEvaluation, localRunsDir, readLocalRun } from './local-runs.js'
import { planCompareRun } from './plan.js'
import { differingHyperparameters } from './run-hyperparameters.js'
import { trainingRun } from './sagemaker-runs.js'
import { isProjectResource } from '../../shared/project-ownership.js'
import type { ClassAccuracy, ComparedRun, EpochMetrics, RunComparison } from './types.js'
import { buildComparisonHtml } from '../../shared/report/report-page.js'
import { writeFileAtomic } from '../../shared/atomic-file.js'
import { comparedRunPage } from './compare-page.js'

export interface RunsCompareOptions {
  readonly a: string
  readonly b: string
  /** --html: also write the report page of both runs side by side to this file. */
  readonly html?: string
}

/** `--html <file>`: an .html name, resolved from the working folder. */
function htmlFile(cwd: string, given: string): string {
  if (!/\.html?$/i.test(given)) {
    throw new UserError('InvalidFlag', `--html ${given}: the page is an HTML file; give it a .html name.`, { hint: 'For example: --html compare.html' })
  }
  return path.resolve(cwd, given)
}

/** Where a named run lives: a folder under .mlops/local/, else a SageMaker training job. */
function localFolder(projectDir: string, name: string): string | undefined {
  const folder = path.join(localRunsDir(projectDir), name)
  return name && !name.includes('/') && !name.includes('\\') && existsSync(path.join(folder, 'input', 'config')) ? folder : undefined
}

/**
 * The epochs of a SageMaker job from its CloudWatch metric lines (`epoch=N … val_accuracy=…`, the
 * lines the tuner's regexes read): FinalMetricDataList keeps only the last value of each metric.
 * Only the job's own streams (`<job>/algo-1-…`); the leader prints the lines.
 */
export function epochsFromLines(lines: readonly { stream: string; message: string }[], job: string): EpochMetrics[] {
  const byEpoch = new Map<number, Record<string, number>>()
  for (const l of lines) {
    if (!l.stream.startsWith(`${job}/`)) continue
    const m = parseMetricLine(l.message)
    if (m?.epoch === undefined) continue
    byEpoch.set(m.epoch, { ...byEpoch.get(m.epoch), ...(m as Record<string, number>) })
  }
  return [...byEpoch.entries()].sort((x, y) => x[0] - y[0]).map(([, v]) => v)
}

async function compareLocal(folder: string): Promise<ComparedRun> {
  const run = await readLocalRun(folder)
  if (!run) throw new Error(`internal: ${folder} is not a run folder`)
  const epochs = await localEpochs(folder)
  const evaluation = await localEvaluation(folder)
  return {
    run,
    epochs,
    epochsSource: epochs.length ? 'metrics.json' : 'none',
    ...(evaluation ? { perClass: evaluation.perClass, evaluationFile: evaluation.file } : {}),
  }
}

async function compareSageMaker(
  clients: Pick<AwsClients, 'sagemaker' | 'logs'>,
  name: string,
  project: string,
  region: string,
  prices: (type: string) => Promise<PriceBook>,
  now: number,
): Promise<ComparedRun> {
  const job = await describeTrainingJobIfExists(clients.sagemaker, name)
  if (!job)
    throw new UserError('RunNotFound', `No run named ${name}: no folder .mlops/local/${name} and no SageMaker training job of that name.`, {
      hint: 'List the runs with `mlops runs` and pass two of their names.',
    })
  if (
    !isProjectResource(project, { name, tags: job.TrainingJobArn ? await listTags(clients.sagemaker, job.TrainingJobArn) : [] }, [
      'training-job',
      'tuning-child',
    ])
  )
    throw new UserError('RunNotInProject', `${name} is not a run of project ${project} (its name or its mlops:project tag says otherwise).`, {
      hint: 'Compare runs of this project (`mlops runs`), or pass --config for the other project.',
    })
  const book = job.ResourceConfig?.InstanceType ? await prices(String(job.ResourceConfig.InstanceType)) : TABLE_PRICES
  const run = trainingRun(job, region, book, now)
  const startTime = job.CreationTime?.getTime() ?? 0
  const found = await filterLogEvents(clients.logs, {
    logGroupName: TRAINING_LOG_GROUP,
    startTime,
    logStreamNamePrefix: `${name}/`,
    filterPattern: '"val_accuracy="',
  })
  const epochs = epochsFromLines(found?.events ?? [], name)
  // Per-class accuracy travels in the job's output.tar.gz; reading it back from S3 is `mlops report`'s work.
  return { run, epochs, epochsSource: epochs.length ? 'cloudwatch-logs' : 'none' }
}

const round = (n: number) => Math.round(n * 1e6) / 1e6

/** What differs between two runs: hyperparameters, final metrics, per-class accuracy, cost. */
export function compareRuns(a: ComparedRun, b: ComparedRun, priceNote: string): RunComparison {
  const hpA = a.run.hyperparameters
  const hpB = b.run.hyperparameters
  const hyperparameters = differingHyperparameters([hpA, hpB]).map((name) => ({
    name,
    ...(name in hpA ? { a: hpA[name] } : {}),
    ...(name in hpB ? { b: hpB[name] } : {}),
  }))
  const metricNames = [...new Set([...Object.keys(a.run.metrics), ...Object.keys(b.run.metrics)])].sort()
  const metrics = metricNames.map((name) => {
    const va = a.run.metrics[name]
    const vb = b.run.metrics[name]
    return {
      name,
      ...(va !== undefined ? { a: va } : {}),
      ...(vb !== undefined ? { b: vb } : {}),
      ...(va !== undefined && vb !== undefined ? { delta: round(vb - va) } : {}),
    }
  })
  const perClass = a.perClass && b.perClass ? classDeltas(a.perClass, b.perClass) : []
  const ca = a.run.costUsd
  const cb = b.run.costUsd
  return {
    a,
    b,
    hyperparameters,
    metrics,
    perClass,
    cost: {
      ...(ca !== undefined ? { a: ca } : {}),
      ...(cb !== undefined ? { b: cb } : {}),
      ...(ca !== undefined && cb !== undefined ? { delta: round(cb - ca) } : {}),
    },
    priceNote,
  }
}

/** Classes in both evaluations, largest change first. */
function classDeltas(a: readonly ClassAccuracy[], b: readonly ClassAccuracy[]) {
  const inB = new Map(b.map((c) => [c.class, c.accuracy]))
  return a
    .filter((c) => inB.has(c.class))
    .map((c) => ({ name: c.class, a: c.accuracy, b: inB.get(c.class)!, delta: round(inB.get(c.class)! - c.accuracy) }))
    .sort((x, y) => Math.abs(y.delta) - Math.abs(x.delta) || x.name.localeCompare(y.name))
}

/** `mlops runs compare <a> <b>`: two runs (local folders or SageMaker jobs of the project), side by side. */
export async function runRunsCompare(ctx: CommandContext, opts: RunsCompareOptions): Promise<Outcome<RunComparison>> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const folders = { a: localFolder(ctx.projectDir, opts.a), b: localFolder(ctx.projectDir, opts.b) }
  const html = opts.html === undefined ? undefined : htmlFile(ctx.deps.cwd, opts.html)
  if (ctx.dryRun) {
    const start = ctx.clock.now() - 90 * 86_400_000
    return planned({
      title: `mlops runs compare ${opts.a} ${opts.b} (read-only)`,
      operations: [...(folders.a ? [] : planCompareRun(opts.a, start)), ...(folders.b ? [] : planCompareRun(opts.b, start))],
      notes: [
        ...(folders.a ? [`${opts.a}: local run in ${folders.a}`] : []),
        ...(folders.b ? [`${opts.b}: local run in ${folders.b}`] : []),
        'The log read starts at the job’s creation time (shown here as 90 days ago).',
        ...(html ? [`Writes ${html}: both runs side by side, as mlops report draws one.`] : []),
      ],
    })
  }
  const needAws = !folders.a || !folders.b
  const clients = needAws ? await ctx.clients(['sagemaker', 'logs'], cfg) : undefined
  const notes = new Set<string>()
  const prices = async (type: string) => {
    const book = await ctx.prices([type], 'training', cfg)
    notes.add(book.note([type]))
    return book
  }
  const one = (name: string, folder: string | undefined) =>
    folder ? compareLocal(folder) : compareSageMaker(clients!, name, cfg.project.name, region, prices, ctx.clock.now())
  const [a, b] = await Promise.all([one(opts.a, folders.a), one(opts.b, folders.b)])
  const comparison = compareRuns(a, b, [...notes].join(' ') || 'Local runs cost nothing in AWS.')
  if (!html) return done(comparison)
  const page = await buildComparisonHtml(
    await comparedRunPage(a),
    await comparedRunPage(b),
    {},
    {
      generatedAt: new Date(ctx.clock.now()).toISOString(),
      project: cfg.project.name,
    },
  )
  await writeFileAtomic(html, page.html)
  return done({ ...comparison, html: { file: html, charts: page.charts } })
}
