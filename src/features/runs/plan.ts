import type { PlannedOperation } from '../../shared/plan.js'
import { getProductsInput, instancePriceQuery } from '../../aws/pricing/products.js'
import { listTuningJobsInput, searchTaggedTrainingJobsInput } from '../../aws/sagemaker/run-history.js'
import { TRAINING_LOG_GROUP } from '../../aws/logs/training-logs.js'
import { filterLogEventsInput } from '../../aws/logs/filter-log-events.js'
import { TAG_PROJECT } from '../../shared/naming.js'
import { jobNameFilter } from './sagemaker-runs.js'

/** The reads of `mlops runs`, in order: training jobs by tag, tuning jobs by name then tags and describe, then prices. */
export function planRuns(project: string, region: string): PlannedOperation[] {
  const filter = jobNameFilter(project)
  return [
    { service: 'sagemaker', operation: 'Search', input: searchTaggedTrainingJobsInput(TAG_PROJECT, project), note: 'every page' },
    { service: 'sagemaker', operation: 'ListHyperParameterTuningJobs', input: listTuningJobsInput(filter), note: 'every page' },
    {
      service: 'sagemaker',
      operation: 'ListTags',
      input: { ResourceArn: '<each tuning job listed>' },
      note: `ours only when tagged mlops:project=${project} (8 at a time)`,
    },
    { service: 'sagemaker', operation: 'DescribeHyperParameterTuningJob', input: { HyperParameterTuningJobName: '<each tuning job of the project>' } },
    {
      service: 'pricing',
      operation: 'GetProducts',
      input: getProductsInput(instancePriceQuery('<each instance type found>', region, 'training')),
      note: 'the list price, unless cached in the last week or MLOPS_PRICE_LIST=off',
    },
  ]
}

/** The reads of `mlops runs compare` for one SageMaker run: its tags (ownership), its describe and its metric lines. */
export function planCompareRun(name: string, startTime: number): PlannedOperation[] {
  return [
    { service: 'sagemaker', operation: 'DescribeTrainingJob', input: { TrainingJobName: name } },
    { service: 'sagemaker', operation: 'ListTags', input: { ResourceArn: `<the ARN of ${name}>` }, note: 'it must be tagged for this project' },
    {
      service: 'logs',
      operation: 'FilterLogEvents',
      input: filterLogEventsInput({ logGroupName: TRAINING_LOG_GROUP, startTime, logStreamNamePrefix: `${name}/`, filterPattern: '"val_accuracy="' }),
      note: 'the per-epoch metric lines train.py printed',
    },
  ]
}
