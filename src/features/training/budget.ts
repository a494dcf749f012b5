import { UserError } from '../../shared/errors.js'
import { formatDuration } from '../../shared/duration.js'
import { formatUsd, hourlyPrice, TABLE_PRICES, type PriceBook } from '../../shared/pricing.js'
import type { TrainingSettings } from './request.js'

/**
 * `--budget <usd>` (issue 18 item 5): the most a run may cost, turned into the limits SageMaker
 * enforces. `train`: MaxRuntimeInSeconds = budget / (hourly price x instances), never above
 * training.maxRuntime (both are ceilings, the tighter one wins); with spot, MaxWaitTimeInSeconds
 * keeps the configured capacity wait on top. `tune`: the number of training jobs = budget / the
 * most one job can cost. Prices are on-demand list prices, an upper bound for spot, from the same
 * PriceBook as the run's cost estimate (the region's price list when it answered): one price book,
 * or `--budget 1` would print "cost up to $1.43" (issue 27). Pure.
 */

/**
 * The shortest run a budget must cover. Provisioning, the image pull and the data download take
 * several minutes before the first step, so a limit below this stops a job before it saves a model.
 */
export const MIN_RUN_SECONDS = 15 * 60

export interface TrainBudget {
  readonly budgetUsd: number
  readonly hourlyUsd: number
  readonly instances: number
  /** Seconds the budget buys at hourlyUsd x instances. */
  readonly coversSeconds: number
  readonly maxRuntimeSeconds: number
  /** Spot only. */
  readonly maxWaitSeconds?: number
  /** Which ceiling set MaxRuntimeInSeconds. */
  readonly limitedBy: 'budget' | 'training.maxRuntime'
  /** The arithmetic, for the summary and the plan. */
  readonly arithmetic: string
}

function priceOf(s: Pick<TrainingSettings, 'instanceType'>, prices: PriceBook): number {
  const hourly = hourlyPrice(s.instanceType, prices)
  if (hourly === undefined) {
    throw new UserError(
      'BudgetNeedsPrice',
      `--budget needs the hourly price of ${s.instanceType}: the price list did not give one, and it is not in the built-in price table.`,
      {
        hint: 'Use an instance type with a known price (for example ml.g4dn.xlarge), or drop --budget and set training.maxRuntime yourself.',
      },
    )
  }
  return hourly
}

/** `train --budget`: the run's limits from the budget. UserError when the budget cannot buy MIN_RUN_SECONDS. */
export function trainBudget(
  budgetUsd: number,
  s: Pick<TrainingSettings, 'instanceType' | 'instanceCount' | 'spot' | 'maxRuntimeSeconds' | 'maxWaitSeconds'>,
  prices: PriceBook = TABLE_PRICES,
): TrainBudget {
  const hourly = priceOf(s, prices)
  const perHour = hourly * s.instanceCount
  const coversSeconds = Math.floor((budgetUsd / perHour) * 3600)
  const rate = `${formatUsd(hourly)}/h × ${s.instanceCount} instance${s.instanceCount === 1 ? '' : 's'} = ${formatUsd(perHour)}/h`
  if (coversSeconds < MIN_RUN_SECONDS) {
    throw new UserError(
      'BudgetTooSmall',
      `--budget ${formatUsd(budgetUsd)} covers ${formatDuration(coversSeconds)} at ${rate}; a training run needs at least ${formatDuration(MIN_RUN_SECONDS)}.`,
      { hint: `Raise --budget to at least ${formatUsd(Math.ceil(((perHour * MIN_RUN_SECONDS) / 3600) * 100) / 100)}, or use fewer or cheaper instances.` },
    )
  }
  const limitedBy = coversSeconds < s.maxRuntimeSeconds ? 'budget' : 'training.maxRuntime'
  const maxRuntimeSeconds = Math.min(coversSeconds, s.maxRuntimeSeconds)
  // Waiting for spot capacity costs nothing: keep the configured wait on top of the run.
  const maxWaitSeconds = s.spot ? maxRuntimeSeconds + Math.max(0, s.maxWaitSeconds - s.maxRuntimeSeconds) : undefined
  const arithmetic =
    `${formatUsd(budgetUsd)} ÷ (${rate}) = ${formatDuration(coversSeconds)}; max runtime ${formatDuration(maxRuntimeSeconds)}` +
    (limitedBy === 'budget' ? ' (set by the budget)' : ` (training.maxRuntime is the tighter limit)`) +
    (maxWaitSeconds !== undefined ? `, max wait ${formatDuration(maxWaitSeconds)} (spot capacity wait is not billed)` : '')
  return {
    budgetUsd,
    hourlyUsd: hourly,
    instances: s.instanceCount,
    coversSeconds,
    maxRuntimeSeconds,
    ...(maxWaitSeconds !== undefined ? { maxWaitSeconds } : {}),
    limitedBy,
    arithmetic,
  }
}

/** The settings with the budget's limits applied. */
export function withTrainBudget<S extends Pick<TrainingSettings, 'maxRuntimeSeconds' | 'maxWaitSeconds'>>(s: S, b: TrainBudget): S {
  return { ...s, maxRuntimeSeconds: b.maxRuntimeSeconds, ...(b.maxWaitSeconds !== undefined ? { maxWaitSeconds: b.maxWaitSeconds } : {}) }
}

export interface TuneBudget {
  readonly budgetUsd: number
  readonly hourlyUsd: number
  readonly instances: number
  /** The most one training job can cost: price x instances x training.maxRuntime. */
  readonly perJobUsd: number
  /** Training jobs the budget covers. */
  readonly jobs: number
  readonly arithmetic: string
}

/**
 * `tune --budget`: how many training jobs the budget covers at their maximum runtime, never more
 * than `--max-jobs` when that is given too. UserError when it does not cover one job.
 */
export function tuneBudget(
  budgetUsd: number,
  s: Pick<TrainingSettings, 'instanceType' | 'instanceCount' | 'maxRuntimeSeconds'>,
  maxJobsFlag?: number,
  prices: PriceBook = TABLE_PRICES,
): TuneBudget {
  const hourly = priceOf(s, prices)
  const perJobUsd = (hourly * s.instanceCount * s.maxRuntimeSeconds) / 3600
  const covered = Math.floor(budgetUsd / perJobUsd + 1e-9)
  const perJob = `${formatUsd(hourly)}/h × ${s.instanceCount} instance${s.instanceCount === 1 ? '' : 's'} × ${formatDuration(s.maxRuntimeSeconds)} max runtime = ${formatUsd(perJobUsd)} per job`
  if (covered < 1) {
    throw new UserError(
      'BudgetTooSmall',
      `--budget ${formatUsd(budgetUsd)} covers ${Math.round((budgetUsd / perJobUsd) * 100)}% of one tuning job (${perJob}); tuning needs at least one.`,
      { hint: `Raise --budget to at least ${formatUsd(Math.ceil(perJobUsd * 100) / 100)}, or lower training.maxRuntime.` },
    )
  }
  const jobs = maxJobsFlag !== undefined ? Math.min(covered, maxJobsFlag) : covered
  const arithmetic =
    `${formatUsd(budgetUsd)} ÷ (${perJob}) = ${covered} job${covered === 1 ? '' : 's'}` + (jobs < covered ? `; --max-jobs ${jobs} is the tighter limit` : '')
  return { budgetUsd, hourlyUsd: hourly, instances: s.instanceCount, perJobUsd: Math.round(perJobUsd * 100) / 100, jobs, arithmetic }
}
