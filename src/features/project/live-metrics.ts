import { writeFileAtomic } from '../../shared/atomic-file.js'
import path from 'node:path'
import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { resourceNames } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { METRICS_FILE, readSavedLoadtest, type SavedLoadtestFigures } from '../../shared/loadtest-file.js'
import { describeEndpoint } from '../../aws/sagemaker/endpoint-lifecycle.js'
import { describeScaling, rpsForTarget, SCALABLE_DIMENSION, SERVICE_NAMESPACE, scalingResourceId } from '../../aws/autoscaling/scaling.js'
import { getMetricData, metricDataInput, type MetricQuery, type MetricWindow } from '../../aws/cloudwatch/metric-data.js'

/**
 * `mlops status --metrics` (issue 29 item 3): how the live endpoint and the Lambda in front of it
 * behaved over `--since`, from CloudWatch, set against what `mlops loadtest` measured and the scaling
 * target. One GetMetricData call (paged) reads every series; the endpoint's variant and its current
 * instance count come from DescribeEndpoint, the target from the scaling policy.
 */

export interface MetricsOptions {
  /** The window: this many seconds back from now. @default 3600 */
  readonly sinceSeconds: number
}

export type SeriesUnit = 'count' | 'ms' | 'percent' | 'instances'

export interface MetricSeries {
  readonly id: string
  readonly label: string
  readonly unit: SeriesUnit
  /** The CloudWatch statistic per period (Sum, p99, ...), or "derived" for a series computed from two others. */
  readonly stat: string
  /** ISO times, ascending. */
  readonly timestamps: readonly string[]
  readonly values: readonly number[]
  /** Sum over the window for counts, else the highest period. Null when there are no points. */
  readonly total: number | null
  readonly peak: number | null
}

export interface Comparison {
  readonly what: string
  readonly live: number | null
  readonly reference: number
  readonly unit: SeriesUnit | 'invocations/instance/min'
  /** One sentence, e.g. "p99 210 ms (worst minute, model + overhead) vs 180 ms measured at target load". */
  readonly text: string
  /** The live figure is above the reference. */
  readonly above: boolean
}

export interface MetricsResult {
  readonly project: string
  readonly region: string
  readonly since: string
  readonly until: string
  readonly periodSeconds: number
  readonly endpoint: {
    readonly name: string
    /** False when DescribeEndpoint found none: the series are then empty. */
    readonly exists: boolean
    readonly status?: string
    readonly variant: string
    readonly currentInstanceCount?: number
    readonly series: readonly MetricSeries[]
  }
  readonly lambda: { readonly name: string; readonly series: readonly MetricSeries[] }
  /** The scaling policy's target (invocations per instance per minute), when one is attached. */
  readonly scalingTarget?: number
  /** The last `mlops loadtest` (.mlops/loadtest.json), when there is one. */
  readonly loadtest?: SavedLoadtestFigures & { readonly levelAtTarget?: SavedLoadtestFigures['levels'][number] }
  readonly comparisons: readonly Comparison[]
}

const DEFAULT_VARIANT = 'AllTraffic'
/** At most this many points per series: enough for a sparkline, one GetMetricData page for all series. */
const POINTS_PER_SERIES = 60

/**
 * Seconds per point for a window: at most {@link POINTS_PER_SERIES} points, in the steps CloudWatch
 * keeps for data that old (1-minute points for 15 days, 5-minute for 63, hourly after that).
 */
export function periodFor(sinceSeconds: number): number {
  const day = 86_400
  const step = sinceSeconds > 63 * day ? 3600 : sinceSeconds > 15 * day ? 300 : 60
  return Math.max(step, Math.ceil(sinceSeconds / POINTS_PER_SERIES / step) * step)
}

interface SeriesSpec extends MetricQuery {
  readonly label: string
  readonly unit: SeriesUnit
  /** Multiply each value (SageMaker latencies are microseconds). */
  readonly scale?: number
}

