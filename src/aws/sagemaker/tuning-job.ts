import {
  CreateHyperParameterTuningJobCommand,
  DescribeHyperParameterTuningJobCommand,
  StopHyperParameterTuningJobCommand,
  type CreateHyperParameterTuningJobRequest,
  type DescribeHyperParameterTuningJobResponse,
  type SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { UserError } from '../../shared/errors.js'
import type { Clock } from '../../shared/clock.js'
import { callAws, isAwsErrorNamed, isNotFound } from '../error-translation.js'
import { retryWhileIamPropagates } from '../iam/roles.js'
import { isThrottling, withRetry } from '../retry.js'

/** The calls of a hyperparameter tuning job: create (retried while a fresh role propagates), describe, stop. */

/** CreateHyperParameterTuningJob; a name already taken is a UserError (tuning job names carry only the minute). */
export async function createTuningJob(
  sagemaker: SageMakerClient,
  request: CreateHyperParameterTuningJobRequest,
  clock: Clock,
  signal: AbortSignal,
): Promise<void> {
  const jobName = request.HyperParameterTuningJobName
  await retryWhileIamPropagates(
    () =>
      callAws({ service: 'sagemaker', operation: 'CreateHyperParameterTuningJob', resource: jobName }, async () => {
        try {
          return await withRetry(() => sagemaker.send(new CreateHyperParameterTuningJobCommand(request)), { clock, signal, retryable: isThrottling })
        } catch (err) {
          if (isAwsErrorNamed(err, 'ResourceInUse', 'ResourceInUseException') || /already exists/i.test((err as Error).message ?? '')) {
            throw new UserError('TuningJobExists', `A tuning job named ${jobName} already exists (names carry the minute, and are limited to 32 characters).`, {
              hint: 'Wait a minute and run `mlops tune` again.',
              cause: err,
            })
          }
          throw err
        }
      }),
    { clock, signal },
  )
}

export async function describeTuningJob(
  sagemaker: SageMakerClient,
  name: string,
  clock: Clock,
  signal?: AbortSignal,
): Promise<DescribeHyperParameterTuningJobResponse> {
  return callAws({ service: 'sagemaker', operation: 'DescribeHyperParameterTuningJob', resource: name }, () =>
    withRetry(() => sagemaker.send(new DescribeHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })), { clock, signal }),
  )
}

/** StopHyperParameterTuningJob (stops every child); a job that already ended is not an error. */
export async function stopTuningJob(sagemaker: SageMakerClient, name: string, clock: Clock): Promise<void> {
  await callAws({ service: 'sagemaker', operation: 'StopHyperParameterTuningJob', resource: name }, async () => {
    try {
      await withRetry(() => sagemaker.send(new StopHyperParameterTuningJobCommand({ HyperParameterTuningJobName: name })), { clock, attempts: 4 })
    } catch (err) {
      if (isAwsErrorNamed(err, 'ValidationException') && !isNotFound(err)) return // already finished
      throw err
    }
  })
}
