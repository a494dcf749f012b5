import {
  DescribeTrainingJobCommand,
  ListEndpointConfigsCommand,
  ListHyperParameterTuningJobsCommand,
  ListModelsCommand,
  ListTagsCommand,
  ListTrainingJobsCommand,
  StopHyperParameterTuningJobCommand,
  StopTrainingJobCommand,
  type DescribeTrainingJobResponse,
  type SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined } from '../error-translation.js'

/**
 * The SageMaker reads and stops that `status` and `teardown` make on a project's resources:
 * plain names in, SDK shapes out. "Not found" is an answer (false for a stop); every other
 * error, AccessDenied first, propagates translated. The endpoint's describes and deletes, which
 * deploy makes too, are in endpoint-lifecycle.ts.
 */

const sm = (operation: string, resource?: string) => ({ service: 'sagemaker', operation, ...(resource ? { resource } : {}) })

export async function listTags(client: SageMakerClient, arn: string): Promise<Tag[]> {
  return (await callAws(sm('ListTags', arn), () => client.send(new ListTagsCommand({ ResourceArn: arn })))).Tags ?? []
}

/** In-progress training jobs whose name contains `nameContains` (first 100). */
export async function listRunningTrainingJobs(client: SageMakerClient, nameContains: string): Promise<string[]> {
  const out = await callAws(sm('ListTrainingJobs'), () =>
    client.send(new ListTrainingJobsCommand({ StatusEquals: 'InProgress', NameContains: nameContains, MaxResults: 100 })),
  )
  return (out.TrainingJobSummaries ?? []).map((j) => j.TrainingJobName!)
}

/**
 * One DescribeTrainingJob of a job just listed, every error translated as it comes. Unlike
 * training-wait.ts describeTrainingJob (a name the user typed, described again and again while
 * waiting), it neither retries on throttling nor reads "not found" as the user's typo.
 */
export function describeTrainingJobOnce(client: SageMakerClient, name: string): Promise<DescribeTrainingJobResponse> {
  return callAws(sm('DescribeTrainingJob', name), () => client.send(new DescribeTrainingJobCommand({ TrainingJobName: name })))
}

/** A training job's ARN; undefined when there is no such job. */
export async function trainingJobArnIfExists(client: SageMakerClient, name: string): Promise<string | undefined> {
  const d = await callAwsOrUndefined(sm('DescribeTrainingJob', name), () => client.send(new DescribeTrainingJobCommand({ TrainingJobName: name })))
  return d?.TrainingJobArn
}

/** In-progress tuning jobs whose name contains `nameContains`, with their ARNs. */
export async function listRunningTuningJobs(client: SageMakerClient, nameContains: string): Promise<{ name: string; arn?: string }[]> {
  const out = await callAws(sm('ListHyperParameterTuningJobs'), () =>
    client.send(new ListHyperParameterTuningJobsCommand({ StatusEquals: 'InProgress', NameContains: nameContains, MaxResults: 100 })),
  )
  return (out.HyperParameterTuningJobSummaries ?? []).map((t) => ({ name: t.HyperParameterTuningJobName!, arn: t.HyperParameterTuningJobArn }))
}

/** Endpoint configs whose name contains `nameContains` (first 100). */
export async function listEndpointConfigs(client: SageMakerClient, nameContains: string): Promise<{ name: string; arn?: string }[]> {
  const out = await callAws(sm('ListEndpointConfigs'), () => client.send(new ListEndpointConfigsCommand({ NameContains: nameContains, MaxResults: 100 })))
  return (out.EndpointConfigs ?? []).map((c) => ({ name: c.EndpointConfigName!, arn: c.EndpointConfigArn }))
}

/** Models whose name contains `nameContains` (first 100). */
export async function listModels(client: SageMakerClient, nameContains: string): Promise<{ name: string; arn?: string }[]> {
  const out = await callAws(sm('ListModels'), () => client.send(new ListModelsCommand({ NameContains: nameContains, MaxResults: 100 })))
  return (out.Models ?? []).map((m) => ({ name: m.ModelName!, arn: m.ModelArn }))
}

/** Stops a training or tuning job; false when it is already gone. */
export function stopJob(client: SageMakerClient, kind: 'training' | 'tuning', name: string): Promise<boolean> {
  return kind === 'training'
    ? callAwsIgnoringNotFound(sm('StopTrainingJob', name), () => client.send(new StopTrainingJobCommand({ TrainingJobName: name })))
    : callAwsIgnoringNotFound(sm('StopHyperParameterTuningJob', name), () =>
        client.send(new StopHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })),
      )
}
