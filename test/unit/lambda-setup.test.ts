import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetProvisionedConcurrencyConfigCommand,
  LambdaClient,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  type FunctionConfiguration,
} from '@aws-sdk/client-lambda'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { checkConcurrency, provisionedCost, runLambdaScale } from '../../src/features/scale/lambda-concurrency.js'
import { functionSpec } from '../../src/features/lambda/plan.js'
import { planLambdaScale } from '../../src/features/scale/plan.js'
import type { LambdaScaleResult } from '../../src/features/scale/types.js'
import type { PlannedOperation } from '../../src/shared/plan.js'
import { configurationDiff, ensureFunction, sameCode, type FunctionSpec } from '../../src/aws/lambda/function.js'
import { lambdaRoleSpec } from '../../src/shared/roles/lambda-role.js'
import { partitionOf } from '../../src/aws/arn.js'
import { interpretTestAnswer } from '../../src/aws/lambda/smoke.js'
import { crc32 } from '../../src/shared/zip-writer.js'
import { parseConfigText } from '../../src/config/load.js'
import { CommandContext } from '../../src/context.js'
import { exitCodeFor } from '../../src/shared/errors.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

const cfg = (extra = '') => parseConfigText(minimalConfig(extra), 'mlops.config.yaml')

describe('deployment package', () => {
  it('crc32 matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
  })
})

describe('role and function spec', () => {
  it('the role allows exactly InvokeEndpoint on this endpoint (lower-cased ARN) and its own logs', () => {
    const spec = lambdaRoleSpec(cfg('endpoint:\n  name: Dogs-Prod\n'), { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' })
    expect(spec.name).toBe('dogs-lambda')
    expect(spec.managedPolicyArns).toEqual([])
    expect(Object.keys(spec.inlinePolicies)).toEqual(['mlops-lambda'])
    expect(spec.inlinePolicies['mlops-lambda'].Statement).toEqual([
      {
        Sid: 'InvokeModelEndpoint',
        Effect: 'Allow',
        Action: 'sagemaker:InvokeEndpoint',
        Resource: 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint/dogs-prod',
      },
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: 'arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/dogs-invoke:*',
      },
    ])
    expect(spec.trustPolicy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': '111122223333' } },
      },
    ])
    expect(
      lambdaRoleSpec(cfg(), { accountId: '1', region: 'cn-north-1', partition: partitionOf('cn-north-1') }).inlinePolicies['mlops-lambda'].Statement[0]
        .Resource,
    ).toMatch(/^arn:aws-cn:sagemaker:cn-north-1:1:endpoint\//)
  })

  it('configuration compares by value', () => {
    const spec = functionSpec(cfg(), 'arn:aws:iam::1:role/dogs-lambda')
    const live: FunctionConfiguration = {
      Runtime: 'nodejs24.x',
      Handler: 'handler.handler',
      Role: spec.roleArn,
      Description: spec.description,
      MemorySize: 256,
      Timeout: 30,
      Environment: { Variables: { MAX_BODY_BYTES: '5242880', TOP_K: '3', ENDPOINT_NAME: 'dogs-endpoint' } },
      CodeSha256: 'abc',
      Architectures: ['arm64'],
    }
    expect(configurationDiff(live, spec)).toEqual([])
    expect(configurationDiff({ ...live, MemorySize: 512, Environment: { Variables: { ENDPOINT_NAME: 'old' } } }, spec)).toEqual(['MemorySize', 'Environment'])
    expect(sameCode(live, { codeSha256: 'abc' }, spec)).toBe(true)
    expect(sameCode({ ...live, Architectures: ['x86_64'] }, { codeSha256: 'abc' }, spec)).toBe(false)
    expect(sameCode(live, { codeSha256: 'xyz' }, spec)).toBe(false)
  })

  it('reads the test answer strictly', () => {
    const ok = interpretTestAnswer(JSON.stringify({ statusCode: 200, body: JSON.stringify({ predictions: [{ breed: 'Pug', probability: 0.5 }] }) }))
    expect(ok).toMatchObject({ ok: true, predictions: [{ breed: 'Pug', probability: 0.5 }] })
    expect(interpretTestAnswer('{"image":"..."}')).toMatchObject({ ok: false, retryable: false })
    expect(interpretTestAnswer(JSON.stringify({ errorType: 'Runtime.ImportModuleError', errorMessage: 'Cannot find module' }), 'Unhandled')).toMatchObject({
      ok: false,
      message: 'the function crashed (Unhandled): Runtime.ImportModuleError Cannot find module',
    })
    expect(interpretTestAnswer(JSON.stringify({ statusCode: 502, body: '{"error":{"code":"EndpointError","message":"x"}}' }))).toMatchObject({
      ok: false,
      statusCode: 502,
      retryable: true,
    })
    expect(interpretTestAnswer(JSON.stringify({ statusCode: 200, body: '{"predictions":[]}' }))).toMatchObject({ ok: false })
  })
})