/** The endpoint's series: traffic and errors, latency percentiles, and the instances' CPU and memory. */
export function endpointSeriesSpecs(endpoint: string, variant: string): SeriesSpec[] {
  const dims = { EndpointName: endpoint, VariantName: variant }
  const sm = (id: string, metricName: string, stat: string, label: string, unit: SeriesUnit, scale?: number): SeriesSpec => ({
    id,
    namespace: 'AWS/SageMaker',
    metricName,
    dimensions: dims,
    stat,
    label,
    unit,
    ...(scale !== undefined ? { scale } : {}),
  })
  const host = (id: string, metricName: string, label: string): SeriesSpec => ({
    id,
    namespace: '/aws/sagemaker/Endpoints',
    metricName,
    dimensions: dims,
    stat: 'Average',
    label,
    unit: 'percent',
  })
  const us = 1 / 1000
  return [
    sm('invocations', 'Invocations', 'Sum', 'invocations', 'count'),
    sm('invocations_per_instance', 'InvocationsPerInstance', 'Sum', 'invocations per instance', 'count'),
    sm('model_p50', 'ModelLatency', 'p50', 'model latency p50', 'ms', us),
    sm('model_p90', 'ModelLatency', 'p90', 'model latency p90', 'ms', us),
    sm('model_p99', 'ModelLatency', 'p99', 'model latency p99', 'ms', us),
    sm('overhead_p50', 'OverheadLatency', 'p50', 'overhead latency p50', 'ms', us),
    sm('overhead_p90', 'OverheadLatency', 'p90', 'overhead latency p90', 'ms', us),
    sm('overhead_p99', 'OverheadLatency', 'p99', 'overhead latency p99', 'ms', us),
    sm('errors_4xx', 'Invocation4XXErrors', 'Sum', '4xx errors', 'count'),
    sm('errors_5xx', 'Invocation5XXErrors', 'Sum', '5xx errors', 'count'),
    host('cpu', 'CPUUtilization', 'CPU utilisation'),
    host('memory', 'MemoryUtilization', 'memory utilisation'),
  ]
}

/** The function's series (all versions and aliases together). */
export function lambdaSeriesSpecs(functionName: string): SeriesSpec[] {
  const fn = (id: string, metricName: string, stat: string, label: string, unit: SeriesUnit): SeriesSpec => ({
    id,
    namespace: 'AWS/Lambda',
    metricName,
    dimensions: { FunctionName: functionName },
    stat,
    label,
    unit,
  })
  return [
    fn('lambda_invocations', 'Invocations', 'Sum', 'invocations', 'count'),
    fn('lambda_errors', 'Errors', 'Sum', 'errors', 'count'),
    fn('lambda_throttles', 'Throttles', 'Sum', 'throttles', 'count'),
    fn('lambda_duration_p99', 'Duration', 'p99', 'duration p99', 'ms'),
    fn('lambda_concurrency', 'ConcurrentExecutions', 'Maximum', 'concurrent executions', 'count'),
  ]
}

function window(ctx: CommandContext, sinceSeconds: number): MetricWindow {
  const periodSeconds = periodFor(sinceSeconds)
  // Whole periods, aligned to the minute: CloudWatch answers aligned periods, and the last, partial one is left out.
  const end = Math.floor(ctx.clock.now() / 60_000) * 60_000
  return { startTime: new Date(end - sinceSeconds * 1000), endTime: new Date(end), periodSeconds }
}

export function planMetrics(cfg: MlopsConfig, opts: MetricsOptions, w: MetricWindow): PlannedOperation[] {
  const n = resourceNames(cfg)
  const resourceId = scalingResourceId(n.endpoint)
  return [
    { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: n.endpoint }, note: 'its variant and current instance count' },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: [resourceId], ScalableDimension: SCALABLE_DIMENSION },
    },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalingPolicies',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: resourceId, ScalableDimension: SCALABLE_DIMENSION },
      note: 'when the target is registered: the invocations-per-instance target',
    },
    {
      service: 'cloudwatch',
      operation: 'GetMetricData',
      input: metricDataInput([...endpointSeriesSpecs(n.endpoint, DEFAULT_VARIANT), ...lambdaSeriesSpecs(n.lambdaFunction)], w),
      note: `every page (NextToken); ${opts.sinceSeconds / 60} min in ${w.periodSeconds} s points; the variant is the endpoint's own`,
    },
  ]
}

