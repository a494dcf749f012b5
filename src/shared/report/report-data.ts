/**
 * What a report page shows, as plain data: runs (their curves, final numbers, cost and evaluation)
 * and what the project has beside them (the last load test, an audit summary). The evaluation family
 * reads these from disk (mlops report); the runs family builds them from what it found (runs compare
 * --html); shared/report/report-page.ts renders either.
 */

/** One class in evaluation.json. */
export interface ClassScore {
  readonly label: string
  readonly index: number
  readonly precision: number
  readonly recall: number
  readonly f1: number
  readonly support: number
  readonly predicted: number
}

/** A test file the model got wrong, least probability on the true class first. */
export interface WorstFile {
  readonly file: string
  readonly true: string
  readonly predicted: string
  readonly confidence: number
  readonly true_probability: number
  /** A small JPEG data URI ('' when the file could not be read). */
  readonly thumbnail: string
}

/** evaluation.json, as scripts/evaluation.py writes it (snake_case: the file is Python's). */
export interface Evaluation {
  readonly split: string
  readonly images: number
  readonly top1_accuracy: number
  readonly top5_accuracy: number
  readonly classes: readonly string[]
  readonly per_class: readonly ClassScore[]
  /** Rows: true class; columns: predicted class; class index order. */
  readonly confusion: readonly (readonly number[])[]
  readonly worst: readonly WorstFile[]
  readonly unreadable: readonly { file: string; error: string }[]
  readonly seconds?: number
}

/** One epoch of train.py's metrics.json history. */
export interface EpochMetrics {
  readonly epoch: number
  readonly train_loss: number
  readonly val_loss: number
  readonly val_accuracy: number
  readonly images_per_sec?: number
}

export interface RunData {
  /** The job name. */
  readonly name: string
  readonly where: 'local' | 'sagemaker' | 'ec2'
  /** ISO times, when known. */
  readonly startedAt?: string
  readonly endedAt?: string
  readonly durationSeconds?: number
  readonly instances: number
  /** `local` for a local run. */
  readonly instanceType: string
  /** Training cost in USD (0 locally); absent when unknown. */
  readonly costUsd?: number
  /** How the cost was worked out, in words. */
  readonly costBasis?: string
  /** As given to train.py (strings, as SageMaker passes them). */
  readonly hyperparameters: Readonly<Record<string, string>>
  /** The run's final numbers (best_val_accuracy, test_accuracy, test_loss, epochs_run, best_epoch, ...). */
  readonly metrics: Readonly<Record<string, number>>
  readonly history: readonly EpochMetrics[]
  readonly evaluation?: Evaluation
}

/** What the project has beside the runs: the last loadtest and an audit summary. */
export interface ProjectExtras {
  readonly loadtest?: {
    readonly savedAt?: string
    readonly target: string
    readonly levels: readonly { concurrency: number; rps: number; p50Ms: number | null; p95Ms: number | null; p99Ms: number | null; requests: number }[]
  }
  /** The last `mlops status --metrics` (.mlops/metrics.json): the endpoint's and the Lambda's CloudWatch series. */
  readonly liveMetrics?: {
    readonly since: string
    readonly until: string
    readonly series: readonly LiveSeries[]
  }
  readonly audit?: {
    readonly file: string
    readonly generatedAt?: string
    readonly roles: number
    readonly findings: number
    readonly bySeverity: Readonly<Record<string, number>>
  }
}

/** One CloudWatch series of `status --metrics`, as the report charts it. */
export interface LiveSeries {
  /** What it measures: `endpoint dogs-endpoint` or `lambda dogs-invoke`. */
  readonly source: string
  readonly label: string
  /** `ms`, `count`, `percent`, ... */
  readonly unit: string
  readonly points: readonly { readonly t: string; readonly v: number }[]
}
