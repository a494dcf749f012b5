import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { MlopsConfig } from '../../config/schema.js'
import type { CommandContext } from '../../context.js'
import { AbortError, InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { resourceNames } from '../../shared/naming.js'
import { planToJson } from '../../shared/plan.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { formatUsd, HOURS_PER_MONTH, lambdaProvisionedHourly, PRICE_NOTE } from '../../shared/pricing.js'
import { isAwsErrorNamed } from '../../aws/error-translation.js'
import {
  accountConcurrency,
  aliasVersion,
  deleteProvisionedConcurrency,
  deleteReservedConcurrency,
  functionMemory,
  provisionedConcurrency,
  putProvisionedConcurrency,
  putReservedConcurrency,
  reservedConcurrency,
  waitForProvisionedConcurrency,
} from '../../aws/lambda/concurrency.js'
import { MIN_UNRESERVED, planLambdaScale } from './plan.js'
import { costLine } from './render.js'
import type { LambdaScaleOptions, LambdaScalePlanDetails, LambdaScaleResult } from './types.js'

/**
 * Reserved and provisioned concurrency for the Lambda (`mlops scale --lambda-reserved N
 * --lambda-provisioned M`). Provisioned concurrency goes on the `live` alias, never $LATEST.
 * Preflight before any change: provisioned <= reserved, and the reservation leaves at least 100
 * unreserved executions in the account (new accounts often have a total of 10 or 50, so they
 * cannot reserve anything until AWS raises the quota).
 */

export interface ConcurrencyNumbers {
  /** AccountLimit.ConcurrentExecutions */
  readonly limit: number
  /** AccountLimit.UnreservedConcurrentExecutions */
  readonly unreserved: number
  /** This function's reservation now (undefined: none). */
  readonly currentReserved?: number
  /** Provisioned concurrency on the alias now (0: none). */
  readonly currentProvisioned: number
  /** null: the reservation is removed (`--lambda-reserved none`). */
  readonly reserved?: number | null
  readonly provisioned?: number
}

/**
 * The preflight, pure: throws a UserError (exit 2, nothing changed) naming the fix, or returns
 * the account's unreserved executions after the change.
 */
export function checkConcurrency(n: ConcurrencyNumbers): { unreservedAfter: number } {
  if (n.reserved === null)
    return checkConcurrency({ ...n, reserved: undefined, currentReserved: undefined, unreserved: n.unreserved + (n.currentReserved ?? 0) })
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
      `Reserved concurrency ${n.reserved} is below the ${n.currentProvisioned} provisioned executions on the live alias.`,
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

/** `mlops scale --lambda-reserved/--lambda-provisioned`: preflight, confirm, change, wait, record. */
export async function runLambdaScale(
  ctx: CommandContext,
  cfg: MlopsConfig,
  opts: LambdaScaleOptions,
): Promise<Outcome<LambdaScaleResult, LambdaScalePlanDetails>> {
  const prepared = await prepareLambdaScale(ctx, cfg, opts)
  return prepared.kind === 'plan' ? prepared : done(await applyLambdaScale(ctx, cfg, prepared))
}

/** Everything read, checked and confirmed for a Lambda concurrency change; nothing changed yet. */
export interface PreparedLambdaScale {
  readonly kind: 'prepared'
  readonly target: ScaleTarget
  readonly now: Awaited<ReturnType<typeof readConcurrency>>
  readonly want: LambdaScaleOptions
  readonly cost?: NonNullable<LambdaScaleResult['cost']>
}

/**
 * The reads, the preflight and every question of a Lambda concurrency change, and no write: `scale`
 * asks all its questions (this part's and the endpoint's) before its first change (issue 27).
 * Under --dry-run, the plan.
 */
export async function prepareLambdaScale(
  ctx: CommandContext,
  cfg: MlopsConfig,
  opts: LambdaScaleOptions,
): Promise<PreparedLambdaScale | Extract<Outcome<LambdaScaleResult, LambdaScalePlanDetails>, { kind: 'plan' }>> {
  const want = resolveConcurrency(cfg, opts)
  const { reserved, provisioned } = want
  const functionName = await resolveFunctionName(ctx, cfg)
  const alias = resourceNames(cfg).lambdaAlias
  if (reserved === 0) ctx.ui.warn(`Reserved concurrency 0 stops ${functionName} from running at all (every call is throttled).`)

  if (ctx.dryRun) {
    const operations = planLambdaScale(functionName, alias, reserved, provisioned)
    const details: LambdaScaleResult = {
      dryRun: true,
      functionName,
      alias,
      ...(reserved !== undefined ? { reserved: { previous: null, requested: reserved, changed: true } } : {}),
      ...(provisioned !== undefined ? { provisioned: { previous: null, requested: provisioned, changed: true, status: 'PLANNED' as const } } : {}),
      ...(provisioned ? { cost: provisionedCost(cfg.lambda.memoryMb, provisioned) } : {}),
    }
    return planned({
      title: `Lambda concurrency for ${functionName}:${alias}`,
      operations,
      notes: details.cost ? [costLine(details.cost)] : [],
      details: { ...details, operations: planToJson(operations) },
    })
  }

  const { lambda } = await ctx.clients(['lambda'], cfg)
  const target: ScaleTarget = { lambda, functionName, alias }
  const now = await readConcurrency(target, want)
  // A reservation of 0 takes the function off the air: its own question, even when it comes from a file.
  if (reserved === 0 && now.currentReserved !== 0) {
    const ok = await ctx.ui.confirm(
      `Set the reserved concurrency of ${functionName} to 0, so that every call is throttled until it is raised (or removed with --lambda-reserved none)?`,
    )
    if (!ok) throw new AbortError()
  }
  const cost = provisioned ? await confirmProvisionedCost(ctx, cfg, target, provisioned, now.currentProvisioned) : undefined
  return { kind: 'prepared', target, now, want, ...(cost ? { cost } : {}) }
}

/** The changes of a prepared Lambda concurrency change, the wait, and the record. */
export async function applyLambdaScale(ctx: CommandContext, cfg: MlopsConfig, p: PreparedLambdaScale): Promise<LambdaScaleResult> {
  const { target, now, want, cost } = p
  const { reserved, provisioned } = want
  const { functionName, alias } = target
  const changed = await applyConcurrency(ctx, target, now, want)
  let status: 'READY' | 'REMOVED' | undefined
  if (provisioned === 0) status = 'REMOVED'
  else if (provisioned !== undefined) status = await waitForProvisioned(ctx, cfg, target, provisioned)

  await recordConcurrency(ctx, functionName, {
    alias,
    version: now.version,
    roleName: resourceNames(cfg).lambdaRole,
    reserved: reserved === null ? undefined : (reserved ?? now.currentReserved),
    provisioned: provisioned ?? now.currentProvisioned,
  })
  return {
    dryRun: false,
    functionName,
    alias,
    version: now.version,
    ...(reserved !== undefined ? { reserved: { previous: now.currentReserved ?? null, requested: reserved, changed: changed.reserved } } : {}),
    ...(provisioned !== undefined && status
      ? { provisioned: { previous: now.currentProvisioned || null, requested: provisioned, changed: changed.provisioned, status } }
      : {}),
    account: { concurrencyLimit: now.limit, unreservedBefore: now.unreserved, unreservedAfter: now.unreservedAfter },
    ...(cost ? { cost } : {}),
  }
}

export interface ScaleTarget {
  readonly lambda: LambdaClient
  readonly functionName: string
  readonly alias: string
}

/** Flags over config, checked before anything else. */
function resolveConcurrency(cfg: MlopsConfig, opts: LambdaScaleOptions): LambdaScaleOptions {
  const reserved = opts.reserved !== undefined ? opts.reserved : cfg.lambda.reservedConcurrency
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
    if (v !== undefined && v !== null && (!Number.isInteger(v) || v < 0))
      throw new UserError('InvalidFlag', `${flag} must be a whole number 0 or more, got ${v}.`)
  }
  if (typeof reserved === 'number' && provisioned !== undefined && provisioned > reserved) {
    throw new UserError('ProvisionedAboveReserved', `--lambda-provisioned ${provisioned} is more than --lambda-reserved ${reserved}.`, {
      hint: 'Provisioned executions are part of the reservation: use a provisioned value at or below the reserved one.',
    })
  }
  return { reserved, provisioned }
}

/** Preflight: read everything and decide (checkConcurrency) before anything changes. */
async function readConcurrency(t: ScaleTarget, want: LambdaScaleOptions) {
  const resource = `${t.functionName}:${t.alias}`
  const version = await aliasVersion(t.lambda, t.functionName, t.alias)
  if (!version) {
    throw new UserError('FunctionNotSetUp', `Lambda ${t.functionName} has no "${t.alias}" alias yet, and concurrency goes on that alias.`, {
      hint: 'Run `mlops lambda-setup` first.',
    })
  }
  const { limit, unreserved } = await accountConcurrency(t.lambda, resource)
  const currentReserved = await reservedConcurrency(t.lambda, t.functionName, resource)
  const currentProvisioned = (await provisionedConcurrency(t.lambda, t.functionName, t.alias))?.RequestedProvisionedConcurrentExecutions ?? 0
  const { unreservedAfter } = checkConcurrency({ limit, unreserved, currentReserved, currentProvisioned, ...want })
  return { version, limit, unreserved, unreservedAfter, currentReserved, currentProvisioned }
}

/** The cost of the warm executions, confirmed when the run adds some. */
async function confirmProvisionedCost(ctx: CommandContext, cfg: MlopsConfig, t: ScaleTarget, provisioned: number, currentProvisioned: number) {
  const memory = await functionMemory(t.lambda, t.functionName, t.alias)
  const cost = provisionedCost(memory ?? cfg.lambda.memoryMb, provisioned)
  if (provisioned > currentProvisioned) {
    const ok = await ctx.ui.confirm(
      `Keep ${provisioned} execution${provisioned === 1 ? '' : 's'} of ${t.functionName}:${t.alias} warm for about ${formatUsd(cost.hourlyUsd)}/hour (${formatUsd(cost.monthlyUsd)}/month), billed even when idle?`,
    )
    if (!ok) throw new AbortError()
  }
  return cost
}

/** Puts the reservation and the provisioned executions, in the order AWS accepts. */
async function applyConcurrency(
  ctx: CommandContext,
  t: ScaleTarget,
  now: Awaited<ReturnType<typeof readConcurrency>>,
  { reserved, provisioned }: LambdaScaleOptions,
): Promise<{ reserved: boolean; provisioned: boolean }> {
  const target = `${t.functionName}:${t.alias}`
  const reservedChanged = reserved === null ? now.currentReserved !== undefined : reserved !== undefined && reserved !== now.currentReserved
  const provisionedChanged = provisioned !== undefined && provisioned !== now.currentProvisioned
  const explain = (e: unknown) => {
    throw explainConcurrencyError(e, now.limit)
  }
  const putReserved = async () => {
    if (!reservedChanged || reserved === undefined) return
    ctx.ui.step(`Reserved concurrency of ${t.functionName}: ${now.currentReserved ?? 'none'} -> ${reserved ?? 'none (unreserved pool)'}`)
    if (reserved === null) await deleteReservedConcurrency(t.lambda, t.functionName, target)
    else await putReservedConcurrency(t.lambda, t.functionName, reserved, target).catch(explain)
  }
  const putProvisioned = async () => {
    if (provisioned === undefined || !provisionedChanged) return
    if (provisioned === 0) {
      ctx.ui.step(`Removing provisioned concurrency from ${target} (was ${now.currentProvisioned})`)
      await deleteProvisionedConcurrency(t.lambda, t.functionName, t.alias)
      return
    }
    ctx.ui.step(`Provisioned concurrency of ${target} (version ${now.version}): ${now.currentProvisioned || 'none'} -> ${provisioned}`)
    await putProvisionedConcurrency(t.lambda, t.functionName, t.alias, provisioned).catch(explain)
  }
  // Lowering the reservation below today's provisioned executions: shrink provisioned first.
  if (typeof reserved === 'number' && reserved < now.currentProvisioned) {
    await putProvisioned()
    await putReserved()
  } else {
    await putReserved()
    await putProvisioned()
  }
  return { reserved: reservedChanged, provisioned: provisionedChanged }
}

async function waitForProvisioned(ctx: CommandContext, cfg: MlopsConfig, t: ScaleTarget, n: number): Promise<'READY'> {
  const target = `${t.functionName}:${t.alias}`
  const spin = ctx.ui.spinner(`Waiting for ${n} provisioned execution${n === 1 ? '' : 's'} of ${target} to be READY…`)
  try {
    const out = await waitForProvisionedConcurrency(t.lambda, t.functionName, t.alias, {
      clock: ctx.clock,
      signal: ctx.signal,
      timeoutMs: cfg.lambda.provisionedTimeout * 1000,
      executions: n,
      rerunHint: `Check with \`aws lambda get-provisioned-concurrency-config --function-name ${t.functionName} --qualifier ${t.alias}\`; it is billed while allocated.`,
      onStatus: (s) => spin.update(`${target}: ${s}`),
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
  v: { alias: string; version: string; roleName: string; reserved?: number; provisioned: number },
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
      alias: v.alias,
      version: v.version,
      reservedConcurrency: v.reserved ?? null,
      provisionedConcurrency: v.provisioned,
    },
  })
}
