import { ApplicationAutoScalingClient, PutScalingPolicyCommand, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum } from '@aws-sdk/client-cloudwatch'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `mlops status --metrics` on moto: a real endpoint record, a registered scaling policy, metric data
 * put with PutMetricData, and the last load test's file; the command reads them back with
 * DescribeEndpoint, the scaling calls and GetMetricData. moto computes Sum/Average/Maximum but no
 * percentiles (it answers none for p50/p99), so the latency comparison is pinned in
 * test/unit/live-metrics.test.ts against a GetMetricData fake that answers them.
 */

let moto: MotoServer
let cw: CloudWatchClient
beforeAll(async () => {
  moto = await startMoto()
  cw = new CloudWatchClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => moto?.stop())
beforeEach(async () => moto.reset())

const minute = 60_000

async function createEndpoint(): Promise<void> {
  const sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  await sm.send(
    new CreateModelCommand({
      ModelName: 'dogs-model-1',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/dogs-sagemaker',
      PrimaryContainer: { Image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1', ModelDataUrl: 's3://dogs-data/m.tar.gz' },
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'dogs-config-1',
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'dogs-model-1', InitialInstanceCount: 2, InstanceType: 'ml.m5.large' }],
    }),
  )
  await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-1' }))
  const as = new ApplicationAutoScalingClient(motoClientConfig(moto.endpoint))
  const target = {
    ServiceNamespace: 'sagemaker' as const,
    ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
    ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' as const,
  }
  await as.send(new RegisterScalableTargetCommand({ ...target, MinCapacity: 1, MaxCapacity: 4 }))
  await as.send(
    new PutScalingPolicyCommand({
      ...target,
      PolicyName: 'dogs-invocations-target',
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 450,
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
      },
    }),
  )
}

async function putMetrics(namespace: string, data: MetricDatum[]): Promise<void> {
  await cw.send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }))
}

describe('mlops status --metrics on moto', () => {
  it('--json returns the endpoint and Lambda series from GetMetricData with the scaling-target comparison', async () => {
    await createEndpoint()
    // runMlops's clock reads 2026-11-22T10:00Z; moto keeps whatever timestamps it is given.
    const now = Date.parse('2026-11-22T10:00:00Z')
    // Three minutes of traffic, 10 to 20 minutes ago: 600, then 1,200, then 300 invocations over 2 instances.
    const at = (m: number) => new Date(Math.floor(now / minute) * minute - m * minute + 1000)
    const ep = [
      { Name: 'EndpointName', Value: 'dogs-endpoint' },
      { Name: 'VariantName', Value: 'AllTraffic' },
    ]
    const traffic: [number, number][] = [
      [20, 600],
      [15, 1200],
      [10, 300],
    ]
    for (const [m, n] of traffic) {
      await putMetrics('AWS/SageMaker', [
        { MetricName: 'Invocations', Dimensions: ep, Timestamp: at(m), Value: n, Unit: 'Count' },
        { MetricName: 'InvocationsPerInstance', Dimensions: ep, Timestamp: at(m), Value: n / 2, Unit: 'Count' },
        { MetricName: 'Invocation5XXErrors', Dimensions: ep, Timestamp: at(m), Value: m === 15 ? 3 : 0, Unit: 'Count' },
      ])
      await putMetrics('/aws/sagemaker/Endpoints', [
        { MetricName: 'CPUUtilization', Dimensions: ep, Timestamp: at(m), Value: m === 15 ? 88 : 40, Unit: 'Percent' },
      ])
      await putMetrics('AWS/Lambda', [
        { MetricName: 'Throttles', Dimensions: [{ Name: 'FunctionName', Value: 'dogs-invoke' }], Timestamp: at(m), Value: 2, Unit: 'Count' },
      ])
    }
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['status', '--metrics', '--since', '1h', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.stderr).not.toMatch(/Unexpected/)
    expect(run.code, run.stderr).toBe(0)
    const doc = JSON.parse(run.stdout)
    type Series = { id: string; values: number[]; total: number; peak: number; timestamps: string[] }
    const series = (list: Series[], id: string) => list.find((s) => s.id === id)!
    expect(doc.endpoint).toMatchObject({ name: 'dogs-endpoint', exists: true, variant: 'AllTraffic', currentInstanceCount: 2 })
    expect(doc.periodSeconds).toBe(60)
    expect(series(doc.endpoint.series, 'invocations').values).toEqual([600, 1200, 300])
    expect(series(doc.endpoint.series, 'invocations').total).toBe(2100)
    expect(series(doc.endpoint.series, 'instances').values).toEqual([2, 2, 2])
    expect(series(doc.endpoint.series, 'errors_5xx').total).toBe(3)
    expect(series(doc.endpoint.series, 'cpu').peak).toBe(88)
    expect(series(doc.lambda.series, 'lambda_throttles').total).toBe(6)
    // Timestamps are in time order, one per minute that had data.
    const ts = series(doc.endpoint.series, 'invocations').timestamps.map(Date.parse)
    expect(ts).toEqual([...ts].sort((a, b) => a - b))
    expect(doc.scalingTarget).toBe(450)
    expect(doc.comparisons).toEqual([
      {
        what: 'invocations per instance',
        live: 600,
        reference: 450,
        unit: 'invocations/instance/min',
        above: true,
        text: 'peak 600 invocations per instance per minute vs the scaling target of 450 (above it: scaling out, or at max capacity)',
      },
    ])
  })

  it('the human output draws a sparkline per series and names a missing endpoint', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['status', '--metrics'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain('Endpoint dogs-endpoint: not found in us-east-1.')
    expect(run.stdout).toContain('No load test to compare with: run `mlops loadtest`.')
  })
})
