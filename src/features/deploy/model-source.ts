import type { SageMakerClient } from '@aws-sdk/client-sagemaker'
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { isLocalModelPath } from '../../config/flag-fields.js'
import type { MlopsConfig } from '../../config/schema.js'
import { UserError } from '../../shared/errors.js'
import { isProjectResource, matchProjectName } from '../../shared/project-ownership.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateStore } from '../../shared/state.js'
import { latestRecordedModel, type ModelSource } from '../../shared/models.js'
import { parseS3Uri } from '../../aws/arn.js'
import { describeTrainingJobModel, describeTuningBestJob, listTrainingJobNames } from '../../aws/sagemaker/job-models.js'
import { listTags } from '../../aws/sagemaker/project-resources.js'

/**
 * Which trained model `deploy` serves: `--model` (an S3 URI or a job name), else the newest model
 * recorded in the state file (training, tuning best job or EC2 run), else the newest completed
 * training job of the project in SageMaker (when the state file is missing).
 */

/** Where relative `--model` paths resolve from and where local runs live. */
export interface LocalModelLookup {
  /** The folder the command runs in (relative paths). */
  readonly cwd: string
  /** The project folder (`.mlops/local/<job>/`). */
  readonly projectDir: string
}

/**
 * `--model` on this machine (issue 31 item 3): a local run's name (recorded by `train --local`), a
 * model.tar.gz file, or a folder holding one (`.mlops/local/<job>/`). Undefined when `model` is
 * none of these (an S3 URI or a SageMaker job name); a path that is missing is an error naming it.
 */
export async function localModelSource(state: StateStore, where: LocalModelLookup, model: string): Promise<ModelSource | undefined> {
  if (isS3ModelFlag(model)) return undefined
  const run = (await state.list('local-model')).find((r) => r.name === model)
  if (run) {
    const artifact =
      (run.details as { modelArtifact?: string } | undefined)?.modelArtifact ?? path.join(where.projectDir, '.mlops', 'local', model, 'model.tar.gz')
    if (!existsSync(artifact))
      throw new UserError('LocalModelMissing', `--model ${model}: the local run's model.tar.gz is gone (${artifact}).`, {
        hint: 'Train again with `mlops train --local`, or pass another run or a model.tar.gz path.',
      })
    return { uri: artifact, kind: 'local', jobName: model, foundIn: 'flag' }
  }
  const asPath = path.resolve(where.cwd, model)
  const inProject = path.join(where.projectDir, '.mlops', 'local', model)
  const candidate = existsSync(asPath) ? asPath : !isLocalModelPath(model) && existsSync(inProject) ? inProject : undefined
  if (candidate === undefined) {
    if (!isLocalModelPath(model)) return undefined
    throw new UserError('LocalModelMissing', `--model ${model}: no such file or folder (${asPath}).`, {
      hint: 'Pass a model.tar.gz (e.g. .mlops/local/<job>/model.tar.gz), a local run folder, an s3:// URI or a job name.',
    })
  }
  const file = statSync(candidate).isDirectory() ? path.join(candidate, 'model.tar.gz') : candidate
  if (!existsSync(file))
    throw new UserError('LocalModelMissing', `--model ${model}: the folder ${candidate} holds no model.tar.gz.`, {
      hint: 'Pass a local run folder (.mlops/local/<job>/, written by `mlops train --local`) or the model.tar.gz itself.',
    })
  const job = path.basename(path.dirname(file))
  const isRun = path.dirname(path.dirname(file)) === path.join(where.projectDir, '.mlops', 'local')
  return { uri: file, kind: 'local', ...(isRun ? { jobName: job } : {}), foundIn: 'flag' }
}

/** True when `--model` is an S3 URI (else it names a job). */
export function isS3ModelFlag(model: string): boolean {
  return model.startsWith('s3://')
}

/** The newest deployable model the state file knows, if any (shared with `serve`). */
export function latestModelInState(state: StateStore): Promise<ModelSource | undefined> {
  return latestRecordedModel(state, (uri) => parseS3Uri(uri, { requireKey: true }) !== undefined)
}

/** The model artifact of a completed training job, or of a tuning job's best training job. */
export async function modelOfJob(sm: SageMakerClient, name: string): Promise<ModelSource> {
  const job = await describeTrainingJobModel(sm, name)
  if (job) {
    const uri = job.modelUri
    if (job.status !== 'Completed' || !uri) {
      throw new UserError(
        'TrainingJobNotCompleted',
        `Training job ${name} is ${job.status ?? 'in an unknown state'}; only a Completed job has a model to deploy.`,
        {
          hint:
            job.status === 'InProgress'
              ? `Wait for it (\`mlops logs ${name}\`), then deploy.`
              : 'Deploy another job, or leave out --model to use the latest completed one.',
        },
      )
    }
    return { uri, kind: 'sagemaker', jobName: name, foundIn: 'flag' }
  }
  const best = await describeTuningBestJob(sm, name)
  if (best) return { ...(await modelOfJob(sm, best)), kind: 'tuning' }
  throw new UserError('ModelNotFound', `No training job or tuning job named ${name} (with a best job) in this account and region.`, {
    hint: 'Pass the exact job name (see `mlops status`), or an S3 URI of a model.tar.gz.',
  })
}

