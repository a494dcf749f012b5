import type { Command } from 'commander'
import { Ec2Schema } from '../config/sections/ec2.js'
import type { Deps } from '../context.js'
import type { TrainEc2Options } from '../features/ec2/plan.js'
import { action } from './action.js'
import { durationOption, notifyOption, numberOption, stringOption } from './options.js'
import { NotifyDestinationSchema } from '../config/sections/notify.js'

/** Commander's raw option values. */
interface TrainEc2Flags {
  readonly instanceType?: string
  readonly spot?: boolean
  readonly keep?: boolean
  readonly maxHours?: string
  readonly timeout?: string
  readonly notify?: string[]
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
    .option(
      '--notify <dest>',
      'tell this e-mail address, SNS topic ARN or https webhook URL when the box is terminated, with no mlops running; repeatable (overrides notify: in the config)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addHelpText(
      'after',
      `
Example:
  $ mlops train-ec2 --dry-run                       print every AWS request, send nothing
  $ mlops train-ec2 --instance-type g4dn.xlarge --timeout 2h --max-hours 3
  $ mlops train-ec2 --spot --yes                    one-time spot, no prompt
  $ mlops train-ec2 --notify ops@example.com        e-mail when the box is terminated (confirm AWS's e-mail first)

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

/** Checked by the ec2.* fields they override, so the 48h and 48-hour SSM limits exist once. */
const FLAGS = {
  instanceType: stringOption('--instance-type', Ec2Schema.shape.instanceType.unwrap(), { example: 'g4dn.xlarge' }),
  maxHours: numberOption('--max-hours', Ec2Schema.shape.maxHours.unwrap(), '4'),
  timeout: durationOption('--timeout', Ec2Schema.shape.timeout.unwrap(), '2h'),
  notify: notifyOption(NotifyDestinationSchema),
}

/** Validates the flags before any AWS call; bad values are UserErrors naming the flag (exit 2). */
export function parseTrainEc2Flags(o: TrainEc2Flags): TrainEc2Options {
  const instanceType = FLAGS.instanceType(o.instanceType)
  const maxHours = FLAGS.maxHours(o.maxHours)
  const timeoutSeconds = FLAGS.timeout(o.timeout)
  const notify = o.notify?.map((d) => FLAGS.notify(d))
  return {
    ...(instanceType ? { instanceType } : {}),
    ...(o.spot ? { spot: true } : {}),
    keep: Boolean(o.keep),
    ...(maxHours !== undefined ? { maxHours } : {}),
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(notify ? { notify } : {}),
  }
}
