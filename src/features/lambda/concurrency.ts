import {
  DeleteProvisionedConcurrencyConfigCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetProvisionedConcurrencyConfigCommand,
  PutFunctionConcurrencyCommand,
  PutProvisionedConcurrencyConfigCommand,
  type LambdaClient,
} from '@aws-sdk/client-lambda'
import type { ChalkInstance } from 'chalk'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { renderPlan, type PlannedOperation } from '../../shared/plan.js'
import { formatUsd, HOURS_PER_MONTH, lambdaProvisionedHourly, PRICE_NOTE } from '../../shared/pricing.js'
import { pollUntil } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../../aws/errors.js'

/**
 * Reserved and provisioned concurrency for the Lambda (`mlops scale --lambda-reserved N
 * --lambda-provisioned M`). Provisioned concurrency goes on the `live` alias, never $LATEST.
 * Preflight before any change: provisioned <= reserved, and the reservation leaves at least 100
 * unreserved executions in the account (new accounts often have a total of 10 or 50, so they
 * cannot reserve anything until AWS raises the quota).
 */

export const LIVE_ALIAS = 'live'
/** AWS keeps this many executions unreserved (or the whole limit, when it is lower). */
export const MIN_UNRESERVED = 100

export interface LambdaScaleResult {
  readonly dryRun: boolean
  readonly functionName: string
  readonly alias: string
  /** The version `live` points at (what provisioned concurrency warms). */
  readonly version?: string
  readonly reserved?: { readonly previous: number | null; readonly requested: number; readonly changed: boolean }
  /** requested 0 = removed. status: READY after the wait, REMOVED, or PLANNED in a dry run. */
  readonly provisioned?: {
    readonly previous: number | null
    readonly requested: number
    readonly changed: boolean
    readonly status: 'READY' | 'REMOVED' | 'PLANNED'
  }
  readonly account?: { readonly concurrencyLimit: number; readonly unreservedBefore: number; readonly unreservedAfter: number }
  /** Provisioned concurrency cost; absent when none is configured. */
  readonly cost?: { readonly memoryMb: number; readonly executions: number; readonly hourlyUsd: number; readonly monthlyUsd: number; readonly note: string }
  /** Dry run only: every request, in order. */
  readonly operations?: PlannedOperation[]
}

export interface ConcurrencyNumbers {
  /** AccountLimit.ConcurrentExecutions */
  readonly limit: number
  /** AccountLimit.UnreservedConcurrentExecutions */
  readonly unreserved: number
  /** This function's reservation now (undefined: none). */
  readonly currentReserved?: number
  /** Provisioned concurrency on the alias now (0: none). */
  readonly currentProvisioned: number
  readonly reserved?: number
  readonly provisioned?: number
}

/**
 * The preflight, pure: throws a UserError (exit 2, nothing changed) naming the fix, or returns
 * the account's unreserved executions after the change.
 */
