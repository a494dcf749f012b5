import type { ChalkInstance } from 'chalk'
import { planToJson, renderPlan, type PlannedOperation } from './plan.js'

/**
 * What `--dry-run` produces: the ordered AWS requests a command would send, a title and notes for
 * people, and `details`, the command's own facts about the plan (names, prices, counts) that also
 * go into its JSON.
 */
export interface Plan<D extends object = Record<string, unknown>> {
  readonly title: string
  readonly operations: readonly PlannedOperation[]
  /** Lines shown above the requests in the human rendering (not in --json). */
  readonly notes?: readonly string[]
  /** Extra members of the JSON document, beside `dryRun` and `operations`. */
  readonly details?: D
}

/** Every feature's `run` returns one of these; `Ui.result` is the one place that turns it into output. */
export type Outcome<R, D extends object = Record<string, unknown>> =
  { readonly kind: 'plan'; readonly plan: Plan<D> } | { readonly kind: 'done'; readonly result: R }

export function planned<D extends object = Record<string, unknown>>(plan: Plan<D>): { readonly kind: 'plan'; readonly plan: Plan<D> } {
  return { kind: 'plan', plan }
}

export function done<R>(result: R): { readonly kind: 'done'; readonly result: R } {
  return { kind: 'done', result }
}

/** The JSON document of a plan: `{ dryRun: true, operations: [{service, operation, input}], ...details }`. */
export function planDocument(plan: Plan<object>): Record<string, unknown> {
  return { dryRun: true, operations: planToJson(plan.operations), ...plan.details }
}

/** The human rendering of a plan: title, notes, then each request with its full input. */
export function renderPlanOutcome(plan: Plan<object>, c: ChalkInstance): string {
  return renderPlan(plan.title, plan.operations, c, plan.notes ?? [])
}
