import path from 'node:path'
import type { MlopsConfig } from '../../config/schema.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { hyperparameterKey, mergeHyperparameters } from '../../shared/hyperparameters.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'

/**
 * `mlops train --local`: the processes a local training job runs, under the SageMaker training
 * contract (shared/reference/sagemaker.md 1.5): SM_* variables, an /opt/ml-shaped folder under
 * `.mlops/local/<job>/`, hyperparameters as `--key value` sorted by key. Pure, so --dry-run shows
 * exactly what would start.
 */

export type HyperparameterValue = string | number | boolean

/** The folders of a local job: `/opt/ml` becomes `.mlops/local/<job>/`. */
export interface LocalJobLayout {
  readonly root: string
  readonly model: string
  readonly output: string
  readonly outputData: string
  readonly intermediate: string
  readonly inputConfig: string
  readonly checkpoints: string
  /** train.py's reduced-image cache lives under SM_INPUT_DIR, as on SageMaker's input volume. */
  readonly input: string
  readonly artifact: string
}

export function localJobLayout(projectDir: string, jobName: string): LocalJobLayout {
  const root = path.join(projectDir, '.mlops', 'local', jobName)
  return {
    root,
    model: path.join(root, 'model'),
    output: path.join(root, 'output'),
    outputData: path.join(root, 'output', 'data'),
    intermediate: path.join(root, 'output', 'intermediate'),
    input: path.join(root, 'input'),
    inputConfig: path.join(root, 'input', 'config'),
    checkpoints: path.join(root, 'checkpoints'),
    artifact: path.join(root, 'model.tar.gz'),
  }
}

export interface HostProcess {
  /** `algo-1`, `algo-2`, ... as SageMaker names hosts. */
  readonly host: string
  readonly command: string
  readonly args: readonly string[]
  readonly cwd: string
  /** The SM_* (and rendezvous) variables this host gets on top of the caller's environment. */
  readonly env: Readonly<Record<string, string>>
}

export interface LocalTrainingPlan {
  readonly jobName: string
  readonly layout: LocalJobLayout
  readonly channels: Readonly<Record<string, string>>
  readonly hyperparameters: Readonly<Record<string, HyperparameterValue>>
  readonly hosts: readonly HostProcess[]
  /** The files SageMaker writes to /opt/ml/input/config, by name. */
  readonly configFiles: Readonly<Record<string, unknown>>
}

export interface LocalTrainingInput {
  readonly cfg: MlopsConfig
  readonly projectDir: string
  readonly jobName: string
  readonly python: string
  readonly instances: number
  /** Flag overrides, merged over training.hyperparameters (`batch_size` replaces `batch-size`). */
  readonly overrides?: Readonly<Record<string, HyperparameterValue>>
  /** Channel folders that exist (test is optional). */
  readonly channels: Readonly<Record<string, string>>
  /** CUDA devices the Python sees; hosts > 1 on one machine share no GPU, so they get none. */
  readonly cudaDevices: number
  /** Rendezvous port on 127.0.0.1 (only used with more than one host). */
  readonly masterPort: number
}

/**
 * What the training toolkit puts on the command line: each value JSON-decoded, then `--key value`
 * sorted by key (`mapping.to_cmd_args`); Python booleans print as True/False.
 */
export function hyperparameterArgs(hp: Readonly<Record<string, HyperparameterValue>>): string[] {
  return Object.keys(hp)
    .sort()
    .flatMap((k) => {
      const v = hp[k]
      return [`--${k}`, typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v)]
    })
}

const hasKey = (hp: Readonly<Record<string, HyperparameterValue>>, key: string) => Object.keys(hp).some((k) => hyperparameterKey(k) === key)

export function planLocalTraining(i: LocalTrainingInput): LocalTrainingPlan {
  const t = i.cfg.training
  const layout = localJobLayout(i.projectDir, i.jobName)
  const hyperparameters = mergeHyperparameters(t.hyperparameters, i.overrides)
  // SageMaker syncs /opt/ml/checkpoints (train.py's default there); locally it is the job's folder.
  const argsHp = hasKey(hyperparameters, 'checkpoint-dir') ? hyperparameters : { ...hyperparameters, 'checkpoint-dir': layout.checkpoints }
  const hostNames = Array.from({ length: i.instances }, (_, n) => `algo-${n + 1}`)
  const sourceDir = resolveTrainingSourceDir(i.cfg, i.projectDir).dir
  const channelNames = Object.keys(i.channels).sort()
  const userArgs = hyperparameterArgs(argsHp)
  const gpus = i.instances > 1 ? 0 : i.cudaDevices
  const inputDataConfig = Object.fromEntries(channelNames.map((c) => [c, { TrainingInputMode: 'File', S3DistributionType: 'FullyReplicated' }]))
  const shared: Record<string, string> = {
    PYTHONUNBUFFERED: '1',
    SM_HOSTS: JSON.stringify(hostNames),
    SM_NUM_GPUS: String(gpus),
    SM_MODEL_DIR: layout.model,
    SM_OUTPUT_DIR: layout.output,
    SM_OUTPUT_DATA_DIR: layout.outputData,
    SM_OUTPUT_INTERMEDIATE_DIR: layout.intermediate,
    SM_INPUT_DIR: layout.input,
    SM_INPUT_CONFIG_DIR: layout.inputConfig,
    SM_CHANNELS: JSON.stringify(channelNames),
    SM_INPUT_DATA_CONFIG: JSON.stringify(inputDataConfig),
    ...Object.fromEntries(channelNames.map((c) => [`SM_CHANNEL_${c.toUpperCase()}`, i.channels[c]])),
    SM_HPS: JSON.stringify(hyperparameters),
    SM_USER_ARGS: JSON.stringify(userArgs),
    SM_MODULE_DIR: sourceDir,
    SM_USER_ENTRY_POINT: t.entryPoint,
    SM_CURRENT_INSTANCE_TYPE: 'local',
    SM_LOG_LEVEL: '20',
    SAGEMAKER_JOB_NAME: i.jobName,
    ...(i.instances > 1 ? { MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(i.masterPort), CUDA_VISIBLE_DEVICES: '' } : {}),
  }
  const hosts = hostNames.map((host) => ({
    host,
    command: i.python,
    args: [path.join(sourceDir, t.entryPoint), ...userArgs],
    cwd: sourceDir,
    env: {
      ...shared,
      SM_CURRENT_HOST: host,
      CURRENT_HOST: host,
      SM_RESOURCE_CONFIG: JSON.stringify({ current_host: host, hosts: hostNames }),
    },
  }))
  return {
    jobName: i.jobName,
    layout,
    channels: i.channels,
    hyperparameters,
    hosts,
    configFiles: {
      'hyperparameters.json': Object.fromEntries(Object.entries(hyperparameters).map(([k, v]) => [k, JSON.stringify(v)])),
      'resourceconfig.json': { current_host: hostNames[0], hosts: hostNames },
      'inputdataconfig.json': inputDataConfig,
    },
  }
}

/** The plan as dry-run operations: one process per host. */
export function localTrainingOperations(plan: LocalTrainingPlan): PlannedOperation[] {
  return plan.hosts.map((h) => ({
    service: 'local',
    operation: 'StartTrainingProcess',
    input: { Host: h.host, Command: [h.command, ...h.args], Cwd: h.cwd, Environment: h.env },
  }))
}