export function checkConcurrency(n: ConcurrencyNumbers): { unreservedAfter: number } {
  const effectiveReserved = n.reserved ?? n.currentReserved
  const provisioned = n.provisioned ?? n.currentProvisioned
  if (n.provisioned !== undefined && n.provisioned > 0 && effectiveReserved !== undefined && n.provisioned > effectiveReserved) {
    throw new UserError(
      'ProvisionedAboveReserved',
      `Provisioned concurrency ${n.provisioned} is more than the function's reserved concurrency ${effectiveReserved}.`,
      {
        hint:
          n.reserved === undefined
            ? `Raise the reservation too: --lambda-reserved ${n.provisioned} --lambda-provisioned ${n.provisioned}.`
            : `Use --lambda-provisioned ${effectiveReserved} or less, or raise --lambda-reserved.`,
      },
    )
  }
  if (n.reserved !== undefined && n.provisioned === undefined && n.currentProvisioned > n.reserved) {
    throw new UserError(
      'ReservedBelowProvisioned',
      `Reserved concurrency ${n.reserved} is below the ${n.currentProvisioned} provisioned executions on the ${LIVE_ALIAS} alias.`,
      {
        hint: `Lower provisioned concurrency in the same command: --lambda-reserved ${n.reserved} --lambda-provisioned ${n.reserved}.`,
      },
    )
  }
  const freed = n.currentReserved ?? 0
  const unreservedAfter = n.reserved === undefined ? n.unreserved : n.unreserved + freed - n.reserved
  if (n.reserved !== undefined && n.reserved > 0 && unreservedAfter < MIN_UNRESERVED) {
    if (n.limit <= MIN_UNRESERVED) {
      throw new UserError(
        'AccountConcurrencyTooLow',
        `Your account's Lambda concurrency limit in this region is ${n.limit}, so no function can reserve any: AWS keeps at least ${MIN_UNRESERVED} executions (or the whole limit, when lower) unreserved.`,
        {
          hint:
            'New accounts start at 10 or 50. Request an increase of "Concurrent executions" for AWS Lambda in the Service Quotas ' +
            'console (1000 is the usual default), or leave out --lambda-reserved: the function still runs on the unreserved pool.',
        },
      )
    }
    const most = n.unreserved + freed - MIN_UNRESERVED
    throw new UserError(
      'ReservationTooLarge',
      `Reserving ${n.reserved} would leave ${unreservedAfter} unreserved executions in the account; AWS requires at least ${MIN_UNRESERVED}.`,
      {
        hint:
          most > 0
            ? `Reserve at most ${most} (account limit ${n.limit}, ${n.unreserved} unreserved now).`
            : 'Other functions hold the reservations; request a higher "Concurrent executions" quota in Service Quotas.',
      },
    )
  }
  // Without a reservation, provisioned executions come out of the unreserved pool.
  if (n.provisioned !== undefined && n.provisioned > 0 && effectiveReserved === undefined) {
    const room = n.unreserved + n.currentProvisioned - MIN_UNRESERVED
    if (provisioned > room) {
      throw new UserError(
        'ProvisionedTooLarge',
        `Provisioned concurrency ${provisioned} would leave fewer than ${MIN_UNRESERVED} unreserved executions (limit ${n.limit}, ${n.unreserved} unreserved).`,
        {
          hint: room > 0 ? `Use --lambda-provisioned ${room} or less.` : 'Request a higher "Concurrent executions" quota in Service Quotas.',
        },
      )
    }
  }
  return { unreservedAfter }
}

/** Cost of keeping `executions` warm for a function of `memoryMb`. */
export function provisionedCost(memoryMb: number, executions: number): NonNullable<LambdaScaleResult['cost']> {
  const hourlyUsd = lambdaProvisionedHourly(memoryMb, executions)
  return {
    memoryMb,
    executions,
    hourlyUsd,
    monthlyUsd: hourlyUsd * HOURS_PER_MONTH,
    note: `Billed while configured, even when idle (plus the usual per-request and duration charges). ${PRICE_NOTE}`,
  }
}

/** The function mlops manages: lambda.functionName, else the one lambda-setup recorded, else `<project>-invoke`. */
async function resolveFunctionName(ctx: CommandContext, cfg: MlopsConfig): Promise<string> {
  if (cfg.lambda.functionName) return cfg.lambda.functionName
  const recorded = await ctx.state().latest('function')
  return recorded?.name ?? resourceNames(cfg).lambdaFunction
}

