import { hasProjectTags, legacyTuningJobBase, resourceNames } from './naming.js'

/**
 * Whether a name (and its tags) belongs to a project (issue 27). Two projects share one account
 * and often one bucket, and project names may be prefixes of each other (`dogs`, `dogs-v2`) or
 * share their first 19 characters (the old tuning names): a name prefix never decides. A name is
 * the project's when it is exactly one that mlops generates for it: `<project>-train-<stamp>`,
 * `<project>-ec2-<stamp>`, `<project>-model-<stamp>`, `<project>-config-<stamp>`, a tuning job
 * `<tuning base>-<short stamp>` (the base carries a hash of the whole project name) and its child
 * jobs `<tuning job>-NNN-<8 hex>`, or one of the project's fixed role names. The stamps have a
 * fixed length and contain no letter, so the project part of a generated name is determined
 * exactly: `dogs-train-<stamp>` can never be `dogs-v2`'s, nor `dogs-train`'s (`dogs-train-train-<stamp>`).
 *
 * Names from older mlops (tuning jobs named from the first 19 characters) are recognised only when
 * the project tag confirms them.
 */

/** `YYYY-MM-DD-HH-MM-SS-mmm` (naming.ts longTimestamp). */
const LONG_STAMP = String.raw`\d{4}(?:-\d{2}){5}-\d{3}`
/** `yymmdd-HHMM` (naming.ts shortTimestamp). */
const SHORT_STAMP = String.raw`\d{6}-\d{4}`
/** What SageMaker appends to a tuning job's name for each of its training jobs. */
const TUNING_CHILD = String.raw`-\d{3}-[0-9a-f]{8}`

/** What a generated name is. */
export type GeneratedNameKind = 'training-job' | 'ec2-run' | 'local-run' | 'tuning-job' | 'tuning-child' | 'model' | 'endpoint-config' | 'role'

export interface NameMatch {
  readonly kind: GeneratedNameKind
  /**
   * True for a name an older mlops generated that another project's could equal (the first 19
   * characters of the project in a tuning job's name): it is the project's only if its tag says so.
   */
  readonly legacy: boolean
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** The exact patterns of one project's generated names, current ones first. */
function patterns(project: string): { kind: GeneratedNameKind; legacy: boolean; re: RegExp }[] {
  const n = resourceNames({ project: { name: project } })
  const p = escape(project)
  const tuning = escape(n.tuningJobBase)
  const legacyTuning = escape(legacyTuningJobBase(project))
  const exact = (kind: GeneratedNameKind, body: string, legacy = false) => ({ kind, legacy, re: new RegExp(`^${body}$`) })
  return [
    exact('training-job', `${p}-train-${LONG_STAMP}`),
    exact('ec2-run', `${p}-ec2-${LONG_STAMP}`),
    exact('local-run', `${p}-local-${LONG_STAMP}`),
    exact('model', `${p}-model-${LONG_STAMP}`),
    exact('endpoint-config', `${p}-config-${LONG_STAMP}`),
    exact('tuning-job', `${tuning}-${SHORT_STAMP}`),
    exact('tuning-child', `${tuning}-${SHORT_STAMP}${TUNING_CHILD}`),
    exact('role', `(?:${[n.trainingRole, n.lambdaRole, n.ec2Role].map(escape).join('|')})`),
    exact('tuning-job', `${legacyTuning}-${SHORT_STAMP}`, true),
    exact('tuning-child', `${legacyTuning}-${SHORT_STAMP}${TUNING_CHILD}`, true),
    // Hand-made or pre-stamp names under the project's bases (`dogs-model-1`): a tag must confirm them.
    exact('training-job', `${p}-train-[a-z0-9-]+`, true),
    exact('model', `${p}-model-[a-z0-9-]+`, true),
    exact('endpoint-config', `${p}-config-[a-z0-9-]+`, true),
  ]
}

/**
 * The exact pattern (a RegExp source) of the names mlops generates now for one kind of run of
 * `project`: what the notifier function, which may not import mlops, checks an event's name against
 * (an EventBridge prefix of `dogs-train` also matches project `dogs-train`'s `dogs-train-train-…`).
 */
export function runNamePattern(project: string, kind: 'training-job' | 'tuning-job'): string {
  return patterns(project).find((p) => p.kind === kind && !p.legacy)!.re.source
}

/**
 * What kind of name mlops generates for `project` `name` is, or undefined when it is none of
 * them. Name only: a `legacy` match still needs the project tag (use isProjectResource).
 */
export function matchProjectName(project: string, name: string, kinds?: readonly GeneratedNameKind[]): NameMatch | undefined {
  for (const { kind, legacy, re } of patterns(project)) {
    if (kinds && !kinds.includes(kind)) continue
    // SageMaker ARNs (and some listings) carry names in lower case; mlops's names are lower case anyway.
    if (re.test(name)) return { kind, legacy }
  }
  return undefined
}

/**
 * THE ownership check for a tagged AWS resource (training and tuning jobs, models, endpoint
 * configs, roles): true only when its name is one mlops generates for this project AND its
 * `mlops:project` tag names this project. `kinds` narrows the names accepted (a model listing
 * accepts model names only).
 */
export function isProjectResource(
  project: string,
  resource: { readonly name: string; readonly tags: readonly { Key?: string; Value?: string }[] | undefined },
  kinds?: readonly GeneratedNameKind[],
): boolean {
  return matchProjectName(project, resource.name, kinds) !== undefined && hasProjectTags(resource.tags, project)
}

/**
 * For an object key under the training output prefix (`<outputPrefix>/<job>/...`), whether the
 * job that wrote it is certainly this project's by its name alone ('yes'), could be with a tag
 * check on the job ('ask-tag': an old tuning child name), or is not ('no').
 */
export function outputOwnership(project: string, outputPrefix: string, key: string): 'yes' | 'ask-tag' | 'no' {
  const root = `${outputPrefix.replace(/\/+$/, '')}/`
  if (!key.startsWith(root)) return 'no'
  const job = key.slice(root.length).split('/')[0] ?? ''
  const m = matchProjectName(project, job, ['training-job', 'ec2-run', 'tuning-child'])
  return !m ? 'no' : m.legacy ? (m.kind === 'tuning-child' ? 'ask-tag' : 'no') : 'yes'
}