/**
 * The newest Completed training job of this project in SageMaker, for when there is no state file:
 * a job named exactly as mlops names this project's training jobs (or its tuning jobs' children)
 * AND tagged for it (issue 27: a name prefix picked project `dogs-v2`'s model for `dogs`).
 */
export async function latestModelInSageMaker(sm: SageMakerClient, cfg: Pick<MlopsConfig, 'project'>): Promise<ModelSource> {
  const project = cfg.project.name
  for (const { name, arn } of await listTrainingJobNames(sm, listJobsInput(cfg))) {
    const match = matchProjectName(project, name, ['training-job', 'tuning-child'])
    if (!match || !arn) continue
    const src = await modelOfJob(sm, name).catch((e) => {
      if (e instanceof UserError) return undefined
      throw e
    })
    if (src && isProjectResource(project, { name, tags: await listTags(sm, arn) }))
      return { ...src, kind: match.kind === 'training-job' ? 'sagemaker' : 'tuning', foundIn: 'sagemaker' }
  }
  throw new UserError('NoModel', `No trained model found for project ${cfg.project.name}.`, {
    hint: 'Train one with `mlops train` (or `mlops train-ec2`), or pass --model s3://…/model.tar.gz, or a model trained here: --model <local run> (`.mlops/local/<job>`) or --model ./model.tar.gz.',
  })
}

function listJobsInput(cfg: Pick<MlopsConfig, 'project'>) {
  // Tuning jobs name their children after the (shorter) tuning base: search for what every name
  // of the project holds (its first 13 characters); the exact names and the tag are checked after.
  return {
    StatusEquals: 'Completed' as const,
    SortBy: 'CreationTime' as const,
    SortOrder: 'Descending' as const,
    NameContains: cfg.project.name.slice(0, 13).replace(/-+$/, ''),
    MaxResults: 100,
  }
}

/** --model (S3, a local model or run, a job), else state, else SageMaker. */
export async function resolveModelSource(
  sm: SageMakerClient,
  state: StateStore,
  cfg: Pick<MlopsConfig, 'project'>,
  where: LocalModelLookup,
  model?: string,
): Promise<ModelSource> {
  if (model !== undefined) {
    if (isS3ModelFlag(model)) return { uri: model, kind: 's3', foundIn: 'flag' }
    return (await localModelSource(state, where, model)) ?? modelOfJob(sm, model)
  }
  return (await latestModelInState(state)) ?? latestModelInSageMaker(sm, cfg)
}

/**
 * Dry run: the model the run would pick, as far as it can be known offline, and the lookups it
 * would make. Values only SageMaker knows are placeholders.
 */
export async function planModelSource(
  state: StateStore,
  cfg: Pick<MlopsConfig, 'project' | 'data' | 'training'>,
  where: LocalModelLookup,
  model?: string,
): Promise<{ source: ModelSource; ops: PlannedOperation[] }> {
  const placeholder = (job: string) => `s3://${cfg.data.bucket}/${cfg.training.outputPrefix}/${job}/output/model.tar.gz`
  if (model !== undefined && isS3ModelFlag(model)) return { source: { uri: model, kind: 's3', foundIn: 'flag' }, ops: [] }
  const local = model !== undefined ? await localModelSource(state, where, model) : undefined
  if (local) return { source: local, ops: [] }
  if (model !== undefined) {
    const known = (await state.list('training-job')).find((r) => r.name === model)
    const uri = (known?.details as { modelArtifact?: string } | undefined)?.modelArtifact ?? placeholder(model)
    return {
      source: { uri, kind: 'sagemaker', jobName: model, foundIn: 'flag' },
      ops: [
        {
          service: 'sagemaker',
          operation: 'DescribeTrainingJob',
          input: { TrainingJobName: model },
          note: 'must be Completed; its ModelArtifacts is what gets deployed',
        },
      ],
    }
  }
  const fromState = await latestModelInState(state)
  if (fromState) return { source: fromState, ops: [] }
  return {
    source: { uri: placeholder('<latest-completed-training-job>'), kind: 'sagemaker', foundIn: 'sagemaker' },
    ops: [
      {
        service: 'sagemaker',
        operation: 'ListTrainingJobs',
        input: listJobsInput(cfg),
        note: 'no model in the state file: find the newest completed job of the project',
      },
      { service: 'sagemaker', operation: 'DescribeTrainingJob', input: { TrainingJobName: '<latest-completed-training-job>' } },
      {
        service: 'sagemaker',
        operation: 'ListTags',
        input: { ResourceArn: '<each listed job named as this project names its jobs>' },
        note: 'ours only when tagged mlops:project=' + cfg.project.name,
      },
    ],
  }
}
