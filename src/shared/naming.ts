import { createHash } from 'node:crypto'
import type { MlopsConfig } from '../config/schema.js'

/**
 * Every name mlops gives a resource derives from the project name, so re-runs find what earlier
 * runs made and two projects in one account never collide. Names AWS needs to be unique per call
 * (training jobs, endpoint configs, models) add a timestamp.
 */

export const TAG_PROJECT = 'mlops:project'
export const TAG_MANAGED_BY = 'mlops:managed-by'
export const MANAGED_BY_VALUE = 'mlops'

/** Tags as SageMaker, IAM, EC2 and S3 want them. */
export function projectTags(project: string): { Key: string; Value: string }[] {
  return [
    { Key: TAG_PROJECT, Value: project },
    { Key: TAG_MANAGED_BY, Value: MANAGED_BY_VALUE },
  ]
}

/** Tags as Lambda wants them (a map). */
export function projectTagMap(project: string): Record<string, string> {
  return { [TAG_PROJECT]: project, [TAG_MANAGED_BY]: MANAGED_BY_VALUE }
}

/** True when a tag list marks the resource as this project's. */
export function hasProjectTags(tags: readonly { Key?: string; Value?: string }[] | undefined, project: string): boolean {
  return Boolean(tags?.some((t) => t.Key === TAG_PROJECT && t.Value === project))
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

/** `2026-11-22-10-30-05-123`: the SageMaker SDK's `name_from_base` timestamp (UTC). */
export function longTimestamp(now: Date): string {
  return `${now.getUTCFullYear()}-${pad(now.getUTCMonth() + 1)}-${pad(now.getUTCDate())}-${pad(now.getUTCHours())}-${pad(now.getUTCMinutes())}-${pad(now.getUTCSeconds())}-${pad(now.getUTCMilliseconds(), 3)}`
}

/** `261122-1030`: the SDK's short timestamp, for names limited to 32 characters (tuning jobs). */
export function shortTimestamp(now: Date): string {
  return `${String(now.getUTCFullYear()).slice(2)}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}-${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}`
}

/** `<base>-<timestamp>` within `maxLength`, trimming the base (never the timestamp) and any trailing hyphen. */
export function uniqueName(base: string, now: Date, maxLength = 63, stamp: (d: Date) => string = longTimestamp): string {
  const suffix = stamp(now)
  const room = maxLength - suffix.length - 1
  const trimmed = base.slice(0, Math.max(1, room)).replace(/-+$/, '')
  return `${trimmed}-${suffix}`
}

/**
 * The base of a tuning job's name, which SageMaker limits to 32 characters: up to 13 characters of
 * the project and 6 hex digits of a hash of the whole name (`dogs-3f9a1c`), so two projects that
 * share their first characters never share tuning names (issue 27).
 */
export function tuningJobBase(project: string): string {
  const hash = createHash('sha256').update(project).digest('hex').slice(0, 6)
  return `${project.slice(0, 13).replace(/-+$/, '')}-${hash}`
}

/** The tuning base of mlops before issue 27 (the first 19 characters): still recognised, when tagged. */
export function legacyTuningJobBase(project: string): string {
  return project.slice(0, 19).replace(/-+$/, '')
}

/** Fixed names of the long-lived resources of a project. */
export function resourceNames(cfg: {
  readonly project: Pick<MlopsConfig['project'], 'name'>
  readonly endpoint?: Pick<MlopsConfig['endpoint'], 'name'>
  readonly lambda?: Pick<MlopsConfig['lambda'], 'functionName'>
}) {
  const p = cfg.project.name
  return {
    endpoint: cfg.endpoint?.name ?? `${p}-endpoint`,
    lambdaFunction: cfg.lambda?.functionName ?? `${p}-invoke`,
    lambdaAlias: 'live',
    lambdaRole: `${p}-lambda`,
    trainingRole: `${p}-sagemaker`,
    ec2Role: `${p}-ec2`,
    ec2InstanceProfile: `${p}-ec2`,
    ec2SecurityGroup: `${p}-train-ec2`,
    trainingJobBase: `${p}-train`,
    tuningJobBase: tuningJobBase(p),
    modelBase: `${p}-model`,
    endpointConfigBase: `${p}-config`,
    scalingPolicy: `${p}-invocations-target`,
  } as const
}

/** The fixed names of one project's resources. */
export type ResourceNames = ReturnType<typeof resourceNames>

/**
 * Where mlops writes its own objects in the data bucket, beside the dataset: code packages,
 * repacked models, the training job output (SageMaker and train-ec2) and SageMaker checkpoints.
 * One list for the two commands that must agree on it: upload-data refuses a dataset prefix that
 * overlaps any of these (its `--delete` would remove them), and teardown `--delete-data` looks
 * for mlops's objects here.
 */
export function mlopsWritePrefixes(cfg: {
  readonly project: Pick<MlopsConfig['project'], 'name'>
  readonly training: Pick<MlopsConfig['training'], 'outputPrefix'>
}) {
  const p = cfg.project.name
  return {
    code: `${p}/code/`,
    models: `${p}/models/`,
    output: `${cfg.training.outputPrefix}/`,
    checkpoints: `${p}/checkpoints/`,
  } as const
}
