import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { FindingsError, UserError } from '../shared/errors.js'
import { action } from './action.js'

export function register(program: Command, deps: Deps): Command {
  return program
    .command('doctor')
    .description('check credentials, region, quotas, permissions, the bucket and local Python for this config, without planning a command')
    .addHelpText(
      'after',
      `
Runs every preflight check (the ones train, tune, train-ec2, deploy and lambda-setup run before their
first write) for the whole config: who you are (sts GetCallerIdentity), the region, the Service Quotas
of the configured instance types, your permissions for the pipeline's requests (iam
SimulatePrincipalPolicy), the data bucket's region, and Python with torch for --local. It only reads.
A check that cannot run (AccessDenied on its read) is shown with "!" and is not a failure.
Exit 3 when a check fails.

Examples:
  $ mlops doctor
  $ mlops doctor --json | jq '.checks[] | select(.status == "fail")'`,
    )
    .action(
      action<Record<string, never>>(deps, async (ctx) => {
        if (ctx.dryRun)
          throw new UserError('ConflictingFlags', 'doctor only reads; --dry-run does not apply.', { hint: 'Run `mlops doctor` without --dry-run.' })
        const [{ runDoctor }, { renderDoctor }, { findPython }] = await Promise.all([
          import('../features/preflight/doctor.js'),
          import('../features/preflight/render.js'),
          import('../features/local/python.js'),
        ])
        const outcome = await runDoctor(ctx, {
          python: () => {
            try {
              const py = findPython({ env: ctx.deps.env })
              return { ok: true, detail: `${py.path} (${py.source}) imports torch and torchvision; ${py.cudaDevices} CUDA device(s)` }
            } catch (err) {
              const e = err as UserError
              return { ok: false, detail: `${e.message} (only --local needs it)`, ...(e.hint ? { fix: e.hint } : {}) }
            }
          },
        })
        ctx.ui.result(outcome, renderDoctor)
        if (outcome.kind === 'done' && !outcome.result.ok) throw new FindingsError('doctor: a check failed (see above).', { reportAlreadyWritten: true })
      }),
    )
}
