import { CreateTrainingJobCommand, type CreateTrainingJobRequest, type SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { Clock } from '../../shared/clock.js'
import { callAws } from '../error-translation.js'
import { retryWhileIamPropagates } from '../iam/roles.js'
import { isThrottling, withRetry } from '../retry.js'

/** CreateTrainingJob: throttling retried (nothing was created), and a fresh role given time to propagate. */
export async function createTrainingJob(
  sagemaker: SageMakerClient,
  request: CreateTrainingJobRequest,
  clock: Clock,
  signal: AbortSignal,
  onRetry: (m: string) => void,
): Promise<void> {
  await retryWhileIamPropagates(
    () =>
      callAws({ service: 'sagemaker', operation: 'CreateTrainingJob', resource: request.TrainingJobName }, () =>
        withRetry(() => sagemaker.send(new CreateTrainingJobCommand(request)), {
          clock,
          signal,
          retryable: isThrottling,
          onRetry: (n, _e, d) => onRetry(`CreateTrainingJob throttled; retrying in ${Math.round(d / 1000)}s (attempt ${n + 1})`),
        }),
      ),
    { clock, signal, onRetry: (n) => onRetry(`the new execution role is not visible to SageMaker yet; retrying (attempt ${n + 1})`) },
  )
}