describe('ensureFunction against a stateful fake', () => {
  const lambdaMock = sdkMock(LambdaClient)
  const lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  let spec: FunctionSpec
  beforeEach(() => {
    spec = functionSpec(cfg(), 'arn:aws:iam::123456789012:role/dogs-lambda')
  })

  /** A function whose updates take two polls to finish, and which rejects overlapping updates like Lambda. */
  function fakeFunction(initial: FunctionConfiguration) {
    const fn: FunctionConfiguration = { ...initial, State: 'Active', LastUpdateStatus: 'InProgress' } // someone else's update still running
    let polls = 0
    const versions: FunctionConfiguration[] = []
    const busy = () => {
      if (fn.LastUpdateStatus === 'InProgress')
        throw Object.assign(new Error('The operation cannot be performed at this time. An update is in progress for resource'), {
          name: 'ResourceConflictException',
        })
    }
    lambdaMock.on(GetFunctionCommand).callsFake(() => ({ Configuration: { ...fn }, Tags: { 'mlops:project': 'dogs', 'mlops:managed-by': 'mlops' } }))
    lambdaMock.on(GetFunctionConfigurationCommand).callsFake((input) => {
      if (input.Qualifier) return versions[Number(input.Qualifier) - 1]
      if (fn.LastUpdateStatus === 'InProgress' && ++polls % 2 === 0) fn.LastUpdateStatus = 'Successful'
      return { ...fn }
    })
    lambdaMock.on(UpdateFunctionCodeCommand).callsFake(() => {
      busy()
      fn.CodeSha256 = 'new-sha'
      fn.LastUpdateStatus = 'InProgress'
      return { ...fn }
    })
    lambdaMock.on(UpdateFunctionConfigurationCommand).callsFake((input) => {
      busy()
      Object.assign(fn, { MemorySize: input.MemorySize, Environment: input.Environment, Description: input.Description, Timeout: input.Timeout })
      fn.LastUpdateStatus = 'InProgress'
      return { ...fn }
    })
    lambdaMock.on(PublishVersionCommand).callsFake((input) => {
      busy()
      versions.push({ ...fn, Description: input.Description, Version: String(versions.length + 1), LastUpdateStatus: 'Successful' })
      return { Version: String(versions.length) }
    })
    return { fn, versions }
  }

  it('waits for every update to finish before the next, then publishes and moves the alias', async () => {
    const { versions } = fakeFunction({
      FunctionName: 'dogs-invoke',
      FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke',
      CodeSha256: 'old-sha',
      Architectures: ['arm64'],
      Runtime: 'nodejs24.x',
      Handler: 'handler.handler',
      Role: spec.roleArn,
      Description: spec.description,
      MemorySize: 128,
      Timeout: 30,
      Environment: { Variables: { ...spec.environment } },
    })
    versions.push({ CodeSha256: 'old-sha', MemorySize: 128 })
    lambdaMock.on(GetAliasCommand).resolves({ FunctionVersion: '1', AliasArn: 'arn:alias' })
    lambdaMock.on(UpdateAliasCommand).resolves({ AliasArn: 'arn:alias', FunctionVersion: '2' })
    const statuses: string[] = []
    const res = await ensureFunction(
      lambda,
      spec,
      { zip: Buffer.from('zip'), codeSha256: 'new-sha' },
      {
        clock: fastClock(),
        timeoutMs: 60_000,
        onStatus: (s) => statuses.push(s),
      },
    )
    expect(res).toMatchObject({ created: false, codeUpdated: true, configUpdated: ['MemorySize'], version: '2', published: true, previousVersion: '1' })
    expect(lambdaMock).toHaveReceivedCommandWith(UpdateFunctionCodeCommand, {
      FunctionName: 'dogs-invoke',
      ZipFile: Buffer.from('zip'),
      Architectures: ['arm64'],
      Publish: false,
    })
    expect(lambdaMock).toHaveReceivedCommandWith(PublishVersionCommand, { FunctionName: 'dogs-invoke', CodeSha256: 'new-sha' })
    expect(lambdaMock).toHaveReceivedCommandWith(UpdateAliasCommand, { FunctionName: 'dogs-invoke', Name: 'live', FunctionVersion: '2' })
    expect(statuses).toContain('dogs-invoke: state Active, last update InProgress')
    // The fake throws ResourceConflictException on overlap: reaching here proves the waits. Check the order too.
    const order = lambdaMock.calls().map((c) => c.args[0].constructor.name)
    const i = (name: string) => order.indexOf(name)
    expect(i('UpdateFunctionCodeCommand')).toBeLessThan(i('UpdateFunctionConfigurationCommand'))
    expect(order.slice(i('UpdateFunctionCodeCommand') + 1, i('UpdateFunctionConfigurationCommand'))).toEqual([
      'GetFunctionConfigurationCommand',
      'GetFunctionConfigurationCommand',
    ])

    // A re-run with the same package: no update, no PublishVersion, no alias change.
    lambdaMock.on(GetAliasCommand).resolves({ FunctionVersion: '2', AliasArn: 'arn:alias' })
    lambdaMock.resetHistory()
    const again = await ensureFunction(lambda, spec, { zip: Buffer.from('zip'), codeSha256: 'new-sha' }, { clock: fastClock(), timeoutMs: 60_000 })
    expect(again).toMatchObject({ codeUpdated: false, configUpdated: [], version: '2', published: false })
    expect(lambdaMock.calls().map((c) => c.args[0].constructor.name)).toEqual([
      'GetFunctionCommand',
      'GetFunctionConfigurationCommand',
      'GetAliasCommand',
      'GetFunctionConfigurationCommand',
    ])
  })

  it('retries CreateFunction, bounded, while a fresh role propagates', async () => {
    const propagating = Object.assign(new Error('The role defined for the function cannot be assumed by Lambda.'), { name: 'InvalidParameterValueException' })
    lambdaMock.on(GetFunctionCommand).rejects(Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' }))
    lambdaMock.on(CreateFunctionCommand).rejectsOnce(propagating).rejectsOnce(propagating).resolves({ FunctionArn: 'arn:fn' })
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ State: 'Active', LastUpdateStatus: 'Successful' })
    lambdaMock.on(GetAliasCommand).rejects(Object.assign(new Error('Alias not found'), { name: 'ResourceNotFoundException' }))
    lambdaMock.on(PublishVersionCommand).resolves({ Version: '1' })
    lambdaMock.on(CreateAliasCommand).resolves({ AliasArn: 'arn:fn:live' })
    const retries: number[] = []
    const res = await ensureFunction(
      lambda,
      spec,
      { zip: Buffer.from('z'), codeSha256: 'sha' },
      { clock: fastClock(), timeoutMs: 60_000, onRetry: (n) => retries.push(n) },
    )
    expect(res).toMatchObject({ created: true, version: '1', published: true, aliasArn: 'arn:fn:live' })
    expect(retries).toEqual([1, 2])
    expect(lambdaMock.commandCalls(CreateFunctionCommand)).toHaveLength(3)
    expect(lambdaMock).toHaveReceivedCommandWith(CreateFunctionCommand, {
      FunctionName: 'dogs-invoke',
      Handler: 'handler.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Publish: false,
      Environment: { Variables: { ENDPOINT_NAME: 'dogs-endpoint', TOP_K: '3', MAX_BODY_BYTES: '5242880' } },
    })
    expect(lambdaMock).toHaveReceivedCommandWith(CreateAliasCommand, { FunctionName: 'dogs-invoke', Name: 'live', FunctionVersion: '1' })

    lambdaMock.on(CreateFunctionCommand).rejects(propagating)
    await expect(ensureFunction(lambda, spec, { zip: Buffer.from('z'), codeSha256: 'sha' }, { clock: fastClock(), timeoutMs: 60_000 })).rejects.toThrow(
      /cannot be assumed/,
    )
    expect(lambdaMock.commandCalls(CreateFunctionCommand)).toHaveLength(3 + 8)
  })

  it('a failed update is an error with its reason; an update that never ends hits the deadline', async () => {
    lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { FunctionArn: 'arn:fn', CodeSha256: 'old', Architectures: ['arm64'] } })
    lambdaMock
      .on(GetFunctionConfigurationCommand)
      .resolvesOnce({ State: 'Active', LastUpdateStatus: 'Successful' })
      .resolves({ State: 'Active', LastUpdateStatus: 'Failed', LastUpdateStatusReason: 'The role is invalid' })
    lambdaMock.on(UpdateFunctionCodeCommand).resolves({})
    const pkg = { zip: Buffer.from('z'), codeSha256: 'sha', origin: 'esbuild' as const }
    await expect(ensureFunction(lambda, spec, pkg, { clock: fastClock(), timeoutMs: 60_000 })).rejects.toMatchObject({
      code: 'FunctionUpdateFailed',
      message: expect.stringMatching(/update failed: The role is invalid/),
    })

    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ State: 'Active', LastUpdateStatus: 'InProgress' })
    await expect(ensureFunction(lambda, spec, pkg, { clock: fastClock(), timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'DeadlineReached' })
  })
})

