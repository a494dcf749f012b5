import type { StateRecord, StateStore } from './state.js'

/**
 * Trained models the state file records: what `deploy` serves and `serve` runs by default. One
 * reading of the records for both (training jobs, tuning best jobs, EC2 runs, repacked artifacts).
 */

export interface ModelSource {
  /** s3:// URI of the trained model.tar.gz (kind `local`: its absolute path on this machine). */
  readonly uri: string
  /** What produced it (`local`: a model.tar.gz on this machine, from `train --local` or a file). */
  readonly kind: 's3' | 'sagemaker' | 'tuning' | 'ec2' | 'local'
  /** Training job, tuning job or EC2 run name, when known. */
  readonly jobName?: string
  /** How mlops found it. */
  readonly foundIn: 'flag' | 'state' | 'sagemaker'
}

/**
 * The newest model in S3 the state file records, if any. `isS3ModelUri` is the caller's S3-URI
 * check (aws/arn.ts parseS3Uri), since shared/ sits below aws/.
 */
export async function latestRecordedModel(state: StateStore, isS3ModelUri: (uri: string) => boolean): Promise<ModelSource | undefined> {
  return (await latestRecordedModelRecord(state, isS3ModelUri))?.source
}

/** The same, with when it was recorded (to compare with models trained locally). */
export async function latestRecordedModelRecord(
  state: StateStore,
  isS3ModelUri: (uri: string) => boolean,
): Promise<{ readonly source: ModelSource; readonly recordedAt: string } | undefined> {
  const candidates: { rec: StateRecord; source: ModelSource }[] = []
  for (const rec of await state.list('model-artifact')) {
    const d = (rec.details ?? {}) as { source?: string; jobName?: string }
    const kind = d.source === 'tuning' || d.source === 'ec2' ? d.source : 'sagemaker'
    candidates.push({ rec, source: { uri: rec.name, kind, ...(d.jobName ? { jobName: d.jobName } : {}), foundIn: 'state' } })
  }
  for (const rec of await state.list('training-job')) {
    const d = (rec.details ?? {}) as { status?: string; modelArtifact?: string }
    if (d.status === 'Completed' && d.modelArtifact)
      candidates.push({ rec, source: { uri: d.modelArtifact, kind: 'sagemaker', jobName: rec.name, foundIn: 'state' } })
  }
  for (const rec of await state.list('tuning-job')) {
    const d = (rec.details ?? {}) as { modelArtifact?: string; bestTrainingJob?: string }
    if (d.modelArtifact) candidates.push({ rec, source: { uri: d.modelArtifact, kind: 'tuning', jobName: d.bestTrainingJob ?? rec.name, foundIn: 'state' } })
  }
  const valid = candidates.filter((c) => isS3ModelUri(c.source.uri))
  valid.sort((a, b) => a.rec.createdAt.localeCompare(b.rec.createdAt))
  const newest = valid.at(-1)
  return newest ? { source: newest.source, recordedAt: newest.rec.createdAt } : undefined
}
