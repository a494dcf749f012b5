import { Command, Option } from 'commander'
import { COMMANDS } from './commands/index.js'
import { checkGlobalFlags, type Deps, type GlobalOptions } from './context.js'
import {
  errorToJson,
  exitCodeFor,
  isCommanderError,
  MlopsError,
  ConfigError,
  AbortError,
  FindingsError,
  notAnAwsApiError,
  fileSystemError,
  type ExitCodeValue,
} from './shared/errors.js'
import { Ui } from './shared/output.js'
import { bundledHyperparameterNames, hyperparameterFlagHint } from './shared/hyperparameters.js'
import { bundledScriptsDir } from './shared/package-root.js'

/**
 * Builds a fresh program (tests get their own). Global flags live on the root and are read by
 * every command through `optsWithGlobals()`.
 */
export function createProgram(deps: Deps): Command {
  const program = new Command('mlops')
    .description(
      'From a folder of images to a trained PyTorch model behind a secured, autoscaled SageMaker endpoint,\n' +
        'with a least-privilege Lambda in front and an IAM audit of the roles that made it possible.',
    )
    .version(deps.version, '-V, --version', 'print the mlops version')
    .option('-c, --config <path>', 'config file; unset: the nearest in this folder or a parent, up to the repository root (.git)', 'mlops.config.yaml')
    .option('--profile <name>', 'AWS profile (overrides AWS_PROFILE and aws.profile)')
    .option('--region <region>', "AWS region (overrides AWS_REGION, aws.region and the profile's region)")
    .option('--endpoint-url <url>', 'send every AWS call to this URL, e.g. a local moto server (overrides AWS_ENDPOINT_URL)')
    .option('--json', 'print exactly one JSON document on stdout (progress stays on stderr)')
    .option('--dry-run', 'print the AWS requests that would be made, with full inputs, and change nothing')
    .option('-y, --yes', 'answer yes to confirmations (needed in scripts for destructive or costly steps)')
    .option('--debug', 'show error causes and stack traces')
    .option('--no-preflight', 'skip the quota and permission checks commands run before their first write (also MLOPS_PREFLIGHT=off)')
    .addOption(new Option('--no-color', 'disable colours (also NO_COLOR=1, or when output is not a terminal)'))
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride()
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
      // commander's own errors are rendered by runCli, so they get the same shape as ours.
      outputError: () => undefined,
    })
  program.addHelpText(
    'after',
    `
Typical flow:
  $ mlops init                      write a commented mlops.config.yaml
  $ mlops upload-data               sync train/ valid/ test/ to S3
  $ mlops train --instances 4       distributed SageMaker training
  $ mlops deploy                    endpoint + smoke test
  $ mlops lambda-setup              least-privilege Lambda in front
  $ mlops scale --min 1 --max 4     endpoint autoscaling
  $ mlops audit-iam                 least-privilege findings
  $ mlops status / teardown         what is running and what it costs; remove it

Exit codes: 0 ok, 1 operation failed, 2 usage or config error, 3 audit findings, 130 interrupted.
Try it without an AWS account, on this machine:
  $ mlops train --local --cpu-sized         a small model from data.localDir, sized for a CPU
  $ mlops serve                             serve it on 127.0.0.1:8080; then: mlops invoke dog.jpg --local
  $ mlops emulator                          the cloud steps against a local AWS emulator (Python with moto[server])`,
  )
  // Global flags are checked once, before any command does anything.
  program.hook('preAction', (_root, actionCommand) => checkGlobalFlags(actionCommand.optsWithGlobals() as GlobalOptions))
  // iam-policy plans other commands in-process on a fresh program of its own.
  for (const cmd of COMMANDS) cmd.register(program, deps, createProgram)
  return program
}