describe('concurrency preflight (pure)', () => {
  const base = { limit: 1000, unreserved: 1000, currentProvisioned: 0 }
  it("accepts a sensible request and accounts for the function's own reservation", () => {
    expect(checkConcurrency({ ...base, reserved: 5, provisioned: 2 })).toEqual({ unreservedAfter: 995 })
    // 900 reserved elsewhere, this function already holds 50 of them: it may grow to 100 unreserved left.
    expect(checkConcurrency({ limit: 1000, unreserved: 150, currentReserved: 50, currentProvisioned: 0, reserved: 100 })).toEqual({ unreservedAfter: 100 })
  })
  const refusals: [string, Parameters<typeof checkConcurrency>[0], string, RegExp][] = [
    ['new account, limit 10', { limit: 10, unreserved: 10, currentProvisioned: 0, reserved: 1 }, 'AccountConcurrencyTooLow', /limit in this region is 10/],
    ['new account, limit 50', { limit: 50, unreserved: 50, currentProvisioned: 0, reserved: 5 }, 'AccountConcurrencyTooLow', /Service Quotas/],
    ['leaves fewer than 100', { limit: 1000, unreserved: 150, currentProvisioned: 0, reserved: 60 }, 'ReservationTooLarge', /Reserve at most 50/],
    [
      'provisioned above the existing reservation',
      { ...base, currentReserved: 3, provisioned: 5 },
      'ProvisionedAboveReserved',
      /--lambda-reserved 5 --lambda-provisioned 5/,
    ],
    [
      'reservation below existing provisioned',
      { ...base, currentReserved: 10, currentProvisioned: 8, reserved: 4 },
      'ReservedBelowProvisioned',
      /--lambda-provisioned 4/,
    ],
    [
      'provisioned from a too-small unreserved pool',
      { limit: 1000, unreserved: 120, currentProvisioned: 0, provisioned: 50 },
      'ProvisionedTooLarge',
      /--lambda-provisioned 20 or less/,
    ],
  ]
  it.each(refusals)('refuses: %s', (_name, n, code, hint) => {
    let err: unknown
    try {
      checkConcurrency(n)
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code })
    expect(exitCodeFor(err)).toBe(2)
    expect(`${(err as Error).message} ${(err as { hint?: string }).hint}`).toMatch(hint)
  })

  it('costs provisioned concurrency per hour and per month', () => {
    const c = provisionedCost(256, 2)
    expect(c.hourlyUsd).toBeCloseTo(0.0000041667 * 0.25 * 2 * 3600, 10)
    expect(c.monthlyUsd).toBeCloseTo(c.hourlyUsd * 730, 10)
    expect(c.note).toMatch(/Billed while configured, even when idle/)
  })

  it('plans provisioned concurrency on the alias, never $LATEST', () => {
    const ops = planLambdaScale('dogs-invoke', 'live', 5, 2)
    expect(ops.map((o) => o.operation)).toEqual([
      'GetAlias',
      'GetAccountSettings',
      'GetFunctionConcurrency',
      'GetProvisionedConcurrencyConfig',
      'GetFunctionConfiguration',
      'PutFunctionConcurrency',
      'PutProvisionedConcurrencyConfig',
      'GetProvisionedConcurrencyConfig',
    ])
    expect(ops.find((o) => o.operation === 'PutProvisionedConcurrencyConfig')?.input).toEqual({
      FunctionName: 'dogs-invoke',
      Qualifier: 'live',
      ProvisionedConcurrentExecutions: 2,
    })
    expect(JSON.stringify(ops)).not.toContain('$LATEST')
  })
})

