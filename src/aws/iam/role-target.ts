import { partitionOf } from '../arn.js'
import { debuggerRuleRepositoryArn, ecrRepositoryArn } from '../sagemaker/images.js'

/**
 * The AWS facts the pure role specs in shared/roles/ need: the account, the region's partition and
 * the ECR repositories of the images the role pulls. Features pass this to `executionRoleSpec` and
 * friends, so those stay free of AWS imports.
 */
export interface RoleTargetFacts {
  readonly accountId: string
  readonly region: string
  readonly partition: string
  /** ECR repository ARNs of the images the role pulls (aws/sagemaker/images.ts `configuredImageUris`), each once. */
  readonly imageRepositoryArns: readonly string[]
  /** ECR repository ARN of the region's SageMaker Debugger rule images (undefined where there are none). */
  readonly debuggerRuleRepositoryArn?: string
}

/**
 * `imageUris`: every image the execution role will pull, as used (defaults, overrides, any region's
 * registry). The grant is derived from them, never from a fixed account and repository list; a URI
 * that is not a private ECR image gets no grant (SageMaker pulls only from ECR).
 */
export function roleTarget(accountId: string, region: string, imageUris: readonly string[]): RoleTargetFacts {
  const debuggerRepo = debuggerRuleRepositoryArn(region)
  const repos = imageUris.map(ecrRepositoryArn).filter((a): a is string => a !== undefined)
  return {
    accountId,
    region,
    partition: partitionOf(region),
    imageRepositoryArns: [...new Set(repos)],
    ...(debuggerRepo ? { debuggerRuleRepositoryArn: debuggerRepo } : {}),
  }
}
