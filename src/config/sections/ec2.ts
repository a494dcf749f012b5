import { z } from 'zod'
import { duration, ec2InstanceType, positiveInt } from '../common.js'

/**
 * The newest supported x86 PyTorch DLAMI line (OSS NVIDIA driver, Ubuntu 24.04). It must equal the newest
 * `ec2` row of aws/lifecycle.ts `IMAGE_LIFECYCLE` (test/unit/image-lifecycle.test.ts checks it; the config
 * layer cannot import aws/).
 */
export const DEFAULT_DLAMI_PARAMETER = '/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.11-ubuntu-24.04/latest/ami-id'

/** The longest an SSM Run Command may execute (AWS-RunShellScript executionTimeout maximum). */
export const MAX_EXECUTION_TIMEOUT_SECONDS = 172_800

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
  maxHours: z
    .number({ error: 'expected a number of hours' })
    .positive('must be more than 0 hours')
    .max(48, 'at most 48 hours (the SSM command limit)')
    .default(4),
  /** Longest the training command may run. @default '3h' */
  timeout: duration.refine((s) => s <= MAX_EXECUTION_TIMEOUT_SECONDS, 'at most 48h (the SSM Run Command executionTimeout limit)').default(10800),
  /** One-time spot instance. @default false */
  spot: z.boolean().default(false),
  /** Subnet to launch into; unset: the default VPC. */
  subnetId: z
    .string()
    .regex(/^subnet-[0-9a-f]+$/, 'expected a subnet id such as subnet-0abc1234')
    .optional(),
  /** The AMI's PyTorch interpreter. @default '/opt/pytorch/bin/python' */
  pythonPath: z.string().startsWith('/', 'expected an absolute path').default('/opt/pytorch/bin/python'),
  /** Longest to wait for the instance to reach `running`. @default '10m' */
  launchTimeout: duration.default(600),
  /** Longest to wait for the SSM agent to report Online after boot (tens of seconds to minutes). @default '10m' */
  agentTimeout: duration.default(600),
})
