/**
 * Dates AWS retires things on: the one place mlops keeps them, so defaults are chosen from data and a
 * test (with an injected clock) fails well before a default reaches a block date.
 *
 * Sources: the Lambda runtime table (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html, as of
 * 2026-12-01) and the SageMaker Debugger availability notice. moto knows none of these dates.
 */

/** A Lambda managed runtime's life: after `blockCreate` CreateFunction fails; after `blockUpdate` updates fail too. */
export interface LambdaRuntimeLife {
  readonly runtime: string
  /** End of standard support (no more security patches). */
  readonly deprecation: string
  readonly blockCreate: string
  readonly blockUpdate: string
}

/** The Node.js runtimes the bundled handler can run on, newest first. */
export const LAMBDA_NODE_RUNTIMES: readonly LambdaRuntimeLife[] = [
  { runtime: 'nodejs24.x', deprecation: '2028-04-30', blockCreate: '2028-06-01', blockUpdate: '2028-07-01' },
  { runtime: 'nodejs22.x', deprecation: '2027-04-30', blockCreate: '2027-06-01', blockUpdate: '2027-07-01' },
  // Kept so the config can name it and get a clear refusal instead of AWS's InvalidParameterValue.
  { runtime: 'nodejs20.x', deprecation: '2026-04-30', blockCreate: '2026-08-31', blockUpdate: '2026-09-30' },
]

/** The runtime new functions get: the newest one. */
export const DEFAULT_LAMBDA_RUNTIME = LAMBDA_NODE_RUNTIMES[0].runtime

/**
 * The idle-stop reaper's runtime (`deploy --idle-stop`), which no config chooses: its function is
 * created on it and its bundle targets it. Kept here, with the dates, so the lifecycle test watches it too.
 */
export const REAPER_LAMBDA_RUNTIME = 'nodejs24.x'

/** The life of a runtime, or undefined for one mlops does not know. */
export function lambdaRuntimeLife(runtime: string): LambdaRuntimeLife | undefined {
  return LAMBDA_NODE_RUNTIMES.find((r) => r.runtime === runtime)
}

/** What AWS allows for a runtime at `nowMs`: everything, updates of existing functions only, or nothing. */
export function lambdaRuntimeStatus(runtime: string, nowMs: number): 'supported' | 'deprecated' | 'create-blocked' | 'blocked' | 'unknown' {
  const life = lambdaRuntimeLife(runtime)
  if (!life) return 'unknown'
  if (nowMs >= Date.parse(life.blockUpdate)) return 'blocked'
  if (nowMs >= Date.parse(life.blockCreate)) return 'create-blocked'
  if (nowMs >= Date.parse(life.deprecation)) return 'deprecated'
  return 'supported'
}

/**
 * SageMaker Debugger: closed to new customers from this date (accounts that never used it cannot
 * start using it); existing users keep it. mlops keeps `training.debugger` opt-in and warns.
 */
export const DEBUGGER_CLOSED_TO_NEW_CUSTOMERS = '2026-07-30'

/**
 * The images and AMIs mlops runs on, with their dates: one row per line AWS publishes. Defaults are
 * the newest row of each use, `train`, `tune`, `deploy` and `train-ec2` warn on a row past its end
 * of patch, and test/unit/image-lifecycle.test.ts fails 60 days before a default reaches it.
 *
 * Sources (checked 2026-12-07): aws/deep-learning-containers docs/src/data/{pytorch,pytorch-training,ray}
 * (tags, Python, CUDA, GA, eop), the DLAMI release notes (docs.aws.amazon.com/dlami/latest/devguide,
 * x86_64 "OSS Nvidia Driver AMI GPU PyTorch 2.x (Ubuntu 24.04)"; a DLAMI line is patched as long as
 * its framework version, so it carries the DLC's end of patch). shared/reference/aws-images-2026.md.
 */
export interface ImageLife {
  /** training: SageMaker training jobs; serving: the endpoint's container; ec2: the train-ec2 AMI. */
  readonly use: 'training' | 'serving' | 'ec2'
  /** ECR repository in the region's DLC registry (aws/regions.ts); for an AMI, its public SSM parameter. */
  readonly repository: string
  /** The version `training.frameworkVersion` names (PyTorch's; `v1` for the Ray Serve image). */
  readonly version: string
  /** The tag on CPU and on GPU instance types (none for an AMI). */
  readonly tags?: { readonly cpu: string; readonly gpu: string }
  readonly python: string
  /** CUDA of the GPU variant. */
  readonly cuda: string
  /** Released (YYYY-MM-DD); unset where AWS publishes no date. */
  readonly ga?: string
  /** Last day AWS patches it; unset for a rolling tag AWS patches in place (the Ray Serve `-v1`). */
  readonly endOfPatch?: string
  /** Regions it is published in; unset: every region of aws/regions.ts. */
  readonly regions?: readonly string[]
}