export async function runMetrics(ctx: CommandContext, opts: MetricsOptions): Promise<Outcome<MetricsResult>> {
  const cfg = await ctx.config()
  const w = window(ctx, opts.sinceSeconds)
  if (ctx.dryRun) return planned({ title: 'mlops status --metrics (read-only)', operations: planMetrics(cfg, opts, w) })
  const n = resourceNames(cfg)
  const region = ctx.awsSettings(cfg).region
  const loadtest = await readSavedLoadtest(ctx.projectDir)
  const { sagemaker, autoscaling, cloudwatch } = await ctx.clients(['sagemaker', 'autoscaling', 'cloudwatch'], cfg)
  const spin = ctx.ui.spinner(`Reading CloudWatch metrics for ${n.endpoint} and ${n.lambdaFunction}…`)
  try {
    const endpoint = await describeEndpoint(sagemaker, n.endpoint)
    const variant = endpoint?.ProductionVariants?.[0]
    const variantName = variant?.VariantName ?? DEFAULT_VARIANT
    const scaling = endpoint ? await describeScaling(autoscaling, n.endpoint) : undefined
    const scalingTarget = scaling?.policies.find((p) => p.targetValue !== undefined)?.targetValue
    const endpointSpecs = endpointSeriesSpecs(n.endpoint, variantName)
    const lambdaSpecs = lambdaSeriesSpecs(n.lambdaFunction)
    const points = await getMetricData(cloudwatch, [...(endpoint ? endpointSpecs : []), ...lambdaSpecs], w)
    const toSeries = (s: SeriesSpec): MetricSeries => {
      const p = points.get(s.id) ?? { timestamps: [], values: [] }
      return seriesOf(
        s,
        p.timestamps,
        p.values.map((v) => v * (s.scale ?? 1)),
      )
    }
    const endpointSeries = endpoint ? endpointSpecs.map(toSeries) : []
    if (endpoint) endpointSeries.splice(2, 0, instanceCountSeries(endpointSeries))
    const lambdaSeries = lambdaSpecs.map(toSeries)
    const levelAtTarget = loadtest ? levelNearTarget(loadtest, scalingTarget) : undefined
    const result: MetricsResult = {
      project: cfg.project.name,
      region,
      since: w.startTime.toISOString(),
      until: w.endTime.toISOString(),
      periodSeconds: w.periodSeconds,
      endpoint: {
        name: n.endpoint,
        exists: endpoint !== undefined,
        ...(endpoint?.EndpointStatus ? { status: endpoint.EndpointStatus } : {}),
        variant: variantName,
        ...(variant?.CurrentInstanceCount !== undefined ? { currentInstanceCount: variant.CurrentInstanceCount } : {}),
        series: endpointSeries,
      },
      lambda: { name: n.lambdaFunction, series: lambdaSeries },
      ...(scalingTarget !== undefined ? { scalingTarget } : {}),
      ...(loadtest ? { loadtest: { ...loadtest, ...(levelAtTarget ? { levelAtTarget } : {}) } } : {}),
      comparisons: compare(endpointSeries, lambdaSeries, scalingTarget, loadtest, levelAtTarget, w.periodSeconds),
    }
    await saveMetrics(ctx.projectDir, result)
    return done(result)
  } finally {
    spin.stop()
  }
}

async function saveMetrics(projectDir: string, result: MetricsResult): Promise<void> {
  await writeFileAtomic(path.join(projectDir, METRICS_FILE), JSON.stringify(result, null, 2) + '\n')
}

function seriesOf(s: Pick<SeriesSpec, 'id' | 'label' | 'unit' | 'stat'>, timestamps: readonly number[], values: readonly number[]): MetricSeries {
  const rounded = values.map((v) => Math.round(v * 1000) / 1000)
  const isCount = s.unit === 'count'
  return {
    id: s.id,
    label: s.label,
    unit: s.unit,
    stat: s.stat,
    timestamps: timestamps.map((t) => new Date(t).toISOString()),
    values: rounded,
    total: rounded.length === 0 ? null : isCount ? round3(rounded.reduce((a, b) => a + b, 0)) : Math.max(...rounded),
    peak: rounded.length === 0 ? null : Math.max(...rounded),
  }
}

/**
 * Instances in service per period, derived as Invocations / InvocationsPerInstance (SageMaker
 * publishes no instance-count metric; the two agree whenever the endpoint was called in the period).
 */
