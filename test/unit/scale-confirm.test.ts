import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  DescribeScalingPoliciesCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import {
  DeleteFunctionConcurrencyCommand,
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
import { beforeEach, describe, expect, it } from 'vitest'
import { renderStatus, type StatusResult } from '../../src/features/project/status.js'
import { Ui } from '../../src/shared/output.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * Issue 27, "confirm before the first change": every question of `scale` comes before its first
 * write, and a load test file is held to the flags' rules (0 asked on its own, a local measurement
 * only with --yes). `--lambda-reserved none` removes a reservation.
 */

const RECOMMENDATION = { maxRps: 18.3, targetInvocationsPerInstance: 549, lambdaReservedConcurrency: 6, lambdaProvisionedConcurrency: 2, reasoning: ['…'] }
const saved = (recommendation: object = RECOMMENDATION, target: object = { kind: 'endpoint', name: 'dogs-endpoint' }) =>
  JSON.stringify({ target, levels: [], recommendation, savedAt: '2026-11-22T10:00:00.000Z' })

const sm = sdkMock(SageMakerClient)
const as = sdkMock(ApplicationAutoScalingClient)
const lambda = sdkMock(LambdaClient)

const endpointWrites = () => as.commandCalls(RegisterScalableTargetCommand).length + as.commandCalls(PutScalingPolicyCommand).length
const lambdaWrites = () =>
  lambda.commandCalls(PutFunctionConcurrencyCommand).length +
  lambda.commandCalls(PutProvisionedConcurrencyConfigCommand).length +
  lambda.commandCalls(DeleteFunctionConcurrencyCommand).length

beforeEach(() => {
  sm.on(DescribeEndpointCommand).resolves({ EndpointName: 'dogs-endpoint', EndpointStatus: 'InService', EndpointConfigName: 'c1' } as never)
  sm.on(DescribeEndpointConfigCommand).resolves({
    EndpointConfigName: 'c1',
    ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
  } as never)
  as.on(DescribeScalableTargetsCommand).resolves({ ScalableTargets: [] })
  as.on(DescribeScalingPoliciesCommand).resolves({ ScalingPolicies: [] })
  as.on(RegisterScalableTargetCommand).resolves({})
  as.on(PutScalingPolicyCommand).resolves({ PolicyARN: 'arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x' })
  lambda.on(GetAliasCommand).resolves({ Name: 'live', FunctionVersion: '3' })
  lambda.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 990 } })
  lambda.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 })
  lambda
    .on(GetProvisionedConcurrencyConfigCommand)
    .rejectsOnce(Object.assign(new Error('No Provisioned Concurrency Config found'), { name: 'ProvisionedConcurrencyConfigNotFoundException' }))
    .resolves({ Status: 'READY', RequestedProvisionedConcurrentExecutions: 2, AllocatedProvisionedConcurrentExecutions: 2 })
  lambda.on(GetFunctionConfigurationCommand).resolves({ MemorySize: 1024 })
  lambda.on(PutFunctionConcurrencyCommand).resolves({})
  lambda.on(PutProvisionedConcurrencyConfigCommand).resolves({ Status: 'IN_PROGRESS' })
  lambda.on(DeleteFunctionConcurrencyCommand).resolves({})
})

describe('scale asks every question before its first change', () => {
  it('declining the Lambda cost leaves the endpoint untouched too, and "nothing was changed" is true', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': saved() })
    const run = await runMlops(['scale', '--from-loadtest'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(), answers: ['n'] })
    expect(run.stderr).toMatch(/Keep 2 executions of dogs-invoke:live warm .*\[y\/N\]/)
    expect(run.stderr).toContain('Cancelled: nothing was changed.')
    expect(run.code).toBe(1)
    expect(endpointWrites()).toBe(0)
    expect(lambdaWrites()).toBe(0)
  })

  it('without a terminal and without --yes, it stops at the question with nothing changed (exit 2)', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['scale', '--max', '3', '--lambda-provisioned', '2'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(run.code, run.stderr).toBe(2)
    expect(run.stderr).toContain('this needs confirmation')
    expect(endpointWrites()).toBe(0)
    expect(lambdaWrites()).toBe(0)
  })

  it('with a yes, the endpoint changes first and then the Lambda, as before', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': saved() })
    const run = await runMlops(['scale', '--from-loadtest'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(), answers: ['y'] })
    expect(run.code, run.stderr).toBe(0)
    expect(endpointWrites()).toBe(2)
    expect(lambda.commandCalls(PutProvisionedConcurrencyConfigCommand)).toHaveLength(1)
  })
})

