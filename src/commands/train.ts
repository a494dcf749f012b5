import type { Command } from 'commander'
import { budgetUsdField, followTimeoutField, localHostsField } from '../config/flag-fields.js'
import { NotifyDestinationSchema } from '../config/sections/notify.js'
import { TrainingSchema } from '../config/sections/training.js'
import type { CommandContext, Deps } from '../context.js'
import { UserError } from '../shared/errors.js'
import { action } from './action.js'
import { durationOption, intOption, notifyOption, stringOption } from './options.js'

/** The flags `train` declares, which `tune` shares through addTrainingFlags. */
export interface TrainFlags {
  readonly instances?: string
  readonly instanceType?: string
  readonly spot?: boolean
  readonly hyperparameter?: string[]
  readonly wait?: boolean
  readonly timeout?: string
  readonly stopOnInterrupt?: boolean
  /** `train` only: run on this machine instead of SageMaker. */
  readonly local?: boolean
  readonly python?: string
  /** `train --local` only: the demo's small settings, sized for a CPU. */
  readonly cpuSized?: boolean
  readonly budget?: string
  /** `--notify`, repeatable: e-mail address, SNS topic ARN or https webhook URL. */
  readonly notify?: string[]
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

/** Flags shared by `train` and `tune`: where and how each training job runs. */
export function addTrainingFlags(cmd: Command): Command {
  return cmd
    .option('--instances <n>', 'instances per training job; more than 1 runs data-parallel training (default: training.instanceCount)')
    .option('--instance-type <type>', 'SageMaker instance type, e.g. ml.g4dn.xlarge (default: training.instanceType)')
    .option('--spot', 'use managed spot training (cheaper, may be interrupted; resumes from checkpoints)')
    .option('--no-spot', 'use on-demand capacity even if training.spot is set')
    .option('--hyperparameter <key=value>', 'hyperparameter for train.py, repeatable (overrides training.hyperparameters)', collect)
    .option('--no-wait', 'start the job, print its name and return (re-attach with `mlops logs <job>`)')
    .option('--timeout <duration>', "how long to wait for the job, e.g. 90m or 3h (default: the job's max runtime + 30m)")
    .option('--stop-on-interrupt', 'on Ctrl-C stop the job instead of asking (without a terminal the default is to detach)')
    .option('--budget <usd>', 'most to spend in USD, e.g. 20: sets the max runtime (train) or the number of jobs (tune) from the hourly price')
    .option(
      '--notify <dest>',
      'tell this e-mail address, SNS topic ARN or https webhook URL when the run ends, fails or stops, with no mlops running; repeatable (overrides notify: in the config)',
      collect,
    )
}

/** Checked by the training.* fields they override, or their flag-only fields. */
const FLAGS = {
  instances: intOption('--instances', TrainingSchema.shape.instanceCount.unwrap(), '4'),
  instanceType: stringOption('--instance-type', TrainingSchema.shape.instanceType.unwrap(), { example: 'ml.g4dn.xlarge' }),
  timeout: durationOption('--timeout', followTimeoutField, '3h'),
  budget: stringOption('--budget', budgetUsdField, { example: '20' }),
  localInstances: intOption('--instances', localHostsField, '2'),
  localTimeout: durationOption('--timeout', followTimeoutField, '30m'),
  notify: notifyOption(NotifyDestinationSchema),
}

/** Validates the shared flags before any AWS call: a bad value is a usage error naming the flag. */
export async function parseTrainingFlags(ctx: CommandContext, f: TrainFlags) {
  const { parseHyperparameterFlag } = await import('../features/training/request.js')
  const { interruptDecider } = await import('../features/training/interrupt.js')
  const instanceType = FLAGS.instanceType(f.instanceType)
  const timeoutSeconds = FLAGS.timeout(f.timeout)
  const instanceCount = FLAGS.instances(f.instances)
  const budgetUsd = FLAGS.budget(f.budget)
  const notify = f.notify?.map((d) => FLAGS.notify(d))
  return {
    overrides: {
      ...(instanceCount !== undefined ? { instanceCount } : {}),
      ...(instanceType !== undefined ? { instanceType } : {}),
      ...(f.spot !== undefined ? { spot: f.spot } : {}),
      ...(f.hyperparameter?.length ? { hyperparameters: Object.fromEntries(f.hyperparameter.map(parseHyperparameterFlag)) } : {}),
    },
    wait: f.wait !== false,
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    ...(budgetUsd !== undefined ? { budgetUsd } : {}),
    ...(notify ? { notify } : {}),
    interrupt: (what: string) =>
      interruptDecider({
        stopOnInterrupt: Boolean(f.stopOnInterrupt),
        ...(ctx.deps.stdinIsTTY && ctx.deps.ask ? { ask: ctx.deps.ask } : {}),
        info: (m) => ctx.ui.warn(m),
        what,
      }),
  }
}

export function register(program: Command, deps: Deps): Command {
  const cmd = program
    .command('train')
    .description('run a SageMaker training job, data-parallel across instances (or --local, on this machine)')
    .option('--local', 'train on this machine under the SageMaker training contract (no AWS; --instances N runs N hosts on loopback)')
    .option('--python <path>', 'with --local: the Python with torch and torchvision (default: MLOPS_PYTHON, else the first on PATH that has them)')
    .option(
      '--cpu-sized',
      'with --local: settings sized for a CPU, as the demo trains (resnet18 from scratch at 64 px, 4 epochs, batch 16, no download); --hyperparameter still wins',
    )
  return addTrainingFlags(cmd)
    .addHelpText(
      'after',
      `
Examples:
  $ mlops train --dry-run                      show the CreateTrainingJob request, send nothing
  $ mlops train --instances 4                  4 instances, torch_distributed on GPU types
  $ mlops train --spot --hyperparameter epochs=20 --hyperparameter lr=0.0005
  $ mlops train --no-wait && mlops logs <job>  start now, follow later
  $ mlops train --local --instances 2          two hosts on this machine, model in .mlops/local/<job>/
  $ mlops train --local --cpu-sized            a first run on a laptop: minutes, not hours, and no internet needed
  $ mlops train --budget 20                    max runtime = $20 / (hourly price × instances)
  $ mlops train --no-wait --notify ops@example.com   e-mail when the job ends (confirm AWS's e-mail first)

The code in training.sourceDir is uploaded once per content hash. Before launching, mlops prints the
distribution mode and why, and the most the job can cost, and asks (pass --yes in scripts).
Ctrl-C while waiting asks whether to stop the job or detach from it.
--notify arms an EventBridge rule and a small notifier function of the project: the message (status,
final metrics, duration, cost; on failure the reason and the last log lines) arrives with no mlops
running. A webhook URL is kept in SSM as a SecureString and never printed. \`mlops teardown\` removes it all.

With --local on a machine without a CUDA GPU, mlops first says what the run will take (training
images × epochs × seconds per image, this machine's rate once a local run has measured it) and, when
that is long, offers --cpu-sized. Inside each epoch, a progress line with the time left every few seconds.`,
    )
    .action(
      action<TrainFlags>(deps, async (ctx, flags) => {
        if (flags.local) return trainLocally(ctx, flags)
        for (const [flag, set] of [
          ['--python', flags.python !== undefined],
          ['--cpu-sized', Boolean(flags.cpuSized)],
        ] as const)
          if (set) throw new UserError('ConflictingFlags', `${flag} only applies to --local training.`, { hint: `Add --local, or leave out ${flag}.` })
        const parsed = await parseTrainingFlags(ctx, flags)
        const { runTrain } = await import('../features/training/train.js')
        const { renderTrainingResult } = await import('../features/training/render.js')
        const outcome = await runTrain(ctx, {
          overrides: parsed.overrides,
          wait: parsed.wait,
          ...(parsed.timeoutSeconds !== undefined ? { timeoutSeconds: parsed.timeoutSeconds } : {}),
          ...(parsed.budgetUsd !== undefined ? { budgetUsd: parsed.budgetUsd } : {}),
          ...(parsed.notify ? { notify: parsed.notify } : {}),
          decideInterrupt: parsed.interrupt('training job'),
        })
        ctx.ui.result(outcome, renderTrainingResult)
      }),
    )
}

/** `train --local`: the same script and contract on this machine; instance types and spot do not apply. */
async function trainLocally(ctx: CommandContext, flags: TrainFlags): Promise<void> {
  for (const [flag, set] of [
    ['--instance-type', flags.instanceType !== undefined],
    ['--spot / --no-spot', flags.spot !== undefined],
    ['--no-wait', flags.wait === false],
    ['--stop-on-interrupt', Boolean(flags.stopOnInterrupt)],
    ['--budget', flags.budget !== undefined],
    ['--notify', flags.notify !== undefined],
  ] as const) {
    if (set)
      throw new UserError('ConflictingFlags', `${flag} does not apply to --local training (one machine, no instance types, no spot).`, {
        hint: `Leave out ${flag}.`,
      })
  }
  const { parseHyperparameterFlag } = await import('../features/training/request.js')
  const { runLocalTrain } = await import('../features/local/train-local.js')
  const { renderLocalTrain } = await import('../features/local/render.js')
  const outcome = await runLocalTrain(ctx, {
    ...(flags.instances !== undefined ? { instances: FLAGS.localInstances(flags.instances) } : {}),
    ...(flags.hyperparameter?.length ? { hyperparameters: Object.fromEntries(flags.hyperparameter.map(parseHyperparameterFlag)) } : {}),
    ...(flags.timeout !== undefined ? { timeoutSeconds: FLAGS.localTimeout(flags.timeout) } : {}),
    ...(flags.python !== undefined ? { python: flags.python } : {}),
    ...(flags.cpuSized ? { cpuSized: true } : {}),
  })
  ctx.ui.result(outcome, renderLocalTrain)
}
