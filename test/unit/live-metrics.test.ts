import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling'
import { CloudWatchClient, GetMetricDataCommand, type GetMetricDataCommandInput, type MetricDataResult } from '@aws-sdk/client-cloudwatch'
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { levelNearTarget, periodFor } from '../../src/features/project/live-metrics.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * `mlops status --metrics` on fakes: what moto cannot answer (percentile statistics, a second page
 * of GetMetricData), the latency comparison with the last load test, and the flags' errors.
 */

const sm = sdkMock(SageMakerClient)
const as = sdkMock(ApplicationAutoScalingClient)
const cw = sdkMock(CloudWatchClient)
const NOW = Date.parse('2026-11-22T10:00:00Z')
const t = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000)

const LOADTEST = {
  savedAt: '2026-11-20T09:00:00.000Z',
  target: { kind: 'endpoint', name: 'dogs-endpoint' },
  levels: [
    { concurrency: 1, requests: 100, errors: {}, rps: 4.1, p50Ms: 120, p95Ms: 150, p99Ms: 160 },
    { concurrency: 4, requests: 300, errors: {}, rps: 9.2, p50Ms: 140, p95Ms: 170, p99Ms: 180 },
    { concurrency: 8, requests: 400, errors: { '500': 2 }, rps: 14.8, p50Ms: 260, p95Ms: 400, p99Ms: 520 },
  ],
  recommendation: { maxRps: 18.4, targetInvocationsPerInstance: 552, lambdaReservedConcurrency: 6, lambdaProvisionedConcurrency: 1, reasoning: [] },
  settings: {},
}

