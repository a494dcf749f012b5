import type { Command } from 'commander'
import { portField } from '../config/flag-fields.js'
import type { Deps } from '../context.js'
import { EMULATOR_DEFAULT_PORT } from '../shared/emulator-errors.js'
import { action } from './action.js'
import { intOption } from './options.js'

interface EmulatorFlags {
  readonly port?: string
  readonly python?: string
}

const FLAGS = { port: intOption('--port', portField, '5001') }

export function register(program: Command, deps: Deps): Command {
  return program
    .command('emulator')
    .description('run a local AWS emulator (moto) for the cloud commands, with no account (foreground, Ctrl-C stops it)')
    .option('--port <n>', `port on 127.0.0.1 (default: ${EMULATOR_DEFAULT_PORT})`)
    .option('--python <path>', "a Python with moto's server, moto[server] 5.2 (default: MLOPS_MOTO_PYTHON, else python3)")
    .addHelpText(
      'after',
      `
The whole pipeline without an AWS account: moto's server with the fixes mlops needs (shipped in
emulator/moto_server.py, the launcher the tests use). Point mlops at it with AWS_ENDPOINT_URL (or
--endpoint-url) and any credentials; every error that comes from it says so. InvokeEndpoint answers a
canned prediction list, since no model runs in an emulator: train and serve real models with
\`mlops train --local\` and \`mlops serve\`.

Examples:
  $ mlops emulator                                       in one terminal
  $ export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  $ mlops upload-data --yes && mlops train --local --cpu-sized
  $ mlops deploy --model <local run> --yes && mlops status && mlops teardown --yes`,
    )
    .action(
      action<EmulatorFlags>(deps, async (ctx, flags) => {
        const port = FLAGS.port(flags.port) ?? EMULATOR_DEFAULT_PORT
        const { runEmulator } = await import('../features/local/emulator.js')
        const { renderEmulator } = await import('../features/local/render.js')
        ctx.ui.result(await runEmulator(ctx, { port, ...(flags.python !== undefined ? { python: flags.python } : {}) }), renderEmulator)
      }),
    )
}