/** Every request of a scale run, in order, with full inputs. Pure. */
export function planLambdaScale(functionName: string, reserved: number | undefined, provisioned: number | undefined): PlannedOperation[] {
  const q = { FunctionName: functionName, Qualifier: LIVE_ALIAS }
  const ops: PlannedOperation[] = [
    { service: 'lambda', operation: 'GetAlias', input: { FunctionName: functionName, Name: LIVE_ALIAS }, note: 'must exist: `mlops lambda-setup` creates it' },
    { service: 'lambda', operation: 'GetAccountSettings', input: {}, note: `preflight: at least ${MIN_UNRESERVED} executions must stay unreserved` },
    { service: 'lambda', operation: 'GetFunctionConcurrency', input: { FunctionName: functionName } },
    { service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', input: q, note: 'current value (not found: none)' },
  ]
  if (provisioned !== undefined && provisioned > 0) {
    ops.push({ service: 'lambda', operation: 'GetFunctionConfiguration', input: q, note: 'memory size, for the cost' })
  }
  if (reserved !== undefined) {
    ops.push({
      service: 'lambda',
      operation: 'PutFunctionConcurrency',
      input: { FunctionName: functionName, ReservedConcurrentExecutions: reserved },
      note: 'only if it differs',
    })
  }
  if (provisioned !== undefined && provisioned > 0) {
    ops.push(
      {
        service: 'lambda',
        operation: 'PutProvisionedConcurrencyConfig',
        input: { ...q, ProvisionedConcurrentExecutions: provisioned },
        note: 'only if it differs',
      },
      { service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', input: q, note: 'poll until Status is READY' },
    )
  } else if (provisioned === 0) {
    ops.push({ service: 'lambda', operation: 'DeleteProvisionedConcurrencyConfig', input: q, note: 'only if one is configured' })
  }
  return ops
}

export async function runLambdaScale(ctx: CommandContext, cfg: MlopsConfig, opts: { reserved?: number; provisioned?: number }): Promise<LambdaScaleResult> {
  const reserved = opts.reserved ?? cfg.lambda.reservedConcurrency
  const provisioned = opts.provisioned ?? cfg.lambda.provisionedConcurrency
  if (reserved === undefined && provisioned === undefined) {
    throw new UserError('NothingToScale', 'No Lambda concurrency given.', {
      hint: 'Pass --lambda-reserved <n> and/or --lambda-provisioned <n> (or set lambda.reservedConcurrency in the config).',
    })
  }
  for (const [flag, v] of [
    ['--lambda-reserved', reserved],
    ['--lambda-provisioned', provisioned],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new UserError('InvalidFlag', `${flag} must be a whole number 0 or more, got ${v}.`)
  }
  if (reserved !== undefined && provisioned !== undefined && provisioned > reserved) {
    throw new UserError('ProvisionedAboveReserved', `--lambda-provisioned ${provisioned} is more than --lambda-reserved ${reserved}.`, {
      hint: 'Provisioned executions are part of the reservation: use a provisioned value at or below the reserved one.',
    })
  }
  const functionName = await resolveFunctionName(ctx, cfg)
  if (reserved === 0) ctx.ui.warn(`Reserved concurrency 0 stops ${functionName} from running at all (every call is throttled).`)

  if (ctx.dryRun) {
    return {
      dryRun: true,
      functionName,
      alias: LIVE_ALIAS,
      ...(reserved !== undefined ? { reserved: { previous: null, requested: reserved, changed: true } } : {}),
      ...(provisioned !== undefined ? { provisioned: { previous: null, requested: provisioned, changed: true, status: 'PLANNED' as const } } : {}),
      ...(provisioned ? { cost: provisionedCost(cfg.lambda.memoryMb, provisioned) } : {}),
      operations: planLambdaScale(functionName, reserved, provisioned),
    }
  }

  const { lambda } = await ctx.clients(['lambda'], cfg)
  const target = `${functionName}:${LIVE_ALIAS}`
  const call = <T>(operation: string, fn: () => Promise<T>) => callAws({ service: 'lambda', operation, resource: target }, fn)
  const orUndefined = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p
    } catch (e) {
      if (isNotFound(e) || isAwsErrorNamed(e, 'ProvisionedConcurrencyConfigNotFoundException')) return undefined
      throw e
    }
  }

  // Preflight: read everything, decide, and only then change anything.
  const alias = await call('GetAlias', () => orUndefined(lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: LIVE_ALIAS }))))
  if (!alias?.FunctionVersion) {
    throw new UserError('FunctionNotSetUp', `Lambda ${functionName} has no "${LIVE_ALIAS}" alias yet, and concurrency goes on that alias.`, {
      hint: 'Run `mlops lambda-setup` first.',
    })
  }
  const settings = await call('GetAccountSettings', () => lambda.send(new GetAccountSettingsCommand({})))
  const limit = settings.AccountLimit?.ConcurrentExecutions ?? 0
  const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? limit
  const currentReserved = (await call('GetFunctionConcurrency', () => lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }))))
    .ReservedConcurrentExecutions
  const pcc = await call('GetProvisionedConcurrencyConfig', () =>
    orUndefined(lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: LIVE_ALIAS }))),
  )
  const currentProvisioned = pcc?.RequestedProvisionedConcurrentExecutions ?? 0
  const { unreservedAfter } = checkConcurrency({ limit, unreserved, currentReserved, currentProvisioned, reserved, provisioned })

  let cost: LambdaScaleResult['cost']
  if (provisioned) {
    const conf = await call('GetFunctionConfiguration', () =>
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: LIVE_ALIAS })),
    )
    cost = provisionedCost(conf.MemorySize ?? cfg.lambda.memoryMb, provisioned)
    if (provisioned > currentProvisioned) {
      const ok = await ctx.ui.confirm(
        `Keep ${provisioned} execution${provisioned === 1 ? '' : 's'} of ${target} warm for about ${formatUsd(cost.hourlyUsd)}/hour (${formatUsd(cost.monthlyUsd)}/month), billed even when idle?`,
      )
      if (!ok) throw new AbortError()
    }
  }

  const reservedChanged = reserved !== undefined && reserved !== currentReserved
  const provisionedChanged = provisioned !== undefined && provisioned !== currentProvisioned
  const putReserved = async () => {
    if (!reservedChanged) return
    ctx.ui.step(`Reserved concurrency of ${functionName}: ${currentReserved ?? 'none'} -> ${reserved}`)
    await call('PutFunctionConcurrency', () =>
      lambda.send(new PutFunctionConcurrencyCommand({ FunctionName: functionName, ReservedConcurrentExecutions: reserved })),
    ).catch((e) => {
      throw explainConcurrencyError(e, limit)
    })
  }
  const putProvisioned = async () => {
    if (provisioned === undefined || !provisionedChanged) return
    if (provisioned === 0) {
      ctx.ui.step(`Removing provisioned concurrency from ${target} (was ${currentProvisioned})`)
      await call('DeleteProvisionedConcurrencyConfig', () =>
        lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: LIVE_ALIAS })),
      )
      return
    }
    ctx.ui.step(`Provisioned concurrency of ${target} (version ${alias.FunctionVersion}): ${currentProvisioned || 'none'} -> ${provisioned}`)
    await call('PutProvisionedConcurrencyConfig', () =>
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: LIVE_ALIAS, ProvisionedConcurrentExecutions: provisioned }),
      ),
    ).catch((e) => {
      throw explainConcurrencyError(e, limit)
    })
  }
  // Lowering the reservation below today's provisioned executions: shrink provisioned first.
  if (reserved !== undefined && reserved < currentProvisioned) {
    await putProvisioned()
    await putReserved()
  } else {
    await putReserved()
    await putProvisioned()
  }

  let status: 'READY' | 'REMOVED' | undefined
  if (provisioned === 0) status = 'REMOVED'
  else if (provisioned !== undefined) status = await waitForProvisioned(ctx, cfg, lambda, functionName, provisioned)

  await recordConcurrency(ctx, functionName, {
    version: alias.FunctionVersion,
    roleName: resourceNames(cfg).lambdaRole,
    reserved: reserved ?? currentReserved,
    provisioned: provisioned ?? currentProvisioned,
  })
  return {
    dryRun: false,
    functionName,
    alias: LIVE_ALIAS,
    version: alias.FunctionVersion,
    ...(reserved !== undefined ? { reserved: { previous: currentReserved ?? null, requested: reserved, changed: reservedChanged } } : {}),
    ...(provisioned !== undefined && status
      ? { provisioned: { previous: currentProvisioned || null, requested: provisioned, changed: provisionedChanged, status } }
      : {}),
    account: { concurrencyLimit: limit, unreservedBefore: unreserved, unreservedAfter },
    ...(cost ? { cost } : {}),
  }
}

