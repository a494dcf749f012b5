import type { Command } from 'commander'
import { MAX_EXECUTION_TIMEOUT_SECONDS } from '../config/sections/ec2.js'
import { EC2_INSTANCE_TYPE_PATTERN } from '../config/common.js'
import { parseDurationFlag, type Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import type { TrainEc2Options } from '../features/ec2/plan.js'
import { action } from './action.js'

/** Commander's raw option values. */
interface TrainEc2Flags {
  readonly instanceType?: string
  readonly spot?: boolean
  readonly keep?: boolean
  readonly maxHours?: string
  readonly timeout?: string
}

export function register(program: Command, deps: Deps): Command {
  return program
    .command('train-ec2')
    .description('train on a GPU EC2 box over SSM (no SSH, no open port); the box is terminated at the end')
    .option('--instance-type <type>', 'EC2 instance type (default: ec2.instanceType, g4dn.xlarge)')
    .option('--spot', 'use a one-time spot instance (cheaper; can be refused or reclaimed)')
    .option('--keep', 'leave the instance running at the end (prints its hourly cost and the command to terminate it)')
    .option('--max-hours <h>', 'dead-man switch: the box terminates itself after this many hours, even if mlops dies (default: ec2.maxHours, 4)')
    .option('--timeout <duration>', 'longest the training command may run, e.g. 90m or 2h (default: ec2.timeout, 3h; at most 48h)')
    .addHelpText(
      'after',
      `
Example:
  $ mlops train-ec2 --dry-run                       print every AWS request, send nothing
  $ mlops train-ec2 --instance-type g4dn.xlarge --timeout 2h --max-hours 3
  $ mlops train-ec2 --spot --yes                    one-time spot, no prompt

What it does: resolves the Deep Learning AMI from its public SSM parameter, creates (once) an
instance role with only AmazonSSMManagedInstanceCore and S3 access to the project's prefixes, a
security group with no inbound rules, launches with IMDSv2, an encrypted root volume and a
shutdown timer, runs train.py through SSM Run Command with live output, uploads model.tar.gz to
s3://<bucket>/<outputPrefix>/<run>/output/, and terminates the box, also on failure and Ctrl-C.`,
    )
    .action(
      action<TrainEc2Flags>(deps, async (ctx, flags) => {
        const opts = parseTrainEc2Flags(flags)
        const { runTrainEc2 } = await import('../features/ec2/train-ec2.js')
        const { renderTrainEc2 } = await import('../features/ec2/render.js')
        ctx.ui.result(await runTrainEc2(ctx, opts), renderTrainEc2)
      }),
    )
}

/** Validates the flags before any AWS call; bad values are UserErrors naming the flag (exit 2). */
export function parseTrainEc2Flags(o: TrainEc2Flags): TrainEc2Options {
  let instanceType: string | undefined
  if (o.instanceType !== undefined) {
    if (o.instanceType.startsWith('ml.')) {
      throw new UserError('InvalidFlag', `--instance-type ${o.instanceType} is a SageMaker type; EC2 types have no "ml." prefix.`, {
        hint: `Use --instance-type ${o.instanceType.slice(3)}.`,
      })
    }
    if (!EC2_INSTANCE_TYPE_PATTERN.test(o.instanceType)) {
      throw new UserError('InvalidFlag', `--instance-type "${o.instanceType}" is not an EC2 instance type.`, {
        hint: 'For example: --instance-type g4dn.xlarge',
      })
    }
    instanceType = o.instanceType
  }
  let maxHours: number | undefined
  if (o.maxHours !== undefined) {
    const n = Number(o.maxHours)
    if (!/^\s*\d+(\.\d+)?\s*$/.test(o.maxHours) || !(n > 0) || n > 48) {
      throw new UserError('InvalidFlag', `--max-hours must be a number of hours above 0 and at most 48, got "${o.maxHours}".`, {
        hint: 'For example: --max-hours 4',
      })
    }
    maxHours = n
  }
  const timeoutSeconds = o.timeout === undefined ? undefined : parseDurationFlag(o.timeout, '--timeout', '2h')
  if (timeoutSeconds !== undefined && timeoutSeconds > MAX_EXECUTION_TIMEOUT_SECONDS) {
    throw new UserError('InvalidFlag', `--timeout ${o.timeout} is beyond SSM Run Command's 48h limit.`, { hint: 'Use --timeout 48h or less.' })
  }
  return {
    ...(instanceType ? { instanceType } : {}),
    ...(o.spot ? { spot: true } : {}),
    keep: Boolean(o.keep),
    ...(maxHours !== undefined ? { maxHours } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
  }
}
