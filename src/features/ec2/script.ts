import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { UserError } from '../../shared/errors.js'
import { bundledScriptsDir } from '../../shared/package-root.js'
import { refuseLauncherPaths } from '../../shared/hyperparameters.js'

/**
 * What `train-ec2` runs on the box: the fixed runner `scripts/ec2/train.sh` (shipped in the npm
 * package, read and linted like any script) and the parameters it is given as data. This module
 * builds parameters, never a program: every value becomes one single-quoted shell word that the
 * runner reads as an argument, so no value can change what runs.
 *
 * Why the SSM command looks the way it does (../shared/reference/sagemaker.md §3.5): the agent
 * runs commands as root with `sh` and a minimal environment, so the command writes the runner to a
 * file with `printf` (no heredoc, hence no end marker a value could collide with) and `exec`s bash
 * on it with the parameters.
 */

/** The runner, relative to the package's scripts/ folder. */
export const RUNNER = 'ec2/train.sh'
/** The line the runner prints once the model is uploaded; the CLI looks for it. */
export const ARTIFACT_MARKER = 'MLOPS_MODEL_ARTIFACT='

export interface TrainingParameters {
  /** Run name; also the folder under `workRoot`. */
  readonly runName: string
  readonly region: string
  /** s3:// URI of sourcedir.tar.gz (from ensureCodePackage). */
  readonly codeUri: string
  /** s3:// URIs of the data channels. `test` is optional for train.py and skipped when empty. */
  readonly channels: { readonly train: string; readonly valid: string; readonly test?: string }
  /** Script inside the package. @default 'train.py' */
  readonly entryPoint: string
  /** The AMI's PyTorch interpreter (absolute path). Its folder goes first on PATH. */
  readonly pythonPath: string
  /** Passed as `--key value`, sorted by key, as SageMaker's training toolkit does. */
  readonly hyperparameters: Readonly<Record<string, string | number | boolean>>
  /** auto / torch_distributed: torchrun across the GPUs of a multi-GPU box. */
  readonly distribution: 'auto' | 'torch_distributed' | 'native' | 'none'
  /** s3:// URI model.tar.gz is uploaded to. */
  readonly artifactUri: string
  /** s3:// URI for output.tar.gz (train.py's --output-data-dir, e.g. metrics.json), as SageMaker does. */
  readonly outputDataUri: string
  /** Where runs keep their files on the box. @default '/opt/mlops' */
  readonly workRoot?: string
}

/** Safe characters for a hyperparameter name (it becomes a `--flag`). */
const HP_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/** Reads the runner shipped with mlops. */
export async function readRunner(): Promise<string> {
  return readFile(path.join(bundledScriptsDir(), RUNNER), 'utf8')
}

/** Single-quotes a value for sh/bash: `it's` -> `'it'\''s'`. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/**
 * Refuses, naming the key, what cannot reach train.py intact: a key that is not a plain flag
 * name, a value with NUL (no argument can hold it), and SSM/CloudFormation references
 * (`{{ssm:...}}`, `{{resolve:...}}`), which Run Command would resolve instead of passing on.
 * Runs before any AWS call (issue 19 item 10).
 */
export function checkPassableHyperparameters(hps: Readonly<Record<string, string | number | boolean>>): void {
  refuseLauncherPaths(hps, 'config')
  for (const [key, raw] of Object.entries(hps)) {
    const field = `training.hyperparameters.${key}`
    if (!HP_KEY.test(key)) {
      throw new UserError('InvalidHyperparameter', `${field}: the name "${key}" cannot be passed as a command-line flag.`, {
        hint: 'Use letters, digits, hyphens, dots or underscores in training.hyperparameters keys (for example batch-size).',
      })
    }
    const value = String(raw)
    if (value.includes('\0')) {
      throw new UserError('InvalidHyperparameter', `${field}: the value contains a NUL character, which no command-line argument can hold.`, {
        hint: `Remove the NUL from ${field}.`,
      })
    }
    if (value.includes('{{')) {
      throw new UserError('InvalidHyperparameter', `${field}: the value contains "{{", which SSM Run Command treats as a parameter reference.`, {
        hint: `Remove "{{" from ${field}; values are passed to train.py as they are written.`,
      })
    }
  }
}

/** `--key value` pairs sorted by key, the way SageMaker's training toolkit builds the command line. */
export function hyperparameterArgs(hps: Readonly<Record<string, string | number | boolean>>): string[] {
  checkPassableHyperparameters(hps)
  return Object.keys(hps)
    .sort()
    .flatMap((key) => [`--${key}`, String(hps[key])])
}

/** The runner's arguments: named options, then `--` and the training script's own arguments. */
export function runnerArgs(p: TrainingParameters): string[] {
  const channels = (['train', 'valid', 'test'] as const).flatMap((name) => (p.channels[name] ? ['--channel', `${name}=${p.channels[name]}`] : []))
  return [
    '--run-name',
    p.runName,
    '--region',
    p.region,
    '--code-uri',
    p.codeUri,
    ...channels,
    '--entry-point',
    p.entryPoint,
    '--python',
    p.pythonPath,
    '--distribution',
    p.distribution,
    '--model-uri',
    p.artifactUri,
    '--output-uri',
    p.outputDataUri,
    ...(p.workRoot ? ['--work-root', p.workRoot] : []),
    '--',
    ...hyperparameterArgs(p.hyperparameters),
  ]
}

/**
 * The `commands` parameter for AWS-RunShellScript: POSIX sh (the agent's shell) that writes the
 * runner to `<workRoot>/<run>.sh` and runs it under bash with the parameters, each one quoted word.
 */
export function runShellScriptCommands(runner: string, p: TrainingParameters): string[] {
  const workRoot = (p.workRoot ?? '/opt/mlops').replace(/\/+$/, '')
  const file = `${workRoot}/${p.runName}.sh`
  const lines = [
    'set -e',
    `mkdir -p ${shellQuote(workRoot)}`,
    `printf '%s' ${shellQuote(runner)} > ${shellQuote(file)}`,
    `exec bash ${shellQuote(file)} ${runnerArgs(p).map(shellQuote).join(' ')}`,
  ]
  const text = lines.join('\n')
  // Run Command resolves `{{ssm:...}}` references in parameter values; a literal `{{` must not reach it.
  if (text.includes('{{')) {
    throw new UserError('InvalidCommandText', 'The training command would contain "{{", which SSM Run Command treats as a parameter reference.', {
      hint: 'Remove "{{" from training.hyperparameters values and the configured paths.',
    })
  }
  return text.split('\n')
}
