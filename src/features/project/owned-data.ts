import type { MlopsConfig } from '../../config/schema.js'
import type { AwsClients } from '../../aws/clients.js'
import { headObject } from '../../aws/s3/objects.js'
import { listObjectsIfBucketExists } from '../../aws/s3/project-resources.js'
import { mlopsWritePrefixes, resourceNames } from '../../shared/naming.js'
import { runPool } from '../../shared/pool.js'

/**
 * What `teardown --delete-data` may delete in a bucket that others may share (issue 19): only
 * objects mlops wrote. upload-data, the code package and the repacked model carry mlops's
 * `x-amz-meta-sha256`; SageMaker and train-ec2 write job output under `<outputPrefix>/<job>/` for
 * jobs named `<project>-...`, and checkpoints under `<project>/checkpoints/`. Everything else under
 * the same prefixes (another team's model, files mlops never uploaded) is kept.
 */

export interface OwnedData {
  readonly bucket: string
  /** Keys that will be deleted, sorted. */
  readonly keys: readonly string[]
  /** How many objects under the project's prefixes are kept because mlops did not write them. */
  readonly kept: number
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
  return {
    // Objects mlops uploads itself, each marked with its sha256 in the metadata.
    marked: [`${cfg.data.prefix}/`, written.code, written.models],
    // Written by the jobs mlops starts, recognised by where they are.
    // (tuning jobs are named from the first 19 characters of the project name).
    byName: [...new Set([`${written.output}${p}-`, `${written.output}${resourceNames(cfg).tuningJobBase}-`, written.checkpoints])],
    listed: roots.filter((r) => !roots.some((other) => other !== r && r.startsWith(other))),
  }
}

/**
 * Lists the project's prefixes once and picks the objects mlops wrote (HeadObject for the marked
 * ones, 8 at a time); everything else listed is counted as kept.
 */
export async function findOwnedData(s3: AwsClients['s3'], cfg: MlopsConfig, signal?: AbortSignal): Promise<OwnedData> {
  const bucket = cfg.data.bucket
  const { marked, byName, listed } = ownedPrefixes(cfg)
  const seen: string[] = []
  for (const prefix of listed) seen.push(...((await listObjectsIfBucketExists(s3, bucket, prefix))?.keys() ?? []))
  const under = (prefixes: readonly string[]) => (key: string) => prefixes.some((p) => key.startsWith(p))
  const keys = new Set(seen.filter(under(byName)))
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
  return { bucket, keys: [...keys].sort(), kept: seen.filter((k) => !keys.has(k)).length }
}
