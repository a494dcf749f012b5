import { z } from 'zod'
import { parseDuration } from '../shared/duration.js'

/**
 * Validators shared by the config sections. Every message says what is expected, so the
 * loader can print `file:line • path: message` and the user knows the fix without the docs.
 */

export const AWS_REGION_PATTERN = /^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov)-[a-z]+-\d$/
export const region = z.string().regex(AWS_REGION_PATTERN, 'expected an AWS region such as us-east-1 or eu-west-1')

/** SageMaker instance types always start with `ml.` (ml.m5.large, ml.g4dn.xlarge, ml.p3.16xlarge). */
export const SAGEMAKER_INSTANCE_TYPE_PATTERN = /^ml\.[a-z0-9-]+\.(medium|large|\d*xlarge)$/
export const sagemakerInstanceType = z
  .string()
  .regex(SAGEMAKER_INSTANCE_TYPE_PATTERN, "expected a SageMaker instance type such as ml.m5.large or ml.g4dn.xlarge (note the 'ml.' prefix)")

/** EC2 instance types have no `ml.` prefix (g4dn.xlarge, p3.2xlarge, t3.micro). */
export const EC2_INSTANCE_TYPE_PATTERN = /^[a-z][a-z0-9-]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$/
export const ec2InstanceType = z
  .string()
  .regex(EC2_INSTANCE_TYPE_PATTERN, 'expected an EC2 instance type such as g4dn.xlarge (no ml. prefix)')
  .refine((v) => !v.startsWith('ml.'), 'ec2 instance types have no "ml." prefix: use g4dn.xlarge, not ml.g4dn.xlarge')

export const IAM_ROLE_ARN_PATTERN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/
export const roleArn = z.string().regex(IAM_ROLE_ARN_PATTERN, 'expected an IAM role ARN such as arn:aws:iam::123456789012:role/my-role')

/** S3 bucket naming rules (3-63 chars, lower case, digits, dots, hyphens; starts and ends alphanumeric). */
export const bucketName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name: 3-63 lower-case letters, digits, dots or hyphens')
  .refine((v) => !/\.\./.test(v) && !/^\d+\.\d+\.\d+\.\d+$/.test(v), 'not a valid S3 bucket name (no "..", not an IP address)')

/** An S3 key prefix without leading or trailing slashes. */
export const s3Prefix = z.string().regex(/^[^/].*[^/]$|^[^/]$/, 'expected a key prefix without a leading or trailing "/" (for example dogImages)')

export const positiveInt = (what: string) =>
  z
    .number({ error: `expected a number (${what})` })
    .int(`expected a whole number (${what})`)
    .min(1, `must be at least 1 (${what})`)

/** The message for a field's upper bound: `must be at most 200 (concurrent invocations)`. */
export const atMost = (max: number, what: string) => `must be at most ${max} (${what})`

export const nonNegativeInt = (what: string) =>
  z
    .number({ error: `expected a number (${what})` })
    .int(`expected a whole number (${what})`)
    .min(0, `must be 0 or more (${what})`)

/** A duration such as `90s`, `30m`, `2h`, `1h30m`, or a number of seconds; parsed to seconds. */
export const duration = z.union([z.string(), z.number()], { error: 'expected a duration such as 30m, 2h or 1h30m' }).transform((v, ctx) => {
  try {
    return parseDuration(v)
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message })
    return z.NEVER
  }
})

/** A resource name fragment that is valid in SageMaker, Lambda, IAM and EC2 names alike. */
export const resourceName = z
  .string()
  .regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/, 'expected letters, digits and single hyphens, starting and ending with a letter or digit')
  .max(63, 'at most 63 characters (the SageMaker endpoint name limit)')