function instanceCountSeries(series: readonly MetricSeries[]): MetricSeries {
  const inv = series.find((s) => s.id === 'invocations')
  const per = series.find((s) => s.id === 'invocations_per_instance')
  const byTime = new Map((per?.timestamps ?? []).map((t, i) => [t, per?.values[i] ?? 0]))
  const ts: number[] = []
  const vs: number[] = []
  inv?.timestamps.forEach((t, i) => {
    const perInstance = byTime.get(t)
    const total = inv.values[i] ?? 0
    if (perInstance && perInstance > 0 && total > 0) {
      ts.push(Date.parse(t))
      vs.push(Math.round(total / perInstance))
    }
  })
  return seriesOf({ id: 'instances', label: 'instances in service', unit: 'instances', stat: 'derived' }, ts, vs)
}

/**
 * The load test's level that ran nearest the scaling target's rate per instance (target / 60 rps),
 * "the target load"; without a scaling target, the recommendation's own target (half the highest
 * passing rate). Undefined when no level has a p99.
 */
export function levelNearTarget(lt: SavedLoadtestFigures, scalingTarget: number | undefined) {
  const target = scalingTarget ?? lt.recommendation.targetInvocationsPerInstance
  const targetRps = rpsForTarget(target)
  const usable = lt.levels.filter((l) => l.p99Ms !== null)
  if (usable.length === 0) return undefined
  return usable.reduce((best, l) => (Math.abs(l.rps - targetRps) < Math.abs(best.rps - targetRps) ? l : best))
}

function compare(
  endpoint: readonly MetricSeries[],
  lambda: readonly MetricSeries[],
  scalingTarget: number | undefined,
  lt: SavedLoadtestFigures | undefined,
  level: SavedLoadtestFigures['levels'][number] | undefined,
  periodSeconds: number,
): Comparison[] {
  const out: Comparison[] = []
  const byId = (list: readonly MetricSeries[], id: string) => list.find((s) => s.id === id)
  const fmt = (v: number) => (v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10))
  if (lt && level?.p99Ms != null && lt.target.kind !== 'local') {
    // The load test timed whole requests at the client; CloudWatch splits the server side into
    // model and overhead. Their p99s added per period bound the server's share from above.
    const source = lt.target.kind === 'lambda' ? byId(lambda, 'lambda_duration_p99') : undefined
    const model = byId(endpoint, 'model_p99')
    const overhead = byId(endpoint, 'overhead_p99')
    let live: number | null = null
    let how = ''
    if (source) {
      live = source.peak
      how = 'Lambda duration, worst period'
    } else if (model && overhead) {
      const overheadAt = new Map(overhead.timestamps.map((t, i) => [t, overhead.values[i] ?? 0]))
      const sums = model.timestamps.map((t, i) => (model.values[i] ?? 0) + (overheadAt.get(t) ?? 0))
      live = sums.length ? Math.max(...sums) : null
      how = 'model + overhead, worst period'
    }
    const reference = level.p99Ms
    out.push({
      what: 'p99 latency',
      live,
      reference,
      unit: 'ms',
      above: live !== null && live > reference,
      text:
        live === null
          ? `p99: no requests in the window vs ${fmt(reference)} ms measured at target load (${fmt(level.rps)} rps, concurrency ${level.concurrency}, loadtest of ${lt.savedAt.slice(0, 10)})`
          : `p99 ${fmt(live)} ms (${how}) vs ${fmt(reference)} ms measured at target load (${fmt(level.rps)} rps, concurrency ${level.concurrency}, loadtest of ${lt.savedAt.slice(0, 10)})`,
    })
  }
  const perInstance = byId(endpoint, 'invocations_per_instance')
  if (scalingTarget !== undefined && perInstance) {
    // The policy tracks invocations per instance per minute; a longer period sums several minutes.
    const perMinute = perInstance.peak === null ? null : perInstance.peak / (periodSeconds / 60)
    out.push({
      what: 'invocations per instance',
      live: perMinute === null ? null : round3(perMinute),
      reference: scalingTarget,
      unit: 'invocations/instance/min',
      above: perMinute !== null && perMinute > scalingTarget,
      text:
        perMinute === null
          ? `no invocations in the window; the scaling target is ${fmt(scalingTarget)} per instance per minute`
          : `peak ${fmt(perMinute)} invocations per instance per minute vs the scaling target of ${fmt(scalingTarget)}${perMinute > scalingTarget ? ' (above it: scaling out, or at max capacity)' : ''}`,
    })
  }
  return out
}

const round3 = (v: number) => Math.round(v * 1000) / 1000