describe('a load test file is held to the flags’ rules', () => {
  it('reserved concurrency 0 from a file needs its own yes, even without a terminal', async () => {
    const zero = { ...RECOMMENDATION, lambdaReservedConcurrency: 0, lambdaProvisionedConcurrency: 0 }
    const dir = await tempProject(minimalConfig(), { 'zero.json': saved(zero) })
    const refused = await runMlops(['scale', '--from-loadtest', 'zero.json'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(refused.code, refused.stderr).toBe(2)
    expect(refused.stderr).toContain('Set the reserved concurrency of dogs-invoke to 0, so that every call is throttled')
    expect(refused.stderr).toContain('this needs confirmation')
    expect(endpointWrites()).toBe(0)
    expect(lambdaWrites()).toBe(0)

    const declined = await runMlops(['scale', '--from-loadtest', 'zero.json'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock(), answers: ['n'] })
    expect(declined.code).toBe(1)
    expect(endpointWrites() + lambdaWrites()).toBe(0)

    const yes = await runMlops(['scale', '--from-loadtest', 'zero.json', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(yes.code, yes.stderr).toBe(0)
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)[0].args[0].input).toEqual({ FunctionName: 'dogs-invoke', ReservedConcurrentExecutions: 0 })
    expect(yes.stdout).toContain('reserved     0: every call throttled (was 10)')
  })

  it('refuses values the flags would refuse, naming the field, before any AWS call', async () => {
    const cases: [object, RegExp][] = [
      [{ lambdaReservedConcurrency: -1 }, /\(recommendation\.lambdaReservedConcurrency\): must be 0 or more \(executions\)/],
      [{ lambdaReservedConcurrency: 2.5 }, /\(recommendation\.lambdaReservedConcurrency\): expected a whole number \(executions\)/],
      [{ lambdaProvisionedConcurrency: 9 }, /\(recommendation\.lambdaProvisionedConcurrency\): must not exceed lambdaReservedConcurrency/],
      [{ targetInvocationsPerInstance: -5 }, /\(recommendation\.targetInvocationsPerInstance\): must be more than 0 invocations per instance per minute/],
      [{ lambdaReservedConcurrency: '6' }, /\(recommendation\.lambdaReservedConcurrency\): expected a number \(executions\)/],
      [{ maxRps: 1e308 }, /\(recommendation\.maxRps\): must be at most 16666 requests per second/],
    ]
    for (const [change, message] of cases) {
      const dir = await tempProject(minimalConfig(), { 'bad.json': saved({ ...RECOMMENDATION, ...change }) })
      const run = await runMlops(['scale', '--from-loadtest', 'bad.json', '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(run.code, JSON.stringify(change)).toBe(2)
      expect(run.stderr).toMatch(message)
    }
  })

  it('a local measurement is applied to AWS only with --yes, and always with a warning', async () => {
    const dir = await tempProject(minimalConfig(), { '.mlops/loadtest.json': saved(RECOMMENDATION, { kind: 'local', name: '127.0.0.1:8080' }) })
    const asked = await runMlops(['scale', '--from-loadtest'], { cwd: dir, awsFactory: noAwsFactory(), answers: ['y', 'y'] })
    expect(asked.code).toBe(2)
    expect(asked.stderr).toContain('was measured on the local server (`mlops loadtest --local`), not on AWS')
    expect(asked.stderr).toMatch(/is a local measurement; applying it to AWS needs --yes\./)
    const plan = await runMlops(['scale', '--from-loadtest', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stderr).toContain('not on AWS')
    const yes = await runMlops(['scale', '--from-loadtest', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(yes.code, yes.stderr).toBe(0)
    expect(yes.stderr).toContain('not on AWS')
    expect(as.commandCalls(PutScalingPolicyCommand)[0].args[0].input.TargetTrackingScalingPolicyConfiguration?.TargetValue).toBe(549)
  })
})

describe('--lambda-reserved none', () => {
  it('removes the reservation with DeleteFunctionConcurrency, planned and sent', async () => {
    const dir = await tempProject(minimalConfig())
    const plan = await runMlops(['scale', '--lambda-reserved', 'none', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
    expect(plan.code, plan.stderr).toBe(0)
    const ops = plan.json().lambda.operations as { operation: string; input: object }[]
    expect(ops.find((o) => o.operation === 'DeleteFunctionConcurrency')?.input).toEqual({ FunctionName: 'dogs-invoke' })
    expect(ops.map((o) => o.operation)).not.toContain('PutFunctionConcurrency')

    const run = await runMlops(['scale', '--lambda-reserved', 'none'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(run.code, run.stderr).toBe(0)
    expect(lambda.commandCalls(DeleteFunctionConcurrencyCommand)[0].args[0].input).toEqual({ FunctionName: 'dogs-invoke' })
    expect(lambda.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0)
    expect(run.stdout).toContain('reserved     none (unreserved pool) (was 10)')
    expect(run.stdout).toContain('unreserved 1000')
  })

  it('status says a reservation of 0 throttles every call, and how to undo it', () => {
    const result = {
      project: 'dogs',
      region: 'us-east-1',
      jobs: [],
      endpoints: [],
      endpointConfigs: [],
      models: [],
      scalingTargets: [],
      functions: [{ name: 'dogs-invoke', memoryMb: 256, reserved: 0, hourly: 0 }],
      roles: [],
      instanceProfiles: [],
      instances: [],
      securityGroups: [],
      hourlyTotal: 0,
      monthlyTotal: 0,
      priceNote: '',
    } as unknown as StatusResult
    const c = new Ui({ stdout: { write: () => true }, stderr: { write: () => true }, json: false, debug: false, color: false, env: {}, yes: false } as never).c
    const text = renderStatus(result, c)
    expect(text).toMatch(/lambda +dogs-invoke +reserved 0: every call throttled/)
    expect(text).toContain('Undo with `mlops scale --lambda-reserved none`.')
  })
})
