/**
 * The run history (`mlops runs`) and the comparison of two runs (`mlops runs compare`) as data: the
 * JSON of both commands, and what `mlops report` renders for two runs side by side.
 */

/** The metrics a run reports: train.py's metric names (val_accuracy, test_accuracy, val_loss, ...). */
export type RunMetrics = Readonly<Record<string, number>>

/** One training or tuning run, SageMaker or local. */
export interface RunSummary {
  /** The job's name (local: its folder under .mlops/local/). */
  readonly name: string
  readonly kind: 'training' | 'tuning'
  readonly where: 'sagemaker' | 'local'
  /** SageMaker's status; local: Completed (model.tar.gz written) or Incomplete. */
  readonly status: string
  /** ISO time the run was created. */
  readonly startedAt?: string
  /** From start to end (or to now while it runs). */
  readonly durationSeconds?: number
  readonly instanceCount?: number
  /** `ml.g4dn.xlarge`; `local` for a run on this machine. */
  readonly instanceType?: string
  /** Managed spot training. */
  readonly spot: boolean
  /** SageMaker's TrainingTimeInSeconds and BillableTimeInSeconds. */
  readonly trainingSeconds?: number
  readonly billableSeconds?: number
  /** Share of the training time spot did not bill: 1 - billable / training (0.7 = 70 % saved). */
  readonly spotSavings?: number
  /** The user's hyperparameters, decoded (SageMaker's own sagemaker_* keys left out). */
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>
  /** Final values: SageMaker's FinalMetricDataList; local: the run's metrics.json. */
  readonly metrics: RunMetrics
  /** USD: billable seconds × instances × the hourly price (a tuning job: the sum of its listed training jobs). Local runs: 0. */
  readonly costUsd?: number
  /** The tuning job that launched this training job. */
  readonly tuningJob?: string
  /** A tuning job's best training job. */
  readonly bestTrainingJob?: string
  readonly modelArtifact?: string
  /** The run's page in the AWS console (SageMaker runs). */
  readonly consoleUrl?: string
  /** The run's CloudWatch logs in the console (SageMaker training jobs). */
  readonly logsConsoleUrl?: string
  /** Local runs: the run's folder. */
  readonly folder?: string
  readonly failureReason?: string
}

export interface RunsResult {
  readonly project: string
  readonly region: string
  readonly runs: readonly RunSummary[]
  /** The hyperparameters whose values differ between the listed runs (the only ones the table shows). */
  readonly differingHyperparameters: readonly string[]
  /** How the list is ordered: `start` (newest first) or a metric (best first). */
  readonly sortedBy: string
  /** Runs found before --last cut the list. */
  readonly total: number
  readonly priceNote: string
}

/** One epoch of a run (train.py's `epoch=N train_loss=… val_loss=… val_accuracy=…` line). */
export type EpochMetrics = Readonly<Record<string, number>>

/** Accuracy of one class in a run's evaluation.json (absent when the run wrote none). */
export interface ClassAccuracy {
  readonly class: string
  /** Recall: correct / support. */
  readonly accuracy: number
  readonly support?: number
}

/** What `runs compare` knows of one run beyond its summary. */
export interface ComparedRun {
  readonly run: RunSummary
  /** Per-epoch metrics, oldest first. */
  readonly epochs: readonly EpochMetrics[]
  /** Where `epochs` came from: the local metrics.json, or the job's metric lines in CloudWatch Logs. */
  readonly epochsSource: 'metrics.json' | 'cloudwatch-logs' | 'none'
  /** Per-class accuracy from the run's evaluation.json; undefined when the run has none. */
  readonly perClass?: readonly ClassAccuracy[]
  /** Where evaluation.json was read from. */
  readonly evaluationFile?: string
}

export interface ValueDifference<T> {
  readonly name: string
  readonly a?: T
  readonly b?: T
}

/** `mlops runs compare <a> <b>`: the two runs and what differs between them. */
export interface RunComparison {
  readonly a: ComparedRun
  readonly b: ComparedRun
  /** Hyperparameters set differently (or set in one only). */
  readonly hyperparameters: readonly ValueDifference<string | number | boolean>[]
  /** Final metrics side by side, with b - a. */
  readonly metrics: readonly (ValueDifference<number> & { readonly delta?: number })[]
  /** Classes whose accuracy differs most, b - a (both runs need an evaluation.json). */
  readonly perClass: readonly (ValueDifference<number> & { readonly delta: number })[]
  readonly cost: { readonly a?: number; readonly b?: number; readonly delta?: number }
  readonly priceNote: string
  /** With --html: the page written (both runs side by side) and the charts in it. */
  readonly html?: { readonly file: string; readonly charts: number }
}
