import type { MlopsConfig } from '../../config/schema.js'
import type { AwsClients } from '../../aws/clients.js'
import { headObject } from '../../aws/s3/objects.js'
import { listObjectsIfBucketExists } from '../../aws/s3/project-resources.js'
import { mlopsWritePrefixes, resourceNames } from '../../shared/naming.js'
import { runPool } from '../../shared/pool.js'
import { isProjectResource, outputOwnership } from '../../shared/project-ownership.js'
import { listTags, trainingJobArnIfExists } from '../../aws/sagemaker/project-resources.js'

/**
 * What `teardown --delete-data` may delete in a bucket that others may share (issue 19): only
 * objects mlops wrote. upload-data, the code package and the repacked model carry mlops's
 * `x-amz-meta-sha256`; SageMaker and train-ec2 write job output under `<outputPrefix>/<job>/` for
 * jobs named exactly as mlops names this project's jobs (shared/project-ownership.ts: never by a
 * name prefix, which `dogs` shares with `dogs-v2`, issue 27), and checkpoints under
 * `<project>/checkpoints/`. Everything else under the same prefixes (another project's model,
 * files mlops never uploaded) is kept.
 */

export interface OwnedData {
  readonly bucket: string
  /** Keys that will be deleted, sorted. */
  readonly keys: readonly string[]
  /** The same keys by kind, with sizes (what the question shows; `--verbose` lists the keys). */
  readonly groups: readonly DataGroup[]
  /** How many objects under the project's prefixes are kept because mlops did not write them. */
  readonly kept: number
}

/** What an object in the project's prefixes is, by where mlops writes it. */
export type DataKind = 'dataset' | 'job outputs' | 'model archives' | 'code packages' | 'other'

/** Objects of one kind: how many, how big, and where. */
export interface DataGroup {
  readonly kind: DataKind
  /** The prefix (or prefixes) the kind lives under. */
  readonly prefix: string
  readonly objects: number
  readonly bytes: number
}

/**
 * Sorts objects into kinds (issue 31 item 7: "Left: data (180 objects)" hid 83 MB of model
 * archives and code). The most specific prefix wins, since the output prefix may hold the
 * project's own. Kinds with no objects are left out; the order is fixed.
 */
export function groupByKind(cfg: MlopsConfig, objects: Iterable<readonly [key: string, bytes: number]>): DataGroup[] {
  const w = mlopsWritePrefixes(cfg)
  const kinds: { kind: DataKind; prefixes: string[] }[] = [
    { kind: 'dataset', prefixes: [`${cfg.data.prefix}/`] },
    { kind: 'job outputs', prefixes: [...new Set([w.output, w.checkpoints])] },
    { kind: 'model archives', prefixes: [w.models] },
    { kind: 'code packages', prefixes: [w.code] },
    { kind: 'other', prefixes: [`${cfg.project.name}/`] },
  ]
  const match = (key: string) => {
    let best: { kind: DataKind; length: number } | undefined
    for (const k of kinds) for (const p of k.prefixes) if (key.startsWith(p) && (!best || p.length > best.length)) best = { kind: k.kind, length: p.length }
    return best?.kind ?? 'other'
  }
  const totals = new Map<DataKind, { objects: number; bytes: number }>()
  for (const [key, bytes] of objects) {
    const kind = match(key)
    const t = totals.get(kind) ?? { objects: 0, bytes: 0 }
    totals.set(kind, { objects: t.objects + 1, bytes: t.bytes + bytes })
  }
  return kinds.flatMap((k) => {
    const t = totals.get(k.kind)
    return t ? [{ kind: k.kind, prefix: k.prefixes.join(', '), ...t }] : []
  })
}

/**
 * The prefixes mlops writes to: `marked` holds objects it uploads, `byName` those of the jobs it
 * starts. `listed` is what is walked to find them: the data, output and project prefixes, each
 * holding some of the others, less any inside another (listing it again would find nothing new).
 */
