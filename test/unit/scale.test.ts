import { ApplicationAutoScalingClient, RegisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { resolveScaling } from '../../src/features/scale/endpoint-scaling.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory } from '../helpers/aws.js'

const SCALING =
  'endpoint:\n  autoscaling:\n    minCapacity: 2\n    maxCapacity: 6\n    targetInvocationsPerInstance: 90\n    scaleInCooldown: 120\n    scaleOutCooldown: 45\n'

describe('scale settings', () => {
  it('flags override endpoint.autoscaling, which overrides the defaults', () => {
    const withCfg = parseConfigText(minimalConfig(SCALING), 'x')
    expect(resolveScaling(withCfg, {})).toEqual({
      endpointName: 'dogs-endpoint',
      policyName: 'dogs-invocations-target',
      minCapacity: 2,
      maxCapacity: 6,
      targetValue: 90,
      scaleInCooldown: 120,
      scaleOutCooldown: 45,
    })
    expect(resolveScaling(withCfg, { max: 8, targetRps: 2.5, scaleOutCooldown: 10 })).toMatchObject({
      minCapacity: 2,
      maxCapacity: 8,
      targetValue: 150,
      scaleInCooldown: 120,
      scaleOutCooldown: 10,
    })
    const bare = parseConfigText(minimalConfig(), 'x')
    expect(resolveScaling(bare, {})).toMatchObject({ minCapacity: 1, maxCapacity: 2, targetValue: 70, scaleInCooldown: 300, scaleOutCooldown: 60 })
  })

  it('min above max names where each value came from', () => {
    const withCfg = parseConfigText(minimalConfig(SCALING), 'x')
    expect(() => resolveScaling(withCfg, { max: 1 })).toThrow('The minimum capacity 2 (endpoint.autoscaling.minCapacity) is above the maximum 1 (--max).')
    expect(() => resolveScaling(withCfg, { target: 1, targetRps: 1 })).toThrow(/either --target or --target-rps/)
  })
})

describe('mlops scale flags and dry run (offline)', () => {
  it('bad values exit 2 naming the flag', async () => {
    const dir = await tempProject(minimalConfig())
    // Each flag is checked by the endpoint.autoscaling / lambda field it overrides, in that field's words.
    const cases: [string[], RegExp | string][] = [
      [['--min', '0'], '--min: must be at least 1 (instances), got "0".'],
      [['--min', '1.5'], '--min: expected a whole number (instances), got "1.5".'],
      [['--max', 'lots'], '--max: expected a number (instances), got "lots".'],
      [['--target', '0'], '--target: must be more than 0 invocations per instance per minute, got "0".'],
      [['--target', '70', '--target-rps', '2'], /either --target or --target-rps/],
      [['--min', '5', '--max', '2'], /--min 5 is above --max 2/],
      [['--scale-in-cooldown', '7200'], '--scale-in-cooldown: must be at most 3600 (seconds), got "7200".'],
      [['--show', '--min', '1'], /--show only prints/],
      [['--lambda-reserved', '-1'], '--lambda-reserved: must be 0 or more (executions), got "-1".'],
      // Absurd numbers are refused with their limit instead of reaching AWS as a null TargetValue.
      [['--target-rps', '1e308'], '--target-rps: must be at most 16666 requests per second per instance (1000000 per minute), got "1e308".'],
      [['--target', '1e9'], '--target: must be at most 1000000 invocations per instance per minute, got "1e9".'],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(['scale', ...args, '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
      expect(run.code, args.join(' ')).toBe(2)
      if (typeof message === 'string') expect(run.stderr).toContain(message)
      else expect(run.stderr).toMatch(message)
    }
  })

  it('--dry-run --json prints the registration and policy with exactly the configured values', async () => {
    const dir = await tempProject(minimalConfig(SCALING))
    const run = await runMlops(['scale', '--dry-run', '--json', '--target-rps', '3'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc.lambda).toBeUndefined()
    expect(doc.endpoint).toMatchObject({ minCapacity: 2, maxCapacity: 6, targetValue: 180, targetRps: 3, maxHourlyUsd: 0.115 * 6 })
    expect(doc.operations.map((o: { operation: string }) => o.operation)).toEqual([
      'DescribeEndpoint',
      'DescribeEndpointConfig',
      'DescribeScalableTargets',
      'DescribeScalingPolicies',
      'RegisterScalableTarget',
      'PutScalingPolicy',
    ])
    expect(doc.operations[4].input).toEqual({
      ServiceNamespace: 'sagemaker',
      ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      MinCapacity: 2,
      MaxCapacity: 6,
    })
    expect(doc.operations[5].input.TargetTrackingScalingPolicyConfiguration).toEqual({
      TargetValue: 180,
      PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
      ScaleInCooldown: 120,
      ScaleOutCooldown: 45,
    })
  })

  it('only Lambda flags do only the Lambda part; both do both', async () => {
    const dir = await tempProject(minimalConfig())
    const onlyLambda = await runMlops(['scale', '--lambda-reserved', '5', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(onlyLambda.code, onlyLambda.stderr).toBe(0)
    const a = onlyLambda.json()
    expect(a.endpoint).toBeUndefined()
    expect(a.lambda).toMatchObject({ functionName: 'dogs-invoke', reserved: { requested: 5 } })
    expect(a.operations.every((o: { service: string }) => o.service === 'lambda')).toBe(true)
    const both = await runMlops(['scale', '--max', '3', '--lambda-provisioned', '1', '--lambda-reserved', '2', '--dry-run', '--json'], {
      cwd: dir,
      env: OFFLINE_ENV,
    })
    expect(both.code, both.stderr).toBe(0)
    const b = both.json()
    expect(b.endpoint.maxCapacity).toBe(3)
    expect(b.lambda.provisioned.requested).toBe(1)
    expect(b.operations[0]).toMatchObject({ service: 'sagemaker', operation: 'DescribeEndpoint' })
    expect(b.operations.at(-1).service).toBe('lambda')
  })

  it('the help explains the per-minute unit and the AWS formula', async () => {
    const run = await runMlops(['scale', '--help'])
    expect(run.stdout).toContain('invocations per')
    expect(run.stdout).toContain('instance per MINUTE')
    expect(run.stdout).toContain('target = max requests/s one instance handles x 0.5 (safety factor) x 60')
  })
})

describe('mlops scale against fakes', () => {
  const sm = sdkMock(SageMakerClient)
  const as = sdkMock(ApplicationAutoScalingClient)
  const factory = fakeAwsFactory()
  it('a serverless endpoint gets a clear message instead of a registration', async () => {
    sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'InService', EndpointConfigName: 'c1' } as never)
    sm.on(DescribeEndpointConfigCommand).resolves({
      EndpointConfigName: 'c1',
      ProductionVariants: [{ VariantName: 'AllTraffic', ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 7 } }],
    } as never)
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['scale', '--max', '4'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('Endpoint dogs-endpoint is serverless: it scales by itself, from zero up to 7 concurrent invocations.')
    expect(run.stderr).toContain('--max-concurrency')
    expect(as).not.toHaveReceivedCommand(RegisterScalableTargetCommand)
  })

  it('a missing or busy endpoint is refused before any registration', async () => {
    sm.on(DescribeEndpointCommand)
      .rejectsOnce(Object.assign(new Error("Could not find endpoint 'dogs-endpoint'."), { name: 'ValidationException' }))
      .resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'Updating', EndpointConfigName: 'c1' } as never)
    sm.on(DescribeEndpointConfigCommand).resolves({
      EndpointConfigName: 'c1',
      ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
    } as never)
    const dir = await tempProject(minimalConfig())
    const missing = await runMlops(['scale'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Deploy it first with `mlops deploy`')
    const busy = await runMlops(['scale'], { cwd: dir, awsFactory: factory, clock: fastClock() })
    expect(busy.code).toBe(2)
    expect(busy.stderr).toContain('Endpoint dogs-endpoint is Updating; autoscaling can be set once it is InService.')
    expect(as).not.toHaveReceivedCommand(RegisterScalableTargetCommand)
  })
})
