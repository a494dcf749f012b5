import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { create as createTar } from 'tar'
import type { CommandContext } from '../../context.js'
import { InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { epochHistory, latestMetrics, type Metrics } from '../../shared/metrics.js'
import { uniqueName } from '../../shared/naming.js'
import { scanDataset, SPLITS } from '../../shared/dataset-layout.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { findPython } from './python.js'
import { statfs } from 'node:fs/promises'
import { localTrainingOperations, planLocalTraining, type HyperparameterValue, type LocalTrainingPlan } from './plan.js'
import { freePort, startProcesses, type ProcessExit, type ProcessGroup } from './processes.js'
import { resolveTrainingSourceDir } from '../../shared/source-dir.js'
import { checkScriptHyperparameters, mergeHyperparameters, refuseLauncherPaths } from '../../shared/hyperparameters.js'
import { countImages, cpuEstimateText, CPU_SIZED_HYPERPARAMETERS, estimateCpuTraining, type CpuEstimate } from './cpu-estimate.js'

/** State-file kind of a locally trained model (its name is the job). */
export const LOCAL_MODEL_KIND = 'local-model'

export interface LocalTrainOptions {
  /** Processes, one per simulated host. @default training.instanceCount */
  readonly instances?: number
  readonly hyperparameters?: Readonly<Record<string, HyperparameterValue>>
  /** Deadline for the whole job, seconds. @default training.maxRuntime */
  readonly timeoutSeconds?: number
  /** --python */
  readonly python?: string
  /** --cpu-sized: CPU_SIZED_HYPERPARAMETERS under the config's and the flags' (the flags win). */
  readonly cpuSized?: boolean
}

export interface LocalTrainResult {
  readonly jobName: string
  readonly mode: 'local'
  readonly instances: number
  readonly python: string
  /** `.mlops/local/<job>/model.tar.gz` */
  readonly modelArtifact: string
  readonly modelDir: string
  /** The last values of each metric line (epoch=…, test_accuracy=…). */
  readonly metrics: Metrics
  /** One entry per epoch line the leader printed, oldest first. */
  readonly epochs: readonly Metrics[]
  /** train.py's metrics.json (history, best epoch, world size), when it wrote one. */
  readonly summary?: Record<string, unknown>
  readonly durationSeconds: number
  /** On a CPU: what the run was expected to take, and from what. */
  readonly cpuEstimate?: CpuEstimate
}

/**
 * data.localDir's train/ valid/ test/ folders, checked by the same validator as upload-data (one set
 * of rules: the three splits, the same classes, at least two, an image in each), so a dataset that
 * trains here uploads and trains on SageMaker, and a bad one stops before Python starts. Links are
 * followed: nothing leaves this machine.
 */
async function localChannels(dataDir: string): Promise<Record<string, string>> {
  await scanDataset(dataDir, { purpose: 'train', followSymlinks: true })
  return Object.fromEntries(SPLITS.map((split) => [split, path.join(dataDir, split)]))
}

/** `mlops train --local`: the training script on this machine, as SageMaker would run it. */
export async function runLocalTrain(ctx: CommandContext, opts: LocalTrainOptions): Promise<Outcome<LocalTrainResult>> {
  const cfg = await ctx.config()
  const source = resolveTrainingSourceDir(cfg, ctx.projectDir)
  const sourceDir = source.dir
  if (!existsSync(path.join(sourceDir, cfg.training.entryPoint))) {
    throw new UserError('EntryPointMissing', `training.entryPoint ${cfg.training.entryPoint} is not in ${source.description}.`, {
      hint: 'Fix training.sourceDir / training.entryPoint in mlops.config.yaml.',
    })
  }
  // A launcher-set path as a hyperparameter is a usage error: named before the dataset is looked at.
  refuseLauncherPaths(opts.hyperparameters ?? {}, 'flag')
  refuseLauncherPaths(cfg.training.hyperparameters, 'config')
  // --cpu-sized sits over the config; each --hyperparameter flag still wins.
  const overrides = opts.cpuSized
    ? mergeHyperparameters(mergeHyperparameters(cfg.training.hyperparameters, CPU_SIZED_HYPERPARAMETERS), opts.hyperparameters)
    : opts.hyperparameters
  await checkScriptHyperparameters({ ui: ctx.ui, yes: Boolean(ctx.globals.yes), dryRun: ctx.dryRun }, sourceDir, cfg.training.hyperparameters, overrides)
  const instances = opts.instances ?? cfg.training.instanceCount
  // After the config's own checks (a typo in a hyperparameter is reported first), before Python is looked for.
  const channels = await localChannels(ctx.resolvePath(cfg.data.localDir))
  const python = ctx.dryRun
    ? { path: opts.python ?? ctx.deps.env.MLOPS_PYTHON ?? 'python3', cudaDevices: 0 }
    : findPython({ flag: opts.python, env: ctx.deps.env })
  const plan = planLocalTraining({
    cfg,
    projectDir: ctx.projectDir,
    jobName: uniqueName(`${cfg.project.name}-local`, new Date(ctx.clock.now())),
    python: python.path,
    instances,
    ...(overrides ? { overrides } : {}),
    channels,
    cudaDevices: python.cudaDevices,
    masterPort: instances > 1 && !ctx.dryRun ? await freePort() : 0,
  })
  if (ctx.dryRun) {
    return planned({
      title: `mlops train --local (${instances} host${instances > 1 ? 's' : ''} on this machine)`,
      operations: localTrainingOperations(plan),
      notes: [
        `Model: ${plan.layout.artifact}`,
        'Nothing is uploaded: the channels are data.localDir’s folders.',
        ...(opts.cpuSized ? [`--cpu-sized: ${cpuSizedText()} (each --hyperparameter flag wins)`] : []),
      ],
      details: { jobName: plan.jobName, local: true, modelArtifact: plan.layout.artifact },
    })
  }
  const cpuEstimate = python.cudaDevices === 0 || instances > 1 ? await estimateOnCpu(ctx, plan, Boolean(opts.cpuSized)) : undefined
  const started = ctx.clock.now()
  await prepareLayout(plan)
  ctx.ui.step(`Training ${plan.jobName} locally: ${instances} host${instances > 1 ? 's' : ''}, ${python.path}`)
  const lines = await runHosts(ctx, plan, (opts.timeoutSeconds ?? cfg.training.maxRuntime) * 1000)
  // The contents of /opt/ml/model at the top of the archive, as SageMaker tars them.
  await createTar({ cwd: plan.layout.model, gzip: true, file: plan.layout.artifact, portable: true }, await readdir(plan.layout.model)).catch(
    naming(plan.layout.artifact),
  )
  const summary = await readJson(path.join(plan.layout.outputData, 'metrics.json'))
  const metrics = latestMetrics(lines)
  await ctx.state().record({
    kind: LOCAL_MODEL_KIND,
    name: plan.jobName,
    region: 'local',
    createdAt: new Date(ctx.clock.now()).toISOString(),
    // arch and image size beside the measured images_per_sec: the next CPU estimate uses this machine's rate.
    details: { modelArtifact: plan.layout.artifact, modelDir: plan.layout.model, instances, metrics, ...trainedShape(plan) },
  })
  return done({
    jobName: plan.jobName,
    mode: 'local',
    instances,
    python: python.path,
    modelArtifact: plan.layout.artifact,
    modelDir: plan.layout.model,
    metrics,
    epochs: epochHistory(lines),
    ...(summary ? { summary } : {}),
    durationSeconds: Math.round((ctx.clock.now() - started) / 100) / 10,
    ...(cpuEstimate ? { cpuEstimate } : {}),
  })
}

/** `arch=resnet18 weights=none …`: the --cpu-sized settings in words. */
function cpuSizedText(): string {
  return Object.entries(CPU_SIZED_HYPERPARAMETERS)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
}

/** The model and input size a run trained with (train.py's defaults when the config says nothing). */
function trainedShape(plan: LocalTrainingPlan): { arch: string; imageSize: number } {
  const e = estimateCpuTraining({ hyperparameters: plan.hyperparameters, trainImages: 0, validImages: 0, runs: [] })
  return { arch: e.arch, imageSize: e.imageSize }
}

/** On a CPU: says what the run will take, and offers --cpu-sized when that is long (issue 31 item 2). */
async function estimateOnCpu(ctx: CommandContext, plan: LocalTrainingPlan, cpuSized: boolean): Promise<CpuEstimate> {
  const [trainImages, validImages] = await Promise.all([countImages(plan.channels.train), countImages(plan.channels.valid)])
  const runs = await ctx.state().list(LOCAL_MODEL_KIND)
  const estimate = estimateCpuTraining({ hyperparameters: plan.hyperparameters, trainImages, validImages, runs })
  const small = cpuSized ? undefined : estimateCpuTraining({ hyperparameters: CPU_SIZED_HYPERPARAMETERS, trainImages, validImages, runs })
  for (const line of cpuEstimateText(estimate, cpuSized, small)) ctx.ui.warn(line)
  return estimate
}

async function prepareLayout(plan: LocalTrainingPlan): Promise<void> {
  const l = plan.layout
  await rm(l.root, { recursive: true, force: true })
  for (const dir of [l.model, l.outputData, l.intermediate, l.inputConfig, l.checkpoints]) await mkdir(dir, { recursive: true })
  for (const [name, content] of Object.entries(plan.configFiles))
    await writeFile(path.join(l.inputConfig, name), JSON.stringify(content, null, 2) + '\n').catch(naming(path.join(l.inputConfig, name)))
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/**
 * Starts one process per host and waits for all. Metric lines (stdout) and diagnostics (stderr)
 * stream to stderr, prefixed with the host when there are several. The first failure, Ctrl-C or
 * the deadline stops every process group. Returns the leader's stdout lines.
 */
async function runHosts(ctx: CommandContext, plan: LocalTrainingPlan, deadlineMs: number): Promise<string[]> {
  const many = plan.hosts.length > 1
  const stdout: string[] = []
  const group = startProcesses(
    plan.hosts.map((h) => ({ name: h.host, command: h.command, args: h.args, cwd: h.cwd, env: { ...ctx.deps.env, ...h.env } })),
    (name, stream, line) => {
      if (stream === 'stdout' && name === plan.hosts[0].host) stdout.push(line)
      const progress = progressText(line)
      ctx.ui.info(many ? `[${name}] ${progress ?? line}` : (progress ?? line))
    },
  )
  const outcome = await waitForHosts(ctx.signal, group, deadlineMs)
  if (outcome.kind === 'interrupted') {
    await group.stop()
    throw new InterruptedError()
  }
  if (outcome.kind === 'timeout') {
    await group.stop()
    throw new OperationError(
      'LocalTrainingTimedOut',
      `Local training ${plan.jobName} ran past its deadline of ${Math.round(deadlineMs / 1000)} s and was stopped.`,
      {
        hint: 'Pass a longer --timeout, or fewer epochs (--hyperparameter epochs=…).',
      },
    )
  }
  const failed = outcome.exits.find((e) => e.code !== 0)
  if (failed) throw localTrainingFailure(plan.jobName, failed, { root: plan.layout.root, freeBytes: await freeBytesAt(plan.layout.root) })
  return stdout
}

/**
 * train.py's per-batch line (`progress: epoch 2/10 batch 30/120 (25%) elapsed 41.0s eta 123.0s`) in
 * words, with the ETA of the epoch; undefined for any other line.
 */
export function progressText(line: string): string | undefined {
  const m = /^progress: epoch (\d+)\/(\d+) batch (\d+)\/(\d+) \((\d+)%\) elapsed ([\d.]+)s eta ([\d.]+)s$/.exec(line)
  if (!m) return undefined
  const [, epoch, epochs, batch, batches, pct, elapsed, eta] = m
  const secs = (s: string) => {
    const n = Math.round(Number(s))
    return n < 120 ? `${n} s` : `${Math.floor(n / 60)} min ${n % 60} s`
  }
  return `  epoch ${epoch}/${epochs}: batch ${batch}/${batches} (${pct}%), ${secs(elapsed)} in, ${Number(eta) > 0 ? `about ${secs(eta)} to the end of the epoch` : 'validating'}`
}

type HostsOutcome = { kind: 'exited'; exits: ProcessExit[] } | { kind: 'interrupted' } | { kind: 'timeout' }

/** All exited (or one failed, which stops the rest), Ctrl-C, or the deadline, whichever comes first. */
async function waitForHosts(signal: AbortSignal, group: ProcessGroup, deadlineMs: number): Promise<HostsOutcome> {
  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stopped = new Promise<HostsOutcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), deadlineMs)
    onAbort = () => resolve({ kind: 'interrupted' })
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  // One host failing leaves the others waiting at a collective until the gloo timeout: stop them.
  const failedOrAll = group.firstExit.then(async (first) => (first.code === 0 ? group.exited : [first, ...(await group.stop())]))
  try {
    return await Promise.race([stopped, failedOrAll.then((exits) => ({ kind: 'exited' as const, exits }))])
  } finally {
    clearTimeout(timer)
    if (onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/** Below this a disk counts as full: a checkpoint of the bundled model alone is ~134 MB. */
const FULL_DISK_BYTES = 1024 * 1024

/** What Python, libc and PyTorch's C++ print when a write hits a full disk or a quota. */
const DISK_FULL_LINE = /No space left on device|\[Errno 28\]|ENOSPC|Disk quota exceeded|\[Errno 122\]/i

/**
 * Why a local host failed. A full disk (its output says so, or the disk under the run has under
 * 1 MiB left) is named with the fix, not "killed by SIGABRT" (PyTorch's C++ aborts on a failed
 * write) (issue 27); anything else gives the host, how it ended and its error line.
 */
export function localTrainingFailure(jobName: string, exit: ProcessExit, disk: { readonly root: string; readonly freeBytes?: number }): OperationError {
  const errorLine = [...exit.tail].reverse().find((l) => /^error: /.test(l)) ?? exit.tail.at(-1) ?? ''
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
  const fullLine = [...exit.tail].reverse().find((l) => DISK_FULL_LINE.test(l))
  if (fullLine !== undefined || (disk.freeBytes !== undefined && disk.freeBytes < FULL_DISK_BYTES)) {
    const quota = fullLine !== undefined && /quota|Errno 122/i.test(fullLine)
    return new OperationError(
      quota ? 'DiskQuotaExceeded' : 'NoSpaceLeft',
      `Local training ${jobName} failed: ${quota ? 'the disk quota was exceeded' : 'no space left on device'} writing under ${disk.root} (${exit.name} ${how}${fullLine ? `: ${fullLine.trim()}` : ''}).`,
      {
        hint: 'Free space on that disk (`mlops clean` removes old local runs, checkpoints and downloads under .mlops/) and run again.',
        details: {
          host: exit.name,
          exitCode: exit.code,
          signal: exit.signal,
          ...(disk.freeBytes !== undefined ? { freeBytes: disk.freeBytes } : {}),
          tail: exit.tail,
        },
      },
    )
  }
  return new OperationError('LocalTrainingFailed', `Local training ${jobName} failed: ${exit.name} ${how}${errorLine ? `: ${errorLine}` : ''}.`, {
    hint:
      exit.code === 2
        ? 'train.py refused its input (flags, data or hyperparameters); fix what it names and run again.'
        : 'Its output is above; rerun with --debug for more.',
    details: { host: exit.name, exitCode: exit.code, tail: exit.tail },
  })
}

async function freeBytesAt(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir)
    return Number(s.bavail) * Number(s.bsize)
  } catch {
    return undefined
  }
}

/**
 * Rethrows a write's error with the file it was writing: Node's ENOSPC on write names no path, and
 * the CLI renders a named one as "No space left on device writing <file>" (issue 27).
 */
function naming(file: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof Error && !(e as NodeJS.ErrnoException).path) (e as NodeJS.ErrnoException).path = file
    throw e
  }
}
