import type { NotifySummary } from '../../shared/notify-spec.js'
import type { PruneResult } from '../../aws/sagemaker/endpoint-lifecycle.js'
import type { ModelSource } from '../../shared/models.js'
import type { VariantSpec } from '../../shared/endpoint-variant.js'
import type { AutoscalingOutcome, SmokeTestResult } from './update.js'
import type { IdleStopResult } from './arm-idle-stop.js'

/** What `mlops deploy` returns. */

export interface DeployResult {
  readonly endpoint: string
  readonly endpointArn?: string
  readonly status: string
  /** created: new endpoint; updated: blue/green to the new config; recreated: a Failed endpoint was replaced. */
  readonly action: 'created' | 'updated' | 'recreated'
  readonly endpointConfig: string
  readonly previousConfig?: string
  readonly model: string
  readonly modelDataUrl: string
  readonly modelUploaded: boolean
  readonly source: ModelSource
  readonly image: string
  readonly variant: VariantSpec
  /** USD per hour while it exists (instances); absent for serverless or unknown prices. */
  readonly hourlyUsd?: number
  readonly autoscaling?: AutoscalingOutcome
  readonly smokeTest: SmokeTestResult | { readonly skipped: true }
  /** --idle-stop / endpoint.idleStop: what deletes the endpoint when nobody calls it. */
  readonly idleStop?: IdleStopResult
  /** With --notify (or notify: in the config): where the endpoint's status changes are told. */
  readonly notifications?: NotifySummary
  readonly cleanup: PruneResult
  readonly durationSeconds: number
  /** The endpoint's page, its CloudWatch logs and (with an idle stop) its alarm in the AWS console. */
  readonly consoleUrl: string
  readonly logsConsoleUrl: string
  readonly alarmConsoleUrl?: string
}

/** The facts of a deploy plan that go into its JSON beside the requests. */
export interface DeployDryRun {
  readonly endpoint: string
  readonly endpointConfig: string
  readonly model: string
  readonly source: ModelSource
  readonly image: string
  readonly variant: VariantSpec
  readonly hourlyUsd?: number
}