async function waitForProvisioned(ctx: CommandContext, cfg: MlopsConfig, lambda: LambdaClient, functionName: string, n: number): Promise<'READY'> {
  const target = `${functionName}:${LIVE_ALIAS}`
  const spin = ctx.ui.spinner(`Waiting for ${n} provisioned execution${n === 1 ? '' : 's'} of ${target} to be READY…`)
  try {
    const out = await pollUntil({
      what: `provisioned concurrency on ${target} to be READY`,
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: cfg.lambda.provisionedTimeout * 1000,
      intervalMs: 5000,
      rerunHint: `Check with \`aws lambda get-provisioned-concurrency-config --function-name ${functionName} --qualifier ${LIVE_ALIAS}\`; it is billed while allocated.`,
      onStatus: (s) => spin.update(`${target}: ${s}`),
      check: async () => {
        const c = await callAws({ service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', resource: target }, () =>
          lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: functionName, Qualifier: LIVE_ALIAS })),
        )
        const status = c.Status ?? 'IN_PROGRESS'
        return { done: status !== 'IN_PROGRESS', value: c, status: `${status} (${c.AllocatedProvisionedConcurrentExecutions ?? 0}/${n} allocated)` }
      },
    })
    if (out.Status === 'FAILED') {
      spin.fail()
      throw new OperationError('ProvisionedConcurrencyFailed', `Provisioned concurrency on ${target} FAILED: ${out.StatusReason ?? 'no reason given'}`, {
        hint:
          'FUNCTION_ERROR_INIT_FAILURE means the handler fails to start: test it with `mlops lambda-setup`. ' +
          `Remove the failed config with \`mlops scale --lambda-provisioned 0\`.`,
      })
    }
    spin.succeed(`${target}: ${n} provisioned execution${n === 1 ? '' : 's'} READY`)
    return 'READY'
  } catch (e) {
    spin.stop()
    if (e instanceof InterruptedError) {
      throw new InterruptedError(
        `Interrupted while waiting; AWS keeps allocating provisioned concurrency on ${target}, and it is billed. Remove it with \`mlops scale --lambda-provisioned 0\`.`,
      )
    }
    throw e
  }
}

