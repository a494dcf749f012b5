import {
  CreateAliasCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  PublishVersionCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda'
import { sdkMock } from '../helpers/mock-sdk.js'
import { describe, expect, it } from 'vitest'
import { DEFAULT_LAMBDA_RUNTIME, lambdaRuntimeLife, REAPER_LAMBDA_RUNTIME } from '../../src/aws/lifecycle.js'
import { ensureFunction } from '../../src/aws/lambda/function.js'
import { handlerBundle } from '../../src/features/lambda/bundle.js'
import { planIdleStop, reaperBundle } from '../../src/features/deploy/arm-idle-stop.js'
import { esbuildOptions, esbuildTarget } from '../../src/shared/lambda-bundle.js'
import { functionSpec, resolveLambdaRuntime } from '../../src/features/lambda/plan.js'
import { parseConfigText } from '../../src/config/load.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

// Issue 14 item 1: nodejs20.x has been create-blocked since 2026-08-31 (issue 26 corrected the dates).
const cfg = (extra = '') => parseConfigText(minimalConfig(extra), 'mlops.config.yaml')
const NOW = Date.parse('2026-12-01T00:00:00Z')
const DAY = 86_400_000

/** Days from `nowMs` until AWS blocks creating functions on `runtime`. */
function daysToBlockCreate(runtime: string, nowMs: number): number {
  return (Date.parse(lambdaRuntimeLife(runtime)!.blockCreate) - nowMs) / DAY
}

describe('Lambda runtime lifecycle', () => {
  it('the default runtime is more than 60 days from its block-create date (today, on the injected clock)', () => {
    // Real time on purpose: this is the test that fails before users hit the next deprecation.
    expect(daysToBlockCreate(DEFAULT_LAMBDA_RUNTIME, Date.now())).toBeGreaterThan(60)
    expect(daysToBlockCreate(DEFAULT_LAMBDA_RUNTIME, NOW)).toBeGreaterThan(60)
    // The same check catches the default once a clock reaches 60 days before its date.
    const late = Date.parse(lambdaRuntimeLife(DEFAULT_LAMBDA_RUNTIME)!.blockCreate) - 59 * DAY
    expect(daysToBlockCreate(DEFAULT_LAMBDA_RUNTIME, late)).toBeLessThan(60)
  })

  it('defaults to nodejs24.x, allows nodejs22.x, refuses nodejs20.x and unknown runtimes with the fix', () => {
    expect(DEFAULT_LAMBDA_RUNTIME).toBe('nodejs24.x')
    expect(resolveLambdaRuntime(cfg(), NOW)).toBe('nodejs24.x')
    expect(functionSpec(cfg(), 'arn:role').runtime).toBe('nodejs24.x')
    expect(resolveLambdaRuntime(cfg('lambda:\n  runtime: nodejs22.x\n'), NOW)).toBe('nodejs22.x')
    expect(() => resolveLambdaRuntime(cfg('lambda:\n  runtime: nodejs20.x\n'), NOW)).toThrow(
      'lambda.runtime nodejs20.x is retired: AWS blocks creating functions on it since 2026-08-31 and updating them since 2026-09-30.',
    )
    expect(() => resolveLambdaRuntime(cfg('lambda:\n  runtime: nodejs18.x\n'), NOW)).toThrow(/not a runtime mlops bundles the handler for/)
  })

  it('`lambda-setup --dry-run` plans nodejs24.x; nodejs20.x exits 2 before any AWS call', async () => {
    const dir = await tempProject(minimalConfig())
    const ok = await runMlops(['lambda-setup', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, clock: fastClock(NOW) })
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json().operations.find((o: { operation: string }) => o.operation === 'CreateFunction').input.Runtime).toBe('nodejs24.x')
    const old = await tempProject(minimalConfig('lambda:\n  runtime: nodejs20.x\n'))
    const bad = await runMlops(['lambda-setup', '--dry-run'], { cwd: old, env: OFFLINE_ENV, clock: fastClock(NOW) })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/nodejs20\.x is retired: AWS blocks creating functions on it since 2026-08-31 and updating them since 2026-09-30/)
    expect(bad.stderr).toMatch(/Set lambda\.runtime to nodejs24\.x/)
  })

  it("the handler bundle's esbuild target follows the runtime", () => {
    expect(esbuildTarget('nodejs24.x')).toBe('node24')
    expect(esbuildOptions(handlerBundle('nodejs22.x')).target).toBe('node22')
    expect(esbuildOptions(handlerBundle()).target).toBe('node24')
  })

  it('the idle-stop reaper is bundled for the runtime its function is created on, one AWS still supports', () => {
    // Both come from REAPER_LAMBDA_RUNTIME (the reaper once targeted node20 while running on nodejs22.x).
    const plan = planIdleStop({ project: 'dogs', endpointName: 'dogs-endpoint', idleSeconds: 3600, region: 'us-east-1', accountId: '123456789012' })
    const runtime = (plan.find((o) => o.operation === 'CreateFunction')?.input as { Runtime?: string } | undefined)?.Runtime
    expect(runtime).toBe(REAPER_LAMBDA_RUNTIME)
    expect(reaperBundle().runtime).toBe(runtime)
    expect(esbuildOptions(reaperBundle()).target).toBe(esbuildTarget(REAPER_LAMBDA_RUNTIME))
    expect(esbuildOptions(reaperBundle()).target).toBe('node24')
    // Real time on purpose, as for the default: fails before AWS stops creating functions on it.
    expect(daysToBlockCreate(REAPER_LAMBDA_RUNTIME, Date.now())).toBeGreaterThan(60)
  })
})