const ubuntuTraining = (version: string, python: string, cuda: string, ga: string, endOfPatch: string): ImageLife => ({
  use: 'training',
  repository: 'pytorch-training',
  version,
  tags: { cpu: `${version}-cpu-${python}`, gpu: `${version}-gpu-${python}` },
  python,
  cuda,
  ga,
  endOfPatch,
})
const al2023Training = (version: string, cuda: string, ga: string, endOfPatch: string): ImageLife => ({
  use: 'training',
  repository: 'pytorch',
  version,
  tags: { cpu: `${version}-cpu-amzn2023-sagemaker`, gpu: `${version}-${cuda}-amzn2023-sagemaker` },
  python: 'py312',
  cuda,
  ga,
  endOfPatch,
})
const dlami = (version: string, ga: string, endOfPatch: string): ImageLife => ({
  use: 'ec2',
  repository: `/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-${version}-ubuntu-24.04/latest/ami-id`,
  version,
  python: 'py312',
  cuda: 'cu130',
  ga,
  endOfPatch,
})

/** Oldest first within each use; the last row of a use is its default. */
export const IMAGE_LIFECYCLE: readonly ImageLife[] = [
  // Ubuntu-based pytorch-training (short tags `<ver>-<cpu|gpu>-<py>`); AWS says it cannot fully patch 2.8-2.10.
  ubuntuTraining('2.6.0', 'py312', 'cu126', '2025-01-29', '2026-01-29'),
  ubuntuTraining('2.7.1', 'py312', 'cu128', '2025-04-23', '2026-04-23'),
  ubuntuTraining('2.8.0', 'py312', 'cu129', '2025-08-06', '2026-08-06'),
  ubuntuTraining('2.9.0', 'py312', 'cu130', '2025-10-15', '2026-10-15'),
  ubuntuTraining('2.10.0', 'py313', 'cu130', '2026-01-21', '2027-01-21'),
  // The maintained Amazon Linux 2023 `pytorch` repository (the -sagemaker variants keep script mode and torchrun).
  al2023Training('2.11.0', 'cu130', '2026-04-30', '2027-04-30'),
  al2023Training('2.12.1', 'cu130', '2026-07-02', '2027-07-02'),
  al2023Training('2.13.0', 'cu133', '2026-07-20', '2027-07-20'),
  // The last TorchServe image ("the last available PyTorch inference images with torchserve support"):
  // no longer the default, kept so an endpoint.image naming it gets the end-of-patch warning.
  {
    use: 'serving',
    repository: 'pytorch-inference',
    version: '2.6.0',
    tags: { cpu: '2.6.0-cpu-py312', gpu: '2.6.0-gpu-py312' },
    python: 'py312',
    cuda: 'cu124',
    endOfPatch: '2026-06-30',
  },
  // Ray Serve for SageMaker: a rolling major tag AWS rebuilds with each Ray release (2.54-2.59 so far).
  {
    use: 'serving',
    repository: 'ray',
    version: 'v1',
    tags: { cpu: 'serve-ml-sagemaker-cpu-v1', gpu: 'serve-ml-sagemaker-cuda-v1' },
    python: 'py313',
    cuda: 'cu129',
  },
  dlami('2.9', '2025-10-15', '2026-10-15'),
  dlami('2.10', '2026-01-21', '2027-01-21'),
  dlami('2.11', '2026-04-30', '2027-04-30'),
]

/** The rows of one use, oldest first. */
export function imageLines(use: ImageLife['use']): readonly ImageLife[] {
  return IMAGE_LIFECYCLE.filter((l) => l.use === use)
}

/** The default of a use: its newest row. */
export function defaultImageLine(use: ImageLife['use']): ImageLife {
  return imageLines(use).at(-1)!
}

/** True once `nowMs` is past the row's end of patch (a rolling tag never is). */
export function pastEndOfPatch(line: ImageLife, nowMs: number): boolean {
  return line.endOfPatch !== undefined && nowMs > Date.parse(`${line.endOfPatch}T23:59:59Z`)
}

/** The newest row of the use that is still patched at `nowMs`. */
export function newestSupported(use: ImageLife['use'], nowMs: number): ImageLife | undefined {
  return [...imageLines(use)].reverse().find((l) => !pastEndOfPatch(l, nowMs))
}

const SETTING: Record<ImageLife['use'], string> = { training: 'training.frameworkVersion', serving: 'endpoint.image', ec2: 'ec2.amiParameter' }
const describeLine = (l: ImageLife) => (l.use === 'ec2' ? `the PyTorch ${l.version} Deep Learning AMI` : `${l.repository}:${l.version}`)
const settingValue = (l: ImageLife) => (l.use === 'ec2' ? l.repository : l.version)

/**
 * The warning for a row past its end of patch, naming the newest supported alternative and the
 * setting that picks it; undefined while the row is patched.
 */
export function endOfPatchWarning(line: ImageLife, nowMs: number): string | undefined {
  if (!pastEndOfPatch(line, nowMs)) return undefined
  const alt = newestSupported(line.use, nowMs)
  const fix = alt
    ? ` The newest supported is ${describeLine(alt)}${alt.endOfPatch ? ` (patched to ${alt.endOfPatch})` : ''}: set ${SETTING[line.use]}: ${settingValue(alt)}, or remove the setting for the default.`
    : ''
  return `${describeLine(line)} is past its end of patch (${line.endOfPatch}): AWS no longer ships security fixes for it.${fix}`
}