describe('runLambdaScale against fakes', () => {
  const lambdaMock = sdkMock(LambdaClient)
  const lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
  let dir: string
  beforeEach(async () => {
    dir = await tempProject(minimalConfig())
    lambdaMock.on(GetAliasCommand).resolves({ FunctionVersion: '3' })
    lambdaMock.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 } })
    lambdaMock.on(GetFunctionConcurrencyCommand).resolves({})
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ MemorySize: 1024 })
    lambdaMock
      .on(GetProvisionedConcurrencyConfigCommand)
      .rejects(Object.assign(new Error('No Provisioned Concurrency Config found'), { name: 'ProvisionedConcurrencyConfigNotFoundException' }))
  })

  async function scale(
    opts: { reserved?: number; provisioned?: number },
    o: { yes?: boolean; signal?: AbortSignal; dryRun?: boolean; env?: Record<string, string | undefined> } = {},
  ) {
    let stdout = ''
    let stderr = ''
    const ctx = new CommandContext(
      {
        stdout: { write: (s: string) => (stdout += s) },
        stderr: { write: (s: string) => (stderr += s) },
        stdinIsTTY: false,
        env: { NO_COLOR: '1', ...(o.env ?? {}) },
        cwd: dir,
        clock: fastClock(),
        signal: o.signal ?? new AbortController().signal,
        awsFactory: () => (async () => ({ lambda })) as never,
        version: 'test',
      },
      { yes: o.yes ?? true, dryRun: o.dryRun },
    )
    try {
      const outcome = await runLambdaScale(ctx, await ctx.config(), opts)
      const result: LambdaScaleResult & { operations?: readonly PlannedOperation[] } =
        outcome.kind === 'plan' ? { ...outcome.plan.details!, operations: outcome.plan.operations } : outcome.result
      return { result, code: 0, stdout, stderr }
    } catch (e) {
      return { error: e as Error & { code?: string; hint?: string }, code: exitCodeFor(e), stdout, stderr }
    }
  }

  it('FAILED provisioned concurrency is exit 1 with the StatusReason', async () => {
    lambdaMock.on(PutProvisionedConcurrencyConfigCommand).resolves({ Status: 'IN_PROGRESS' })
    lambdaMock
      .on(GetProvisionedConcurrencyConfigCommand)
      .rejectsOnce(Object.assign(new Error('none'), { name: 'ProvisionedConcurrencyConfigNotFoundException' }))
      .resolvesOnce({ Status: 'IN_PROGRESS', AllocatedProvisionedConcurrentExecutions: 0 })
      .resolves({ Status: 'FAILED', StatusReason: 'FUNCTION_ERROR_INIT_FAILURE' })
    const r = await scale({ reserved: 5, provisioned: 2 })
    expect(r.code).toBe(1)
    expect(r.error?.message).toMatch(/FAILED: FUNCTION_ERROR_INIT_FAILURE/)
    expect(r.error?.hint).toMatch(/--lambda-provisioned 0/)
    expect(lambdaMock).toHaveReceivedCommandWith(PutFunctionConcurrencyCommand, { FunctionName: 'dogs-invoke', ReservedConcurrentExecutions: 5 })
    expect(lambdaMock).toHaveReceivedCommandWith(PutProvisionedConcurrencyConfigCommand, {
      FunctionName: 'dogs-invoke',
      Qualifier: 'live',
      ProvisionedConcurrentExecutions: 2,
    })
  })

  it('waits with a deadline, and Ctrl-C says what is still billed', async () => {
    lambdaMock.on(PutProvisionedConcurrencyConfigCommand).resolves({ Status: 'IN_PROGRESS' })
    lambdaMock
      .on(GetProvisionedConcurrencyConfigCommand)
      .rejectsOnce(Object.assign(new Error('none'), { name: 'ProvisionedConcurrencyConfigNotFoundException' }))
      .resolves({ Status: 'IN_PROGRESS' })
    const slow = await scale({ provisioned: 1 })
    expect(slow.code).toBe(1)
    expect(slow.error?.message).toMatch(/Gave up waiting for provisioned concurrency on dogs-invoke:live to be READY after 900s/)

    const ac = new AbortController()
    let polls = 0
    lambdaMock.on(GetProvisionedConcurrencyConfigCommand).callsFake(() => {
      if (++polls === 1) throw Object.assign(new Error('none'), { name: 'ProvisionedConcurrencyConfigNotFoundException' })
      if (polls === 3) ac.abort()
      return { Status: 'IN_PROGRESS' }
    })
    const interrupted = await scale({ provisioned: 1 }, { signal: ac.signal })
    expect(interrupted.code).toBe(130)
    expect(interrupted.error?.message).toMatch(/it is billed\. Remove it with `mlops scale --lambda-provisioned 0`/)
  })

  it('preflight failures change nothing; without --yes and a terminal the cost needs confirmation', async () => {
    lambdaMock.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 10, UnreservedConcurrentExecutions: 10 } })
    const r = await scale({ reserved: 2 })
    expect(r.code).toBe(2)
    expect(r.error?.code).toBe('AccountConcurrencyTooLow')
    expect(lambdaMock.commandCalls(PutFunctionConcurrencyCommand)).toHaveLength(0)

    lambdaMock.on(GetAccountSettingsCommand).resolves({ AccountLimit: { ConcurrentExecutions: 1000, UnreservedConcurrentExecutions: 1000 } })
    const unconfirmed = await scale({ provisioned: 3 }, { yes: false })
    expect(unconfirmed.code).toBe(2)
    expect(unconfirmed.error?.code).toBe('ConfirmationRequired')
    expect(unconfirmed.error?.message).toMatch(/Keep 3 executions of dogs-invoke:live warm for about \$0\.05\/hour \(\$32\.85\/month\)/)
    expect(lambdaMock.commandCalls(PutProvisionedConcurrencyConfigCommand)).toHaveLength(0)

    lambdaMock.on(GetAliasCommand).rejects(Object.assign(new Error('Cannot find alias arn'), { name: 'ResourceNotFoundException' }))
    const noAlias = await scale({ reserved: 5 })
    expect(noAlias.error?.code).toBe('FunctionNotSetUp')
  })

  it('removes provisioned concurrency with 0, and shrinks it before lowering the reservation', async () => {
    lambdaMock.on(GetFunctionConcurrencyCommand).resolves({ ReservedConcurrentExecutions: 10 })
    lambdaMock.on(GetProvisionedConcurrencyConfigCommand).resolves({ RequestedProvisionedConcurrentExecutions: 8, Status: 'READY' })
    const removed = await scale({ reserved: 4, provisioned: 0 })
    expect(removed.code).toBe(0)
    expect(removed.result?.provisioned).toEqual({ previous: 8, requested: 0, changed: true, status: 'REMOVED' })
    const order = lambdaMock
      .calls()
      .map((c) => c.args[0].constructor.name)
      .filter((n) => /^(Put|Delete)/.test(n))
    expect(order).toEqual(['DeleteProvisionedConcurrencyConfigCommand', 'PutFunctionConcurrencyCommand'])
    expect(lambdaMock).toHaveReceivedCommandWith(DeleteProvisionedConcurrencyConfigCommand, { FunctionName: 'dogs-invoke', Qualifier: 'live' })

    // Unchanged values send nothing.
    lambdaMock.resetHistory()
    const same = await scale({ reserved: 10, provisioned: 8 })
    expect(same.result).toMatchObject({ reserved: { changed: false }, provisioned: { changed: false, status: 'READY' } })
    expect(
      lambdaMock
        .calls()
        .map((c) => c.args[0].constructor.name)
        .filter((n) => /^(Put|Delete)/.test(n)),
    ).toEqual([])
  })

  it('dry run: full requests, no clients, cost from the config', async () => {
    const r = await scale({ reserved: 5, provisioned: 2 }, { dryRun: true, env: OFFLINE_ENV })
    expect(r.code).toBe(0)
    expect(r.result).toMatchObject({ dryRun: true, functionName: 'dogs-invoke', cost: { memoryMb: 256, executions: 2 } })
    expect(r.result?.operations?.map((o) => o.operation)).toContain('PutProvisionedConcurrencyConfig')
    expect(lambdaMock.calls()).toHaveLength(0)
  })
})

