import {
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  ListTrainingJobsCommand,
  type ListTrainingJobsCommandInput,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { callAws, callAwsOrUndefined } from '../error-translation.js'

/** The few facts about training and tuning jobs `deploy` needs to find a model. */

export interface TrainingJobModel {
  readonly status?: string
  /** ModelArtifacts.S3ModelArtifacts (only a Completed job has one worth serving). */
  readonly modelUri?: string
}

/** DescribeTrainingJob; undefined when there is no such job. */
export async function describeTrainingJobModel(sm: SageMakerClient, name: string): Promise<TrainingJobModel | undefined> {
  const job = await callAwsOrUndefined({ service: 'sagemaker', operation: 'DescribeTrainingJob', resource: name }, () =>
    sm.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
  )
  return job ? { status: job.TrainingJobStatus, modelUri: job.ModelArtifacts?.S3ModelArtifacts } : undefined
}

/** The best training job of a tuning job; undefined when there is no such tuning job or no best job yet. */
export async function describeTuningBestJob(sm: SageMakerClient, name: string): Promise<string | undefined> {
  const tuning = await callAwsOrUndefined({ service: 'sagemaker', operation: 'DescribeHyperParameterTuningJob', resource: name }, () =>
    sm.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })),
  )
  return tuning?.BestTrainingJob?.TrainingJobName
}

/** Names and ARNs of the training jobs ListTrainingJobs returns for `input` (one page). */
export async function listTrainingJobNames(sm: SageMakerClient, input: ListTrainingJobsCommandInput): Promise<{ name: string; arn?: string }[]> {
  const list = await callAws({ service: 'sagemaker', operation: 'ListTrainingJobs' }, () => sm.send(new ListTrainingJobsCommand(input)))
  return (list.TrainingJobSummaries ?? []).map((s) => ({ name: s.TrainingJobName ?? '', arn: s.TrainingJobArn }))
}
