import { partitionOf } from '../arn.js'
import { debuggerRuleRepositoryArn, pytorchRepositoryArns } from '../sagemaker/images.js'

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
  /** ECR repository ARN of the region's SageMaker Debugger rule images (undefined where there are none). */
  readonly debuggerRuleRepositoryArn?: string
}

export function roleTarget(accountId: string, region: string): RoleTargetFacts {
  const debuggerRepo = debuggerRuleRepositoryArn(region)
  return {
    accountId,
    region,
    partition: partitionOf(region),
    imageRepositoryArns: pytorchRepositoryArns(region),
    ...(debuggerRepo ? { debuggerRuleRepositoryArn: debuggerRepo } : {}),
  }
}