describe('an existing function whose runtime changes', () => {
  const lambdaMock = sdkMock(LambdaClient)
  const lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  it('gets UpdateFunctionConfiguration (Runtime) before UpdateFunctionCode', async () => {
    const spec = functionSpec(cfg(), 'arn:aws:iam::123456789012:role/dogs-lambda')
    const fn: FunctionConfiguration = {
      FunctionName: 'dogs-invoke',
      FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke',
      Runtime: 'nodejs20.x',
      Handler: spec.handler,
      Role: spec.roleArn,
      Description: spec.description,
      MemorySize: spec.memoryMb,
      Timeout: spec.timeoutSeconds,
      Environment: { Variables: { ...spec.environment } },
      CodeSha256: 'old-sha',
      Architectures: ['arm64'],
      State: 'Active',
      LastUpdateStatus: 'Successful',
    }
    lambdaMock.on(GetFunctionCommand).callsFake(() => ({ Configuration: { ...fn }, Tags: { ...spec.tags } }))
    lambdaMock.on(GetFunctionConfigurationCommand).callsFake(() => ({ ...fn }))
    lambdaMock.on(UpdateFunctionConfigurationCommand).callsFake((input) => {
      fn.Runtime = input.Runtime
      return { ...fn }
    })
    lambdaMock.on(UpdateFunctionCodeCommand).callsFake(() => {
      // AWS refuses code updates of a function on a runtime past its block-update date.
      if (fn.Runtime === 'nodejs20.x')
        throw Object.assign(new Error('The runtime parameter of nodejs20.x is no longer supported'), { name: 'InvalidParameterValueException' })
      fn.CodeSha256 = 'new-sha'
      return { ...fn }
    })
    lambdaMock.on(GetAliasCommand).rejects(Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }))
    lambdaMock.on(PublishVersionCommand).resolves({ Version: '1' })
    lambdaMock.on(CreateAliasCommand).resolves({ AliasArn: 'arn:alias' })
    const res = await ensureFunction(lambda, spec, { zip: Buffer.from('zip'), codeSha256: 'new-sha' }, { clock: fastClock(), timeoutMs: 60_000 })
    const order = lambdaMock
      .calls()
      .map((c) => c.args[0].constructor.name)
      .filter((n) => n.startsWith('Update'))
    expect(order).toEqual(['UpdateFunctionConfigurationCommand', 'UpdateFunctionCodeCommand'])
    expect(lambdaMock.commandCalls(UpdateFunctionConfigurationCommand)[0].args[0].input).toMatchObject({ FunctionName: 'dogs-invoke', Runtime: 'nodejs24.x' })
    expect(res).toMatchObject({ codeUpdated: true, configUpdated: ['Runtime'] })
  })
})

describe('function URL callers (issue 14 item 12)', () => {
  it('AWS_IAM callers are told they need lambda:InvokeFunctionUrl AND lambda:InvokeFunction', async () => {
    const { renderLambdaSetup } = await import('../../src/features/lambda/render.js')
    const { Chalk } = await import('chalk')
    const text = renderLambdaSetup(
      {
        dryRun: false,
        functionName: 'dogs-invoke',
        alias: 'live',
        version: '1',
        codeSha256: 'x',
        zipBytes: 1,
        environment: { ENDPOINT_NAME: 'dogs-endpoint', TOP_K: '3' },
        role: { name: 'dogs-lambda', arn: 'arn' },
        endpoint: { name: 'dogs-endpoint', status: 'InService' },
        url: { url: 'https://x.lambda-url.us-east-1.on.aws/', authType: 'AWS_IAM', managed: true },
      },
      new Chalk({ level: 0 }),
    )
    expect(text).toContain('callers need lambda:InvokeFunctionUrl and lambda:InvokeFunction on dogs-invoke:live')
    const help = await runMlops(['lambda-setup', '--help'])
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/need lambda:InvokeFunctionUrl and lambda:InvokeFunction/)
  })
})

describe('lambda-setup --url --public (issue 19)', () => {
  it('asks before anything unless --yes: no answer possible is exit 2, "n" aborts, neither reaches AWS', async () => {
    const { noAwsFactory } = await import('../helpers/aws.js')
    const dir = await tempProject(minimalConfig())
    const script = await runMlops(['lambda-setup', '--url', '--public'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
    expect(script.code).toBe(2)
    expect(script.stderr).toContain('Make the function URL of dogs-invoke:live public (no auth): this needs confirmation.')
    expect(script.stderr).toMatch(/--yes/)
    const declined = await runMlops(['lambda-setup', '--url', '--public'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory(), answers: ['n'] })
    expect(declined.stderr).toContain('Make the function URL of dogs-invoke:live public (no auth)? [y/N]')
    expect(declined.code).not.toBe(0)
    expect(declined.stderr).not.toMatch(/AWS must not be reached/)
    // Without --public there is nothing to ask.
    const plan = await runMlops(['lambda-setup', '--url', '--dry-run'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })
    expect(plan.code).toBe(0)
  })
})
