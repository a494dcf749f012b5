import { partitionOf } from '../arn.js'
import { pytorchRepositoryArns } from '../sagemaker/images.js'

/**
 * The AWS facts the pure role specs in shared/roles/ need: the account, the region's partition and
 * the ECR repositories of the SageMaker PyTorch images there. Features pass this to
 * `executionRoleSpec` and friends, so those stay free of AWS imports.
 */
export interface RoleTargetFacts {
  readonly accountId: string
  readonly region: string
  readonly partition: string
  /** ECR repository ARNs of the SageMaker PyTorch training and inference images in the region. */
  readonly imageRepositoryArns: readonly string[]
}

export function roleTarget(accountId: string, region: string): RoleTargetFacts {
  return { accountId, region, partition: partitionOf(region), imageRepositoryArns: pytorchRepositoryArns(region) }
}
