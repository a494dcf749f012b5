import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  DescribeTrainingJobCommand,
  ListEndpointConfigsCommand,
  ListHyperParameterTuningJobsCommand,
  ListModelsCommand,
  ListTagsCommand,
  ListTrainingJobsCommand,
  StopHyperParameterTuningJobCommand,
  StopTrainingJobCommand,
  type DescribeEndpointConfigOutput,
  type DescribeEndpointOutput,
  type DescribeTrainingJobResponse,
  type SageMakerClient,
  type Tag,
} from '@aws-sdk/client-sagemaker'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, callAwsIgnoringNotFound, callAwsOrUndefined, isNotFound } from '../errors.js'

/**
 * The SageMaker reads and deletes that `status` and `teardown` make on a project's resources:
 * plain names in, SDK shapes out. "Not found" is an answer (undefined, or false for a delete);
 * every other error, AccessDenied first, propagates translated.
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

export function describeTrainingJob(client: SageMakerClient, name: string): Promise<DescribeTrainingJobResponse> {
  return callAws(sm('DescribeTrainingJob', name), () => client.send(new DescribeTrainingJobCommand({ TrainingJobName: name })))
}

/** In-progress tuning jobs whose name contains `nameContains`, with their ARNs. */
export async function listRunningTuningJobs(client: SageMakerClient, nameContains: string): Promise<{ name: string; arn?: string }[]> {
  const out = await callAws(sm('ListHyperParameterTuningJobs'), () =>
    client.send(new ListHyperParameterTuningJobsCommand({ StatusEquals: 'InProgress', NameContains: nameContains, MaxResults: 100 })),
  )
  return (out.HyperParameterTuningJobSummaries ?? []).map((t) => ({ name: t.HyperParameterTuningJobName!, arn: t.HyperParameterTuningJobArn }))
}

export function describeEndpointIfExists(client: SageMakerClient, name: string): Promise<DescribeEndpointOutput | undefined> {
  return callAwsOrUndefined(sm('DescribeEndpoint', name), () => client.send(new DescribeEndpointCommand({ EndpointName: name })))
}

export function describeEndpointConfigIfExists(client: SageMakerClient, name: string): Promise<DescribeEndpointConfigOutput | undefined> {
  return callAwsOrUndefined(sm('DescribeEndpointConfig', name), () => client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: name })))
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

/**
 * Deletes the endpoint and waits until DescribeEndpoint says it is gone (deletion is asynchronous,
 * and "nothing left running" must be true). False when it was already gone.
 */
export async function deleteEndpointAndWait(
  client: SageMakerClient,
  name: string,
  wait: { readonly clock: Clock; readonly signal?: AbortSignal; readonly timeoutMs: number; readonly rerunHint: string },
): Promise<boolean> {
  const existed = await callAwsIgnoringNotFound(sm('DeleteEndpoint', name), () => client.send(new DeleteEndpointCommand({ EndpointName: name })))
  if (!existed) return false
  await pollUntil({
    what: `endpoint ${name} to be deleted`,
    check: async () => {
      try {
        const d = await client.send(new DescribeEndpointCommand({ EndpointName: name }))
        return { done: false, value: undefined, status: d.EndpointStatus }
      } catch (err) {
        if (isNotFound(err)) return { done: true, value: undefined, status: 'Deleted' }
        throw err
      }
    },
    timeoutMs: wait.timeoutMs,
    intervalMs: 15_000,
    clock: wait.clock,
    signal: wait.signal,
    rerunHint: wait.rerunHint,
  })
  return true
}

export function deleteEndpointConfig(client: SageMakerClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound(sm('DeleteEndpointConfig', name), () => client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name })))
}

export function deleteModel(client: SageMakerClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound(sm('DeleteModel', name), () => client.send(new DeleteModelCommand({ ModelName: name })))
}