export function ownedPrefixes(cfg: MlopsConfig): { marked: string[]; byName: string[]; listed: string[] } {
  const p = cfg.project.name
  const written = mlopsWritePrefixes(cfg)
  const roots = [...new Set([`${cfg.data.prefix}/`, written.output, `${p}/`])]
  const stamp = '<stamp>'
  return {
    // Objects mlops uploads itself, each marked with its sha256 in the metadata.
    marked: [`${cfg.data.prefix}/`, written.code, written.models],
    // Written by the jobs mlops starts, recognised by the exact names of the project's jobs
    // (isProjectOutput); these patterns only describe them.
    byName: [
      `${written.output}${p}-train-${stamp}/`,
      `${written.output}${p}-ec2-${stamp}/`,
      `${written.output}${resourceNames(cfg).tuningJobBase}-${stamp}-NNN-<hash>/`,
      written.checkpoints,
    ],
    listed: roots.filter((r) => !roots.some((other) => other !== r && r.startsWith(other))),
  }
}

/**
 * True when a key is output of one of this project's jobs (named exactly as mlops names them)
 * or one of its checkpoints. An old tuning job's output (its name holds only the first 19
 * characters of the project, which another project may share) is not claimed: it is kept.
 */
export function isProjectOutput(cfg: MlopsConfig, key: string): boolean {
  if (key.startsWith(mlopsWritePrefixes(cfg).checkpoints)) return true
  return outputOwnership(cfg.project.name, cfg.training.outputPrefix, key) === 'yes'
}

/**
 * Output of an older mlops's tuning jobs (named from the first 19 characters of the project, which
 * another project may share): the project's only when its training job is tagged for it (issue 27).
 * One DescribeTrainingJob and ListTags per such job; a job SageMaker no longer knows leaves its output kept.
 */
async function confirmedLegacyOutput(sagemaker: AwsClients['sagemaker'], cfg: MlopsConfig, keys: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const root = `${cfg.training.outputPrefix}/`
  const byJob = new Map<string, string[]>()
  for (const key of keys) {
    if (outputOwnership(cfg.project.name, cfg.training.outputPrefix, key) !== 'ask-tag') continue
    const job = key.slice(root.length).split('/')[0]!
    byJob.set(job, [...(byJob.get(job) ?? []), key])
  }
  const confirmed: string[] = []
  for (const [job, jobKeys] of byJob) {
    signal?.throwIfAborted()
    const arn = await trainingJobArnIfExists(sagemaker, job)
    if (arn && isProjectResource(cfg.project.name, { name: job, tags: await listTags(sagemaker, arn) }, ['tuning-child'])) confirmed.push(...jobKeys)
  }
  return confirmed
}

/**
 * Lists the project's prefixes once and picks the objects mlops wrote (HeadObject for the marked
 * ones, 8 at a time); everything else listed is counted as kept.
 */
export async function findOwnedData(s3: AwsClients['s3'], cfg: MlopsConfig, signal?: AbortSignal, sagemaker?: AwsClients['sagemaker']): Promise<OwnedData> {
  const bucket = cfg.data.bucket
  const { marked, listed } = ownedPrefixes(cfg)
  const sizes = new Map<string, number>()
  for (const prefix of listed) for (const [key, o] of (await listObjectsIfBucketExists(s3, bucket, prefix)) ?? []) sizes.set(key, o.size)
  const seen = [...sizes.keys()]
  const under = (prefixes: readonly string[]) => (key: string) => prefixes.some((p) => key.startsWith(p))
  const keys = new Set(seen.filter((key) => isProjectOutput(cfg, key)))
  await runPool(
    seen.filter(under(marked)),
    8,
    async (key) => {
      const head = await headObject(s3, bucket, key, signal)
      if (head?.sha256 && /^[0-9a-f]{64}$/.test(head.sha256)) keys.add(key)
    },
    signal,
  )
  // An interrupted lookup must not pass for a complete one (runPool leaves that check to its caller).
  signal?.throwIfAborted()
  if (sagemaker) for (const key of await confirmedLegacyOutput(sagemaker, cfg, seen, signal)) keys.add(key)
  const sorted = [...keys].sort()
  return {
    bucket,
    keys: sorted,
    groups: groupByKind(
      cfg,
      sorted.map((k) => [k, sizes.get(k) ?? 0] as const),
    ),
    kept: seen.filter((k) => !keys.has(k)).length,
  }
}
