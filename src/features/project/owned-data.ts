import type { MlopsConfig } from '../../config/schema.js'
import type { AwsClients } from '../../aws/clients.js'
import { headObject } from '../../aws/s3/objects.js'
import { listObjectsIfBucketExists } from '../../aws/s3/project-resources.js'
import { mlopsWritePrefixes, resourceNames } from '../../shared/naming.js'

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

/** The prefixes looked at: those mlops writes to. */
export function ownedPrefixes(cfg: MlopsConfig): { marked: string[]; byName: string[] } {
  const p = cfg.project.name
  const written = mlopsWritePrefixes(cfg)
  return {
    // Objects mlops uploads itself, each marked with its sha256 in the metadata.
    marked: [`${cfg.data.prefix}/`, written.code, written.models],
    // Written by the jobs mlops starts, recognised by where they are.
    // (tuning jobs are named from the first 19 characters of the project name).
    byName: [...new Set([`${written.output}${p}-`, `${written.output}${resourceNames(cfg).tuningJobBase}-`, written.checkpoints])],
  }
}

/** Lists the project's prefixes and picks the objects mlops wrote (HeadObject for the marked ones, 8 at a time). */
export async function findOwnedData(s3: AwsClients['s3'], cfg: MlopsConfig, signal?: AbortSignal): Promise<OwnedData> {
  const bucket = cfg.data.bucket
  const { marked, byName } = ownedPrefixes(cfg)
  const keys = new Set<string>()
  const seen = new Set<string>()
  for (const prefix of byName) for (const key of (await listObjectsIfBucketExists(s3, bucket, prefix))?.keys() ?? []) keys.add(key)
  const candidates: string[] = []
  for (const prefix of marked) for (const key of (await listObjectsIfBucketExists(s3, bucket, prefix))?.keys() ?? []) candidates.push(key)
  let next = 0
  const worker = async () => {
    while (next < candidates.length) {
      const key = candidates[next++]
      const head = await headObject(s3, bucket, key, signal)
      if (head?.sha256 && /^[0-9a-f]{64}$/.test(head.sha256)) keys.add(key)
    }
  }
  await Promise.all(Array.from({ length: Math.min(8, candidates.length) }, worker))
  // Everything else under the prefixes teardown used to sweep is counted as kept.
  for (const prefix of [`${cfg.data.prefix}/`, `${cfg.training.outputPrefix}/`, `${cfg.project.name}/`]) {
    for (const key of (await listObjectsIfBucketExists(s3, bucket, prefix))?.keys() ?? []) seen.add(key)
  }
  const sorted = [...keys].sort()
  return { bucket, keys: sorted, kept: [...seen].filter((k) => !keys.has(k)).length }
}
