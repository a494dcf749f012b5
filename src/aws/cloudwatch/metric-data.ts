import { GetMetricDataCommand, type CloudWatchClient, type GetMetricDataCommandInput, type MetricDataQuery } from '@aws-sdk/client-cloudwatch'
import { callAws } from '../error-translation.js'

/** CloudWatch GetMetricData: several series over one window, each a list of points in time order. */

export interface MetricQuery {
  /** Lower-case letter first, then letters, digits, underscores (GetMetricData's rule for ids). */
  readonly id: string
  readonly namespace: string
  readonly metricName: string
  readonly dimensions: Readonly<Record<string, string>>
  /** Sum, Average, Maximum, p50, p99, ... */
  readonly stat: string
}

export interface MetricWindow {
  readonly startTime: Date
  readonly endTime: Date
  /** Seconds per point: a multiple of 60 (60 s data is kept 15 days, 300 s 63 days, 3600 s 455 days). */
  readonly periodSeconds: number
}

export interface MetricPoints {
  /** Epoch milliseconds, ascending. */
  readonly timestamps: readonly number[]
  readonly values: readonly number[]
}

export function metricDataInput(queries: readonly MetricQuery[], window: MetricWindow): GetMetricDataCommandInput {
  return {
    StartTime: window.startTime,
    EndTime: window.endTime,
    ScanBy: 'TimestampAscending',
    MetricDataQueries: queries.map((q): MetricDataQuery => ({
      Id: q.id,
      MetricStat: {
        Metric: {
          Namespace: q.namespace,
          MetricName: q.metricName,
          Dimensions: Object.entries(q.dimensions).map(([Name, Value]) => ({ Name, Value })),
        },
        Period: window.periodSeconds,
        Stat: q.stat,
      },
      ReturnData: true,
    })),
  }
}

/**
 * Every page of GetMetricData (NextToken), the points of each query merged and sorted by time. A
 * query with no data maps to empty lists; points CloudWatch could not compute (null) are dropped.
 */
export async function getMetricData(cw: CloudWatchClient, queries: readonly MetricQuery[], window: MetricWindow): Promise<Map<string, MetricPoints>> {
  const collected = new Map<string, { t: number; v: number }[]>(queries.map((q) => [q.id, []]))
  const input = metricDataInput(queries, window)
  let NextToken: string | undefined
  // 100 pages is far beyond what a window of at most a few hundred points per series needs; a bound keeps a faulty answer from looping.
  for (let page = 0; page < 100; page++) {
    const out = await callAws({ service: 'cloudwatch', operation: 'GetMetricData', resource: 'metrics' }, () =>
      cw.send(new GetMetricDataCommand({ ...input, ...(NextToken ? { NextToken } : {}) })),
    )
    for (const r of out.MetricDataResults ?? []) {
      const points = collected.get(r.Id ?? '')
      if (!points) continue
      const ts = r.Timestamps ?? []
      const vs = r.Values ?? []
      for (let i = 0; i < Math.min(ts.length, vs.length); i++) {
        const t = ts[i]
        const v = vs[i]
        if (t === undefined || v === undefined || v === null || !Number.isFinite(v)) continue
        points.push({ t: new Date(t).getTime(), v })
      }
    }
    NextToken = out.NextToken
    if (!NextToken) break
  }
  const result = new Map<string, MetricPoints>()
  for (const [id, points] of collected) {
    points.sort((a, b) => a.t - b.t)
    result.set(id, { timestamps: points.map((p) => p.t), values: points.map((p) => p.v) })
  }
  return result
}