describe('lambda-setup command', () => {
  it('--dry-run prints every request offline, with no credentials', async () => {
    const dir = await tempProject(minimalConfig('lambda:\n  memoryMb: 512\n'))
    const res = await runMlops(['lambda-setup', '--dry-run', '--json', '--url'], { cwd: dir, env: OFFLINE_ENV })
    expect(res.stderr).not.toMatch(/✖/)
    expect(res.code).toBe(0)
    const out = res.json()
    expect(out).toMatchObject({ dryRun: true, functionName: 'dogs-invoke', alias: 'live', url: { authType: 'AWS_IAM' } })
    expect(out.operations.map((o: { service: string; operation: string }) => `${o.service}:${o.operation}`)).toEqual([
      'sts:GetCallerIdentity',
      'sagemaker:DescribeEndpoint',
      'iam:GetRole',
      'iam:CreateRole',
      'iam:UpdateAssumeRolePolicy',
      'iam:TagRole',
      'iam:ListRolePolicies',
      'iam:GetRolePolicy',
      'iam:PutRolePolicy',
      'iam:DeleteRolePolicy',
      'iam:ListAttachedRolePolicies',
      'iam:DetachRolePolicy',
      'logs:DescribeLogGroups',
      'logs:CreateLogGroup',
      'logs:PutRetentionPolicy',
      'lambda:GetFunction',
      'lambda:CreateFunction',
      'lambda:GetFunctionConfiguration',
      'lambda:UpdateFunctionConfiguration',
      'lambda:UpdateFunctionCode',
      'lambda:UpdateFunctionConfiguration',
      'lambda:TagResource',
      'lambda:GetAlias',
      'lambda:PublishVersion',
      'lambda:CreateAlias',
      'lambda:UpdateAlias',
      'lambda:GetFunctionUrlConfig',
      'lambda:CreateFunctionUrlConfig',
      'lambda:UpdateFunctionUrlConfig',
      'lambda:GetPolicy',
      'lambda:RemovePermission',
      'lambda:RemovePermission',
      'lambda:Invoke',
    ])
    const create = out.operations.find((o: { operation: string }) => o.operation === 'CreateFunction').input
    expect(create).toMatchObject({
      FunctionName: 'dogs-invoke',
      Role: 'arn:aws:iam::<account-id>:role/dogs-lambda',
      MemorySize: 512,
      Handler: 'handler.handler',
      Environment: { Variables: { ENDPOINT_NAME: 'dogs-endpoint', TOP_K: '3' } },
      Tags: { 'mlops:project': 'dogs', 'mlops:managed-by': 'mlops' },
    })
    expect(create.Code.ZipFile).toMatch(new RegExp(`^<handler\\.zip: \\d+ bytes, CodeSha256 ${out.codeSha256.replace(/[+/]/g, '\\$&')}>$`))
    expect(out.operations.find((o: { operation: string }) => o.operation === 'Invoke').input).toEqual({
      FunctionName: 'dogs-invoke',
      Qualifier: 'live',
      Payload: expect.stringMatching(/^\{"image":"<base64 of assets\/sample\.jpg, \d+ bytes>"\}$/),
    })
    const policy = JSON.parse(out.operations.find((o: { operation: string }) => o.operation === 'PutRolePolicy').input.PolicyDocument)
    expect(policy.Statement).toHaveLength(2)
  })

  it('`mlops scale --lambda-reserved 5 --lambda-provisioned 2 --dry-run` plans offline with the cost', async () => {
    const dir = await tempProject(minimalConfig())
    const res = await runMlops(['scale', '--lambda-reserved', '5', '--lambda-provisioned', '2', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(res.stderr).not.toMatch(/✖/)
    expect(res.code).toBe(0)
    const out = res.json()
    expect(out.dryRun).toBe(true)
    expect(out.operations).toEqual(
      expect.arrayContaining([
        { service: 'lambda', operation: 'PutFunctionConcurrency', input: { FunctionName: 'dogs-invoke', ReservedConcurrentExecutions: 5 } },
        {
          service: 'lambda',
          operation: 'PutProvisionedConcurrencyConfig',
          input: { FunctionName: 'dogs-invoke', Qualifier: 'live', ProvisionedConcurrentExecutions: 2 },
        },
      ]),
    )
    expect(out.lambda.cost).toMatchObject({ executions: 2, memoryMb: 256 })
  })

  it('validates flags before anything else (exit 2)', async () => {
    const dir = await tempProject(minimalConfig())
    for (const [args, msg] of [
      // Checked by lambda.memoryMb, lambda.timeoutSeconds and lambda.functionName, in their words.
      [['--memory', '64'], '--memory: at least 128 MB, got "64".'],
      [['--timeout', '901'], '--timeout: at most 900 seconds, got "901".'],
      [['--public'], /--public only makes sense with --url/],
      [
        ['--function-name', 'bad name!'],
        '--function-name: expected letters, digits and single hyphens, starting and ending with a letter or digit, got "bad name!".',
      ],
    ] as const) {
      const res = await runMlops(['lambda-setup', ...args], { cwd: dir, env: OFFLINE_ENV })
      expect(res.code).toBe(2)
      if (typeof msg === 'string') expect(res.stderr).toContain(msg)
      else expect(res.stderr).toMatch(msg)
    }
  })
})