/** Parses argv, runs the command, renders any error once, and returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], deps: Deps): Promise<ExitCodeValue> {
  const program = createProgram(deps)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return 0
  } catch (thrown) {
    // An answer no AWS call site translated still gets a plain message, not a SyntaxError; a full
    // disk or a read-only folder names the file and the fix, not "Unexpected error: ENOSPC".
    const err = notAnAwsApiError(thrown) ?? fileSystemError(thrown, { cwd: deps.cwd }) ?? thrown
    const code = exitCodeFor(err)
    if (isCommanderError(err) && code === 0) return 0 // --help, --version
    renderError((isCommanderError(err) && hyperparameterUsage(err, program, argv)) || err, deps, {
      json: argv.includes('--json'),
      debug: argv.includes('--debug'),
      color: !argv.includes('--no-color'),
    })
    return code
  }
}

/** The one place errors become text. Stack traces only with --debug. */
export function renderError(err: unknown, deps: Deps, flags: { json: boolean; debug: boolean; color: boolean }): void {
  const ui = new Ui({
    stdout: deps.stdout,
    stderr: deps.stderr,
    json: flags.json,
    debug: flags.debug,
    color: flags.color,
    env: deps.env,
    clock: deps.clock,
    yes: false,
  })
  const c = ui.c
  // A FindingsError follows a report that is already the one JSON document on stdout.
  const resultWritten = err instanceof FindingsError && err.reportAlreadyWritten
  if (flags.json && !resultWritten) deps.stdout.write(JSON.stringify(errorToJson(isCommanderError(err) ? usageFromCommander(err) : err), null, 2) + '\n')
  if (isCommanderError(err)) {
    deps.stderr.write(`${c.red('✖')} ${err.message.replace(/^error: /, '')}\n${c.gray('Run the command with --help for usage.')}\n`)
    return
  }
  if (err instanceof AbortError) {
    deps.stderr.write(`${err.message}\n`)
    return
  }
  if (err instanceof MlopsError) {
    deps.stderr.write(`${c.red('✖')} ${err.message}\n`)
    if (err instanceof ConfigError) for (const issue of err.issues) deps.stderr.write(`  ${issue}\n`)
    if (err.hint) deps.stderr.write(`${c.yellow('hint:')} ${err.hint}\n`)
    if (flags.debug) {
      if (err.cause) deps.stderr.write(c.gray(`cause: ${describeCause(err.cause)}\n`))
      deps.stderr.write(c.gray(`${err.stack}\n`))
    }
    return
  }
  // An error nobody translated: say so plainly, and keep the stack for --debug.
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  deps.stderr.write(`${c.red('✖')} Unexpected error: ${message}\n`)
  if (flags.debug && err instanceof Error) deps.stderr.write(c.gray(`${err.stack}\n`))
  else deps.stderr.write(c.gray('Run again with --debug for details, and report it if it persists.\n'))
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`
  return String(cause)
}

function usageFromCommander(err: { message: string; code: string }): MlopsError {
  return new MlopsError('Usage', err.message.replace(/^error: /, ''), { hint: 'Run the command with --help for usage.' })
}

/**
 * An unknown option that is a hyperparameter of the bundled training script, on a command that
 * takes --hyperparameter (`mlops train --epochs 3`): the usage error with the flag that sets it
 * (issue 31 item 10). Undefined for every other commander error.
 */
function hyperparameterUsage(err: { message: string; code: string }, program: Command, argv: readonly string[]): MlopsError | undefined {
  if (err.code !== 'commander.unknownOption') return undefined
  const message = err.message.replace(/^error: /, '')
  const option = /'([^']+)'/.exec(message)?.[1]
  const command = program.commands.find((cmd) => argv.includes(cmd.name()))
  if (!option || !command?.options.some((o) => o.long === '--hyperparameter')) return undefined
  const hint = hyperparameterFlagHint(option, argv[argv.indexOf(option) + 1], bundledHyperparameterNames(bundledScriptsDir()))
  return hint ? new MlopsError('Usage', message, { hint }) : undefined
}
