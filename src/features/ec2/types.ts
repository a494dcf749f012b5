import type { NotifySummary } from '../../shared/notify-spec.js'
import type { Metrics } from '../../shared/metrics.js'
import type { TrainingParameters } from './script.js'

/** What `train-ec2` would do or did: the fields of its --dry-run JSON (beside the operations). */
export interface TrainEc2Summary {
  readonly runName: string
  readonly instanceType: string
  readonly spot: boolean
  readonly keep: boolean
  readonly maxHours: number
  readonly timeoutSeconds: number
  readonly hourlyUsd?: number
  readonly maxCostUsd?: number
  readonly modelArtifact: string
}

export interface TrainEc2Result extends TrainEc2Summary {
  readonly dryRun: false
  readonly status: 'Completed'
  readonly region: string
  readonly instanceId: string
  readonly amiId: string
  readonly commandId: string
  readonly metrics: Metrics
  readonly logGroup: string
  readonly runtimeSeconds: number
  readonly estimatedCostUsd?: number
  /** What became of the box: terminated / shutting-down, or running with --keep. */
  readonly instance: { readonly state: string; readonly kept: boolean; readonly terminateCommand?: string; readonly selfTerminatesAt?: string }
  /** False when output could only be read from GetCommandInvocation (first 24,000 characters). */
  readonly outputStreamed: boolean
  /** With --notify (or notify: in the config): where the box's termination is told. */
  readonly notifications?: NotifySummary
}

/** The --dry-run JSON beside the operations: the summary, and the runner with the parameters it would get. */
export interface TrainEc2PlanDetails extends TrainEc2Summary {
  readonly runner: { readonly script: string; readonly parameters: TrainingParameters }
}
