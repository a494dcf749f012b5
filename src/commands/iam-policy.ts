import type { Command } from 'commander'
import path from 'node:path'
import { z } from 'zod'
import type { Deps, GlobalOptions } from '../context.js'
import { MlopsError, UserError } from '../shared/errors.js'
import { PACKAGE_ROOT } from '../shared/package-root.js'
import { action } from './action.js'
import { stringOption } from './options.js'

interface IamPolicyFlags {
  readonly accountId?: string
}

/** A fresh program for in-process planning runs (cli.ts passes createProgram: importing it here would be a cycle). */
export type ProgramFactory = (deps: Deps) => Command

const FLAGS = {
  accountId: stringOption('--account-id', z.string().regex(/^\d{12}$/, { error: 'expected 12 digits' }), { example: '123456789012' }),
}

const SAMPLE = path.join(PACKAGE_ROOT, 'assets', 'sample.jpg')

/** The argument lists planned for each command: every form that reaches another service. */
const FORMS: Record<string, readonly (readonly string[])[]> = {
  'upload-data': [['upload-data']],
  train: [['train']],
  tune: [['tune']],
  'train-ec2': [['train-ec2']],
  deploy: [['deploy']],
  invoke: [
    ['invoke', SAMPLE],
    ['invoke', SAMPLE, '--lambda'],
  ],
  'lambda-setup': [['lambda-setup']],
  scale: [
    ['scale', '--min', '1', '--max', '2'],
    ['scale', '--lambda-reserved', '1', '--lambda-provisioned', '1'],
  ],
  loadtest: [['loadtest']],
  status: [['status']],
  runs: [['runs']],
  teardown: [['teardown']],
  'audit-iam': [['audit-iam']],
}

export function register(program: Command, deps: Deps, makeProgram?: ProgramFactory): Command {
  return program
    .command('iam-policy')
    .argument('[commands...]', 'commands to cover (default: the whole pipeline)')
    .description('print the least-privilege IAM policy a person or CI role needs to run mlops commands for this config')
    .option('--account-id <id>', 'the account to name in ARNs (default: *, the account of whoever holds the policy)')
    .addHelpText(
      'after',
      `
Builds each command's --dry-run plan in-process (no AWS call), maps every request to its IAM action
and scopes it to the project's bucket prefixes, roles (<project>-*), SageMaker names, Lambda function,
log groups and alarms. iam:PassRole is granted only for mlops's own roles, each to its one service.

Examples:
  $ mlops iam-policy --json > mlops-policy.json        the whole pipeline
  $ mlops iam-policy deploy invoke --account-id 123456789012
  $ aws iam put-user-policy --user-name ci --policy-name mlops --policy-document file://mlops-policy.json`,
    )
    .action(
      action<IamPolicyFlags>(deps, async (ctx, flags, args) => {
        const { runIamPolicy, renderIamPolicy, unknownCommand } = await import('../features/audit/iam-policy.js')
        const accountId = FLAGS.accountId(flags.accountId)
        const commands = args
        for (const c of commands) if (!FORMS[c]) throw unknownCommand(c, Object.keys(FORMS))
        if (!makeProgram) throw new Error('internal: iam-policy registered without a program factory')
        const outcome = await runIamPolicy(ctx, {
          commands,
          formsOf: (c) => FORMS[c],
          planOf: (form) => planInProcess(makeProgram, deps, ctx.globals, form),
          ...(accountId !== undefined ? { accountId } : {}),
        })
        ctx.ui.result(outcome, renderIamPolicy)
      }),
    )
}

/** Runs `mlops <form> --dry-run --json` on a fresh program with captured output, and returns its operations. */
async function planInProcess(
  makeProgram: ProgramFactory,
  deps: Deps,
  globals: GlobalOptions,
  form: readonly string[],
): Promise<{ service: string; operation: string; input?: unknown }[]> {
  let out = ''
  const sub = makeProgram({ ...deps, stdout: { write: (s: string) => (out += s), isTTY: false }, stderr: { write: () => true, isTTY: false } })
  const passed = [
    ...(globals.config ? ['--config', globals.config] : []),
    ...(globals.region ? ['--region', globals.region] : []),
    ...(globals.profile ? ['--profile', globals.profile] : []),
  ]
  try {
    await sub.parseAsync([...form, ...passed, '--dry-run', '--json'], { from: 'user' })
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new UserError('PlanFailed', `iam-policy: could not plan \`mlops ${form.join(' ')}\`: ${why}`, {
      hint: `Run \`mlops ${form.join(' ')} --dry-run\` to see the problem, or leave that command out.`,
      ...(err instanceof MlopsError || err instanceof Error ? { cause: err } : {}),
    })
  }
  return (JSON.parse(out) as { operations: { service: string; operation: string; input?: unknown }[] }).operations
}
