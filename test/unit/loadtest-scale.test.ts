import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import {
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetProvisionedConcurrencyConfigCommand,
  LambdaClient,
  PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand,
} from '@aws-sdk/client-lambda'
import { DescribeEndpointCommand, DescribeEndpointConfigCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/** `mlops scale --from-loadtest`: the saved recommendation through the scale feature, on fakes. */

const OFFLINE = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined }
const RECOMMENDATION = { maxRps: 18.3, targetInvocationsPerInstance: 549, lambdaReservedConcurrency: 6, lambdaProvisionedConcurrency: 2, reasoning: ['…'] }
const saved = (recommendation: object = RECOMMENDATION) =>
  JSON.stringify({ target: { kind: 'endpoint', name: 'dogs-endpoint' }, levels: [], recommendation, savedAt: '2026-11-22T10:00:00.000Z' })

const sm = sdkMock(SageMakerClient)
const as = sdkMock(ApplicationAutoScalingClient)
const lambda = sdkMock(LambdaClient)

beforeEach(() => {
  sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'InService', EndpointConfigName: 'c1' } as never)
  sm.on(DescribeEndpointConfigCommand).resolves({
    EndpointConfigName: 'c1',
    ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
  } as never)
  // Before: registered 1-2 with a target of 70.
  as.on(DescribeScalableTargetsCommand).resolves({
    ScalableTargets: [{ ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic', MinCapacity: 1, MaxCapacity: 2 }],
  } as never)
  as.on(DescribeScalingPoliciesCommand).resolves({
    ScalingPolicies: [
      { PolicyName: 'dogs-invocations-target', PolicyType: 'TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration: { TargetValue: 70 } },
    ],
  } as never)
  as.on(RegisterScalableTargetCommand).resolves({})
  as.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x' })
  lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3' })
  lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 } })
  lambda.on(GetFunctionConcurrencyCommand).resolves({})
  lambda
    .on(GetProvisionedConcurrencyConfigCommand)
    .rejectsOnce(Object.assign(new Error('No Provisioned Concurrency Config found'), { name: 'ProvisionedConcurrencyConfigNotFoundException' }))
    .resolves({ Status: 'READY', RequestedProvisionedConcurrentExecutions: 2, AllocatedProvisionedConcurrentExecutions: 2 })
  lambda.on(GetFunctionConfigurationCommand).resolves({ MemorySize: 1024 })
  lambda.on(PutFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 6 })
  lambda.on(PutProvisionedConcurrencyConfigCommand).resolves({ Status: 'IN_PROGRESS' })
})

describe('mlops scale --from-loadtest', () => {
  it('applies the last recommendation: the exact target value and the Lambda concurrency, with before/after and cost', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': saved() })
    const run = await runMlops(['scale', '--from-loadtest', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(run.code, run.stderr).toBe(0)
    expect(as.commandCalls(PutScalingPolicyCommand)).toHaveLength(1)
    expect(as.commandCalls(PutScalingPolicyCommand)[0].args[0].input.TargetTrackingScalingPolicyConfiguration?.TargetValue).toBe(549)
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)[0].args[0].input).toEqual({ FunctionName: 'dogs-invoke', ReservedConcurrentExecutions: 6 })
    expect(lambda.commandCalls(PutProvisionedConcurrencyConfigCommand)[0].args[0].input).toEqual({
      FunctionName: 'dogs-invoke',
      Qualifier: 'live',
      ProvisionedConcurrentExecutions: 2,
    })
    expect(run.stderr).toContain('From the load test of endpoint dogs-endpoint (2026-11-22T10:00:00.000Z): 18.3 requests/s within the SLO.')
    expect(run.stdout).toContain('549 invocations per instance per minute')
    expect(run.stdout).toContain('(was 1-2 instances, target 70)')
    expect(run.stdout).toContain('reserved     6 (was none)')
    expect(run.stdout).toMatch(/cost +at most \$0\.23\/hour at 2 instances of ml\.m5\.large/)
    expect(run.stdout).toMatch(/Provisioned concurrency cost: about \$0\.03\/hour/)
  })

  it('prints what a hand-edited file says escaped: no terminal control sequence reaches the terminal', async () => {
    const hostile = JSON.stringify({
      target: { kind: 'endpoint', name: 'dogs-endpoint\u001b]0;pwned\u0007' },
      levels: [],
      recommendation: RECOMMENDATION,
      savedAt: '2026\u001b[2J\u202e',
    })
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': hostile })
    const run = await runMlops(['scale', '--from-loadtest', '--dry-run'], { cwd: dir, env: OFFLINE, awsFactory: noAwsFactory() })
    expect(run.stderr).toContain('From the load test of endpoint dogs-endpoint\\x1b]0;pwned\\x07 (2026\\x1b[2J\\u202e): 18.3 requests/s within the SLO.')
    // eslint-disable-next-line no-control-regex -- the point: none of these may reach the terminal
    expect(run.stderr + run.stdout).not.toMatch(/[\u001b\u0007\u202e]/)
  })

  it('a given file, and flags typed beside it win over the recommendation', async () => {
    const dir = await tempProject(minimalConfig(), { 'runs/a.json': saved() })
    const run = await runMlops(['scale', '--from-loadtest', 'runs/a.json', '--target-rps', '2', '--lambda-reserved', '9', '--dry-run', '--json'], {
      cwd: dir,
      env: OFFLINE,
      awsFactory: noAwsFactory(),
    })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc.endpoint.targetValue).toBe(120)
    expect(doc.lambda.reserved.requested).toBe(9)
    expect(doc.lambda.provisioned).toBeUndefined()
    const plain = await runMlops(['scale', '--from-loadtest', 'runs/a.json', '--dry-run', '--json'], { cwd: dir, env: OFFLINE, awsFactory: noAwsFactory() })
    expect(plain.json().endpoint.targetValue).toBe(549)
    expect(plain.json().lambda).toMatchObject({ reserved: { requested: 6 }, provisioned: { requested: 2 } })
  })

  it('refuses a missing file, a broken one and a recommendation of nothing, changing nothing', async () => {
    const dir = await tempProject(minimalConfig(), {
      'broken.json': '{"levels": []}',
      'none.json': saved({ ...RECOMMENDATION, maxRps: 0, targetInvocationsPerInstance: 0, reasoning: ['No level ran without errors.'] }),
    })
    const cases: [string[], RegExp][] = [
      [[], /--from-loadtest: no load test result at .*\.mlops\/loadtest\.json[\s\S]*Run `mlops loadtest` first/],
      [['broken.json'], /--from-loadtest: .*broken\.json is not a load test result \(recommendation\)/],
      [['none.json'], /recommends nothing \(no level passed\)[\s\S]*No level ran without errors\./],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(['scale', '--from-loadtest', ...args, '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(run.code, args.join(' ')).toBe(2)
      expect(run.stderr).toMatch(message)
    }
  })

  it('refuses --show beside it before reading any file, and a target above the flag bound, changing nothing', async () => {
    const dir = await tempProject(minimalConfig(), { 'huge.json': saved({ ...RECOMMENDATION, targetInvocationsPerInstance: 1_000_001 }) })
    const show = await runMlops(['scale', '--show', '--from-loadtest', 'missing.json'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(show.code).toBe(2)
    expect(show.stderr).toContain('--show only prints the current settings; it takes no other scale flags.')
    const huge = await runMlops(['scale', '--from-loadtest', 'huge.json', '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(huge.code).toBe(2)
    expect(huge.stderr).toMatch(/--from-loadtest: .*huge\.json is not a load test result \(recommendation\.targetInvocationsPerInstance\)/)
  })
})