/** The reservation limits AWS enforces, with the same advice the preflight gives. */
function explainConcurrencyError(e: unknown, limit: number): unknown {
  if (isAwsErrorNamed(e, 'InvalidParameterValueException') && /UnreservedConcurrentExecution|concurrency/i.test((e as Error).message ?? '')) {
    return new UserError('ConcurrencyRejected', `AWS refused the concurrency change: ${(e as Error).message}`, {
      hint: `Account limit here is ${limit}. Request an increase of "Concurrent executions" for AWS Lambda in the Service Quotas console, or ask for less.`,
      cause: e,
    })
  }
  return e
}

async function recordConcurrency(
  ctx: CommandContext,
  functionName: string,
  v: { version: string; roleName: string; reserved?: number; provisioned: number },
): Promise<void> {
  const state = ctx.state()
  const existing = (await state.list('function')).find((r) => r.name === functionName)
  await state.record({
    kind: 'function',
    name: functionName,
    arn: existing?.arn,
    region: existing?.region ?? ctx.awsSettings().region,
    createdAt: existing?.createdAt ?? new Date(ctx.clock.now()).toISOString(),
    details: {
      roleName: v.roleName,
      ...existing?.details,
      alias: LIVE_ALIAS,
      version: v.version,
      reservedConcurrency: v.reserved ?? null,
      provisionedConcurrency: v.provisioned,
    },
  })
}

export function renderLambdaScale(result: LambdaScaleResult, c: ChalkInstance): string {
  const target = `${result.functionName}:${result.alias}`
  const costLine = result.cost
    ? `Provisioned concurrency cost: about ${formatUsd(result.cost.hourlyUsd)}/hour, ${formatUsd(result.cost.monthlyUsd)}/month ` +
      `(${result.cost.executions} x ${result.cost.memoryMb} MB). ${result.cost.note}`
    : undefined
  if (result.dryRun) {
    return renderPlan(`Lambda concurrency for ${target}`, result.operations ?? [], c, costLine ? [costLine] : [])
  }
  const lines = [c.bold(`Lambda ${target}${result.version ? ` (version ${result.version})` : ''}`)]
  if (result.reserved) {
    const r = result.reserved
    lines.push(`  reserved     ${r.requested}${r.changed ? ` (was ${r.previous ?? 'none'})` : ' (unchanged)'}`)
  }
  if (result.provisioned) {
    const p = result.provisioned
    lines.push(
      p.status === 'REMOVED'
        ? `  provisioned  none${p.changed ? ` (removed ${p.previous ?? 0})` : ''}`
        : `  provisioned  ${p.requested} ${p.status}${p.changed ? ` (was ${p.previous ?? 'none'})` : ' (unchanged)'}`,
    )
  }
  if (result.account) {
    lines.push(`  account      limit ${result.account.concurrencyLimit}, unreserved ${result.account.unreservedAfter}`)
  }
  if (costLine) {
    lines.push(c.yellow(costLine))
    lines.push(
      `Left running: ${result.cost!.executions} warm execution${result.cost!.executions === 1 ? '' : 's'}. Remove with \`mlops scale --lambda-provisioned 0\`.`,
    )
  }
  return lines.join('\n')
}
