import { processorFor } from '../../aws/sagemaker/images.js'
import { UserError } from '../../shared/errors.js'

/**
 * How the instances of a training job cooperate. Pure: decided from the instance type, the count
 * and the PyTorch version, and explained in words so the plan can say why.
 *
 * - torch_distributed: SageMaker's PyTorch toolkit launches `torchrun` on every host (one process
 *   per GPU) with MASTER_ADDR/MASTER_PORT set; train.py joins from RANK/WORLD_SIZE (NCCL).
 * - native: no launcher; every host runs `python train.py` once and train.py forms the process
 *   group itself from SM_HOSTS / SM_CURRENT_HOST (gloo on CPU, one process per GPU on GPU).
 * - none: one process per host and no SageMaker flag. train.py still joins several hosts from
 *   SM_HOSTS, so with one instance this is plain single-process training.
 */
export type DistributionMode = 'torch_distributed' | 'native' | 'none'
export type DistributionSetting = 'auto' | DistributionMode

/**
 * Framework versions SageMaker accepts `torch_distributed` for on GPU instances
 * (TORCH_DISTRIBUTED_GPU_SUPPORTED_FRAMEWORK_VERSIONS, src/sagemaker/fw_utils.py @ v2.257.6, up to
 * 2.8.0), plus the lines after it: the 2.9/2.10 `pytorch-training` images and the AL2023 `-sagemaker`
 * images keep sagemaker_pytorch_container's torchrun launcher (shared/reference/aws-images-2026.md).
 */
export const TORCH_DISTRIBUTED_VERSIONS: readonly string[] = [
  '1.13.1',
  '2.0.0',
  '2.0.1',
  '2.1.0',
  '2.1.2',
  '2.2.0',
  '2.3.0',
  '2.3.1',
  '2.4.1',
  '2.5.1',
  '2.6.0',
  '2.7.1',
  '2.8.0',
  '2.9.0',
  '2.10.0',
  '2.11.0',
  '2.12.1',
  '2.13.0',
]

/** GPUs per instance for the multi-GPU types; every other GPU type has one. */
const MULTI_GPU: Record<string, number> = {
  'g4dn.12xlarge': 4,
  'g4dn.metal': 8,
  'g5.12xlarge': 4,
  'g5.24xlarge': 4,
  'g5.48xlarge': 8,
  'g6.12xlarge': 4,
  'g6.24xlarge': 4,
  'g6.48xlarge': 8,
  'g6e.12xlarge': 4,
  'g6e.24xlarge': 4,
  'g6e.48xlarge': 8,
  'p3.8xlarge': 4,
  'p3.16xlarge': 8,
  'p3dn.24xlarge': 8,
  'p4d.24xlarge': 8,
  'p4de.24xlarge': 8,
  'p5.48xlarge': 8,
  'p5e.48xlarge': 8,
  'p5en.48xlarge': 8,
}

/** GPUs on one instance of this type (0 for CPU types). */
export function gpusPerInstance(instanceType: string): number {
  if (processorFor(instanceType) === 'cpu') return 0
  return MULTI_GPU[instanceType.replace(/^ml\./, '')] ?? 1
}

export interface DistributionInput {
  readonly instanceType: string
  readonly instanceCount: number
  readonly frameworkVersion: string
  /** training.distribution. @default 'auto' */
  readonly setting: DistributionSetting
}

export interface DistributionPlan {
  readonly mode: DistributionMode
  /** One sentence: why this mode, and what runs where. */
  readonly reason: string
  /** Training processes across all hosts. */
  readonly worldSize: number
  /** Extra hyperparameters (already JSON-encoded, as the SDK sends them). */
  readonly hyperparameters: Readonly<Record<string, string>>
  /** Something the user should know (for example `none` with several instances). */
  readonly warning?: string
}

/** Decides the distribution mode; UserError (exit 2) for a combination SageMaker would reject. */
export function decideDistribution(input: DistributionInput): DistributionPlan {
  const { instanceType, instanceCount: hosts, frameworkVersion, setting } = input
  const gpus = gpusPerInstance(instanceType)
  const onGpu = gpus > 0
  const supported = TORCH_DISTRIBUTED_VERSIONS.includes(frameworkVersion)
  const procsPerHost = Math.max(1, gpus)
  const world = hosts * procsPerHost
  const shape = `${hosts} host${hosts === 1 ? '' : 's'} × ${procsPerHost} process${procsPerHost === 1 ? '' : 'es'} = ${world}`
  const torchDistributed = (reason: string): DistributionPlan => ({
    mode: 'torch_distributed',
    reason,
    worldSize: world,
    hyperparameters: {
      sagemaker_torch_distributed_enabled: JSON.stringify(true),
      sagemaker_instance_type: JSON.stringify(instanceType),
    },
  })
  const native = (reason: string, warning?: string): DistributionPlan => ({
    mode: 'native',
    reason,
    worldSize: world,
    hyperparameters: {},
    ...(warning ? { warning } : {}),
  })
  const backend = onGpu ? 'NCCL' : 'gloo'

  if (setting === 'torch_distributed') {
    if (!onGpu) {
      throw new UserError('TorchDistributedNeedsGpu', `training.distribution torch_distributed needs a GPU instance type; ${instanceType} is CPU only.`, {
        hint: 'Use distribution: native (train.py forms a gloo process group from SM_HOSTS) or auto, or pick a GPU type such as ml.g4dn.xlarge.',
      })
    }
    if (!supported) {
      throw new UserError(
        'TorchDistributedUnsupportedVersion',
        `SageMaker supports torch_distributed for PyTorch ${TORCH_DISTRIBUTED_VERSIONS[0]} to ${TORCH_DISTRIBUTED_VERSIONS.at(-1)}, not ${frameworkVersion}.`,
        {
          hint: `Set training.frameworkVersion to one of ${TORCH_DISTRIBUTED_VERSIONS.join(', ')}, or use distribution: native.`,
        },
      )
    }
    return torchDistributed(`as configured: SageMaker's torchrun launcher, ${shape} processes, ${backend} all-reduce`)
  }
  if (setting === 'native') {
    return native(`as configured: every host runs train.py once and it forms a ${backend} process group from SM_HOSTS (${shape} processes)`)
  }
  if (setting === 'none') {
    return {
      mode: 'none',
      reason:
        hosts === 1 ? 'as configured: one host, no launcher' : `as configured: no SageMaker launcher; train.py still joins the ${hosts} hosts from SM_HOSTS`,
      worldSize: hosts === 1 ? 1 : world,
      hyperparameters: {},
      ...(hosts > 1
        ? { warning: 'distribution: none with several instances behaves like native (train.py joins the hosts itself); say native to make that explicit.' }
        : {}),
    }
  }
  // auto
  if (world === 1) {
    return { mode: 'none', reason: `one instance with ${onGpu ? 'one GPU' : 'CPUs only'}: nothing to distribute`, worldSize: 1, hyperparameters: {} }
  }
  if (onGpu && supported) {
    return torchDistributed(
      `GPU instances and PyTorch ${frameworkVersion} support SageMaker's torchrun launcher: ${shape} processes, each training on 1/${world} of every epoch, ${backend} all-reduce`,
    )
  }
  if (onGpu) {
    return native(
      `PyTorch ${frameworkVersion} is not on SageMaker's torch_distributed list, so train.py forms an ${backend} process group from SM_HOSTS (${shape} processes)`,
    )
  }
  return native(
    `${instanceType} is a CPU type (torch_distributed needs GPUs), so train.py forms a gloo process group from SM_HOSTS: ${shape} processes, each training on 1/${world} of every epoch`,
  )
}
