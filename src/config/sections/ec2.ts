import { z } from 'zod'
import { duration, ec2InstanceType, positiveInt } from '../common.js'

export const DEFAULT_DLAMI_PARAMETER =
  '/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.9-ubuntu-24.04/latest/ami-id'

/** `ec2`: the GPU box `mlops train-ec2` launches. */
export const Ec2Schema = z.strictObject({
  /** @default 'g4dn.xlarge' */
  instanceType: ec2InstanceType.default('g4dn.xlarge'),
  /** Public SSM parameter that names the current Deep Learning AMI. */
  amiParameter: z
    .string()
    .regex(/^\/aws\/service\//, 'expected a public SSM parameter path starting with /aws/service/')
    .default(DEFAULT_DLAMI_PARAMETER),
  /** Root volume size (encrypted). @default 100 */
  volumeSizeGb: positiveInt('GB').max(16384).default(100),
  /** Dead-man switch: the box shuts itself down (and terminates) after this many hours. @default 4 */
  maxHours: z.number().positive('must be more than 0 hours').max(48, 'at most 48 hours (the SSM command limit)').default(4),
  /** Longest the training command may run. @default '3h' */
  timeout: duration.default(10800),
  /** One-time spot instance. @default false */
  spot: z.boolean().default(false),
  /** Subnet to launch into; unset: the default VPC. */
  subnetId: z.string().regex(/^subnet-[0-9a-f]+$/, 'expected a subnet id such as subnet-0abc1234').optional(),
  /** The AMI's PyTorch interpreter. @default '/opt/pytorch/bin/python' */
  pythonPath: z.string().startsWith('/', 'expected an absolute path').default('/opt/pytorch/bin/python'),
})