beforeEach(() => {
  sm.on(DescribeEndpointCommand).resolves({
    EndpointName: 'dogs-endpoint',
    EndpointStatus: 'InService',
    ProductionVariants: [{ VariantName: 'blue', CurrentInstanceCount: 3 }],
  } as never)
  as.on(DescribeScalableTargetsCommand).resolves({
    ScalableTargets: [{ ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic', MinCapacity: 1, MaxCapacity: 4 }],
  } as never)
  as.on(DescribeScalingPoliciesCommand).resolves({
    ScalingPolicies: [
      { PolicyName: 'dogs-invocations-target', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: { TargetValue: 540 } },
    ],
  } as never)
  // Two pages, as CloudWatch splits a large answer: latencies (microseconds) on the first, the rest on the second.
  const page1: MetricDataResult[] = [
    { Id: 'model_p99', Timestamps: [t(2), t(3)], Values: [150_000, 110_000] },
    { Id: 'overhead_p99', Timestamps: [t(3), t(2)], Values: [9_000, 60_000] },
    { Id: 'model_p50', Timestamps: [t(3)], Values: [80_000] },
  ]
  const page2: MetricDataResult[] = [
    { Id: 'invocations', Timestamps: [t(3), t(2)], Values: [900, 1200] },
    { Id: 'invocations_per_instance', Timestamps: [t(3), t(2)], Values: [300, 400] },
    { Id: 'lambda_duration_p99', Timestamps: [t(2)], Values: [233.4] },
  ]
  cw.on(GetMetricDataCommand).resolvesOnce({ MetricDataResults: page1, NextToken: 'page-2' }).resolves({ MetricDataResults: page2 })
})

async function project(loadtest?: object): Promise<string> {
  return tempProject(minimalConfig(), loadtest ? { '.mlops/loadtest.json': JSON.stringify(loadtest) } : {})
}

describe('status --metrics on fakes', () => {
  it('reads every page, converts SageMaker latencies to ms and compares p99 with the load test at target load', async () => {
    const dir = await project(LOADTEST)
    const run = await runMlops(['status', '--metrics', '--json'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(NOW) })
    expect(run.code, run.stderr).toBe(0)
    const doc = JSON.parse(run.stdout)
    // Kept for \`mlops report\`, which charts it offline.
    expect(JSON.parse(await readFile(path.join(dir, '.mlops/metrics.json'), 'utf8'))).toEqual(doc)
    const calls = cw.commandCalls(GetMetricDataCommand)
    expect(calls).toHaveLength(2)
    const first = calls[0]!.args[0].input as GetMetricDataCommandInput
    expect(calls[1]!.args[0].input).toMatchObject({ NextToken: 'page-2' })
    expect(first.StartTime).toEqual(new Date(NOW - 3_600_000))
    expect(first.EndTime).toEqual(new Date(NOW))
    // The variant is the endpoint's own, not the default name.
    expect(first.MetricDataQueries?.find((q) => q.Id === 'model_p99')).toEqual({
      Id: 'model_p99',
      MetricStat: {
        Metric: {
          Namespace: 'AWS/SageMaker',
          MetricName: 'ModelLatency',
          Dimensions: [
            { Name: 'EndpointName', Value: 'dogs-endpoint' },
            { Name: 'VariantName', Value: 'blue' },
          ],
        },
        Period: 60,
        Stat: 'p99',
      },
      ReturnData: true,
    })
    expect(first.MetricDataQueries?.map((q) => q.Id)).toEqual([
      'invocations',
      'invocations_per_instance',
      'model_p50',
      'model_p90',
      'model_p99',
      'overhead_p50',
      'overhead_p90',
      'overhead_p99',
      'errors_4xx',
      'errors_5xx',
      'cpu',
      'memory',
      'lambda_invocations',
      'lambda_errors',
      'lambda_throttles',
      'lambda_duration_p99',
      'lambda_concurrency',
    ])
    const byId = (id: string) => doc.endpoint.series.find((s: { id: string }) => s.id === id)
    expect(byId('model_p99')).toMatchObject({ unit: 'ms', values: [110, 150], peak: 150 })
    expect(byId('overhead_p99').values).toEqual([9, 60])
    expect(byId('instances').values).toEqual([3, 3])
    expect(doc.endpoint).toMatchObject({ variant: 'blue', currentInstanceCount: 3 })
    // Target 540/min = 9 rps per instance: the concurrency-4 level (9.2 rps) is "the target load".
    expect(doc.loadtest.levelAtTarget).toMatchObject({ concurrency: 4, p99Ms: 180 })
    expect(doc.comparisons).toEqual([
      {
        what: 'p99 latency',
        live: 210,
        reference: 180,
        unit: 'ms',
        above: true,
        text: 'p99 210 ms (model + overhead, worst period) vs 180 ms measured at target load (9.2 rps, concurrency 4, loadtest of 2026-11-20)',
      },
      {
        what: 'invocations per instance',
        live: 400,
        reference: 540,
        unit: 'invocations/instance/min',
        above: false,
        text: 'peak 400 invocations per instance per minute vs the scaling target of 540',
      },
    ])
  })

  it('the human output has a sparkline per series and the comparisons', async () => {
    const dir = await project(LOADTEST)
    const run = await runMlops(['status', '--metrics'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(NOW) })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/model latency p99\s+150 ms last\s+150 ms peak\s+▁█/)
    expect(run.stdout).toMatch(/invocations\s+2100 total\s+1200 peak\s+▁█/)
    expect(run.stdout).toMatch(/duration p99\s+233 ms last/)
    expect(run.stdout).toContain('▲ p99 210 ms (model + overhead, worst period) vs 180 ms measured at target load')
  })

  it('a file that is not a load test is a named error, not a crash', async () => {
    const dir = await project({ savedAt: 'x', levels: 'nope' })
    const run = await runMlops(['status', '--metrics'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(NOW) })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/loadtest\.json is not a load test result mlops wrote \(target\)/)
  })

  it('--since is checked before any AWS call, and only applies with --metrics', async () => {
    const dir = await project()
    const short = await runMlops(['status', '--metrics', '--since', '1m'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(short.code).toBe(2)
    expect(short.stderr).toContain('--since: must be at least 5m')
    const alone = await runMlops(['status', '--since', '1h'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(alone.code).toBe(2)
    expect(alone.stderr).toContain('--since only applies with --metrics.')
  })

  it('--dry-run lists the reads and sends nothing', async () => {
    const dir = await project()
    const run = await runMlops(['status', '--metrics', '--since', '6h', '--dry-run', '--json'], { cwd: dir, awsFactory: noAwsFactory(), clock: fastClock(NOW) })
    expect(run.code, run.stderr).toBe(0)
    const doc = JSON.parse(run.stdout)
    expect(doc.operations.map((o: { operation: string }) => o.operation)).toEqual([
      'DescribeEndpoint',
      'DescribeScalableTargets',
      'DescribeScalingPolicies',
      'GetMetricData',
    ])
    expect(doc.operations[3].input.MetricDataQueries[0].MetricStat.Period).toBe(360)
  })
})

describe('the window and the target load', () => {
  it('keeps at most 60 points in the steps CloudWatch stores', () => {
    expect(periodFor(3600)).toBe(60)
    expect(periodFor(6 * 3600)).toBe(360)
    expect(periodFor(16 * 86_400)).toBe(23_100)
    expect(periodFor(16 * 86_400) % 300).toBe(0)
    expect(periodFor(100 * 86_400) % 3600).toBe(0)
  })
  it('picks the level nearest the scaling target rate, else the recommendation target', () => {
    expect(levelNearTarget(LOADTEST, 540)?.concurrency).toBe(4)
    expect(levelNearTarget(LOADTEST, 900)?.concurrency).toBe(8)
    // 552 / 60 = 9.2 rps.
    expect(levelNearTarget(LOADTEST, undefined)?.concurrency).toBe(4)
  })
})
