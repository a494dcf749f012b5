import type { CurrentScaling } from '../../aws/autoscaling/scaling.js'
import type { VariantSpec } from '../../shared/endpoint-variant.js'
import type { planToJson } from '../../shared/plan.js'

/** The documents of `mlops scale`: its options, and what it prints (or its --json) for each part. */

/** Options of `mlops scale`, its flags already parsed (numbers and ranges checked). */
export interface ScaleOptions {
  readonly endpoint: EndpointScaleOptions
  readonly lambda: LambdaScaleOptions
  /** Print the current endpoint autoscaling and change nothing. @default false */
  readonly show?: boolean
  /** Apply a load test's recommendation: true for the last one (.mlops/loadtest.json), a string for that file. Given options win. */
  readonly fromLoadtest?: string | true
}

/** What `scale` changed: the endpoint part, the Lambda part, or both. */
export interface ScaleResult {
  readonly endpoint?: EndpointScaleResult
  readonly lambda?: LambdaScaleResult
}

/** The facts of a `scale` plan beside its requests, per part. */
export interface ScalePlanDetails {
  readonly endpoint?: EndpointScaleDryRun
  readonly lambda?: LambdaScalePlanDetails
}

/** Flags of `mlops scale` for the endpoint, already parsed. */
export interface EndpointScaleOptions {
  readonly min?: number
  readonly max?: number
  /** Invocations per instance per minute. */
  readonly target?: number
  /** Requests per second per instance; becomes target = rps x 60. */
  readonly targetRps?: number
  readonly scaleInCooldown?: number
  readonly scaleOutCooldown?: number
}

export interface LambdaScaleOptions {
  /** Reserved concurrency; null removes the reservation (`--lambda-reserved none`). */
  readonly reserved?: number | null
  readonly provisioned?: number
}

export interface EndpointScaleResult {
  readonly endpoint: string
  readonly resourceId: string
  readonly minCapacity: number
  readonly maxCapacity: number
  readonly policyName: string
  readonly policyArn?: string
  /** Invocations per instance per minute. */
  readonly targetValue: number
  /** The same target in requests per second per instance. */
  readonly targetRps: number
  readonly scaleInCooldown: number
  readonly scaleOutCooldown: number
  readonly instanceType?: string
  /** Cost at max capacity, USD per hour. */
  readonly maxHourlyUsd?: number
  /** What was registered before, if anything. */
  readonly previous?: CurrentScaling
}

/** The facts of an endpoint scaling plan that go into its JSON beside the requests. */
export interface EndpointScaleDryRun extends Omit<EndpointScaleResult, 'previous' | 'policyArn'> {
  readonly dryRun: true
  readonly operations: ReturnType<typeof planToJson>
}

export interface EndpointScaleShow {
  readonly endpoint: string
  readonly resourceId: string
  readonly status?: string
  readonly variant?: VariantSpec
  readonly currentInstances?: number
  readonly desiredInstances?: number
  /** undefined: not autoscaled. */
  readonly scaling?: CurrentScaling
}

export interface LambdaScaleResult {
  readonly dryRun: boolean
  readonly functionName: string
  readonly alias: string
  /** The version `live` points at (what provisioned concurrency warms). */
  readonly version?: string
  /** requested null: the reservation removed (`--lambda-reserved none`). */
  readonly reserved?: { readonly previous: number | null; readonly requested: number | null; readonly changed: boolean }
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
}

/** The facts of a Lambda concurrency plan that go into its JSON beside the requests. */
export type LambdaScalePlanDetails = LambdaScaleResult & { readonly operations: ReturnType<typeof planToJson> }
