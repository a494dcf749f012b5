import {
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  ListHyperParameterTuningJobsCommand,
  SearchCommand,
  type SearchCommandInput,
  type TrainingJob,
  type DescribeHyperParameterTuningJobResponse,
  type DescribeTrainingJobResponse,
  type ListHyperParameterTuningJobsCommandInput,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { callAws, callAwsOrUndefined } from '../error-translation.js'

/**
 * The reads behind `mlops runs`: the training jobs carrying a tag (Search), and the tuning jobs whose
 * name contains a string (ListHyperParameterTuningJobs: Search does not filter them by tag on every
 * SageMaker), in any status, page after page. Ownership is decided by the caller, from the tags.
 */

export interface ListedJob {
  readonly name: string
  readonly arn: string
  readonly status?: string
  readonly creationTime?: Date
}

/** Pages read at most: 2,000 jobs, so a shared account with a huge history cannot stall the listing. */
export const MAX_LIST_PAGES = 20

/** The first ListHyperParameterTuningJobs request; plans show the same. */
export function listTuningJobsInput(nameContains: string): ListHyperParameterTuningJobsCommandInput {
  return { NameContains: nameContains, MaxResults: 100, SortBy: 'CreationTime', SortOrder: 'Descending' }
}

/** The first Search request for the training jobs tagged `tagKey=tagValue` (later pages add NextToken); plans show the same. */
export function searchTaggedTrainingJobsInput(tagKey: string, tagValue: string): SearchCommandInput {
  return {
    Resource: 'TrainingJob',
    SearchExpression: { Filters: [{ Name: `Tags.${tagKey}`, Operator: 'Equals', Value: tagValue }] },
    SortBy: 'CreationTime',
    SortOrder: 'Descending',
    MaxResults: 100,
  }
}

/**
 * Training jobs tagged `tagKey=tagValue`, whole (hyperparameters, final metrics, billable time and
 * tags included), with one Search request per 100 jobs instead of a ListTags and a Describe per job.
 * https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Search.html
 */
export async function searchTaggedTrainingJobs(client: SageMakerClient, tagKey: string, tagValue: string): Promise<TrainingJob[]> {
  const out: TrainingJob[] = []
  let NextToken: string | undefined
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const res = await callAws({ service: 'sagemaker', operation: 'Search' }, () =>
      client.send(new SearchCommand({ ...searchTaggedTrainingJobsInput(tagKey, tagValue), ...(NextToken ? { NextToken } : {}) })),
    )
    for (const r of res.Results ?? []) if (r.TrainingJob?.TrainingJobName) out.push(r.TrainingJob)
    if (!res.NextToken || res.NextToken === NextToken) break
    NextToken = res.NextToken
  }
  return out
}

/** Tuning jobs whose name contains `nameContains`, newest first, following NextToken. */
export async function listTuningJobsNamed(client: SageMakerClient, nameContains: string): Promise<ListedJob[]> {
  const out: ListedJob[] = []
  let NextToken: string | undefined
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const res = await callAws({ service: 'sagemaker', operation: 'ListHyperParameterTuningJobs' }, () =>
      client.send(new ListHyperParameterTuningJobsCommand({ ...listTuningJobsInput(nameContains), ...(NextToken ? { NextToken } : {}) })),
    )
    for (const j of res.HyperParameterTuningJobSummaries ?? [])
      if (j.HyperParameterTuningJobName && j.HyperParameterTuningJobArn)
        out.push({
          name: j.HyperParameterTuningJobName,
          arn: j.HyperParameterTuningJobArn,
          status: j.HyperParameterTuningJobStatus,
          creationTime: j.CreationTime,
        })
    if (!res.NextToken || res.NextToken === NextToken) break
    NextToken = res.NextToken
  }
  return out
}

/** One DescribeHyperParameterTuningJob of a job just listed (no retry loop: the client's retries suffice). */
export function describeTuningJobOnce(client: SageMakerClient, name: string): Promise<DescribeHyperParameterTuningJobResponse> {
  return callAws({ service: 'sagemaker', operation: 'DescribeHyperParameterTuningJob', resource: name }, () =>
    client.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })),
  )
}

/** A training job a person named (`runs compare <job>`): undefined when there is none of that name. */
export function describeTrainingJobIfExists(client: SageMakerClient, name: string): Promise<DescribeTrainingJobResponse | undefined> {
  return callAwsOrUndefined({ service: 'sagemaker', operation: 'DescribeTrainingJob', resource: name }, () =>
    client.send(new DescribeTrainingJobCommand({ TrainingJobName: name })),
  )
}
