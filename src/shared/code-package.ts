import { createHash } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { create as createTar } from 'tar'
import { UserError } from './errors.js'
import type { PlannedOperation } from './plan.js'

/**
 * The training code (scripts/) as `sourcedir.tar.gz`, uploaded content-addressed:
 * `s3://<bucket>/<prefix>/code/<sha256>/sourcedir.tar.gz`. The archive is byte-for-byte
 * reproducible (sorted entries, fixed mtime, no owner data), so unchanged code hashes the same
 * and is never uploaded twice (the upload itself: aws/s3/code-upload.ts). SageMaker (`train`) and the EC2 box (`train-ec2`) use the same one.
 */

/** Never shipped: caches, tests and editor debris. */
const EXCLUDED = [/(^|\/)__pycache__(\/|$)/, /\.py[co]$/, /(^|\/)\.[^/]+/, /(^|\/)tests?(\/|$)/, /\.ipynb$/]
/** SageMaker's sourcedir limit is generous, but anything this big is almost surely data by mistake. */
const MAX_PACKAGE_BYTES = 50 * 1024 * 1024
/** The most source bytes read to build one: code compresses, so more than this is data or weights. */
const MAX_SOURCE_BYTES = 4 * MAX_PACKAGE_BYTES

function tooLarge(sourceDir: string, bytes: number, verb: string): UserError {
  return new UserError(
    'CodePackageTooLarge',
    `${sourceDir} ${verb} ${(bytes / 1e6).toFixed(0)} MB; code packages should be small (at most ${MAX_PACKAGE_BYTES / 1024 / 1024} MB packed).`,
    {
      hint: 'Keep data and weights out of training.sourceDir (upload data with `mlops upload-data`).',
    },
  )
}

export interface CodePackage {
  /** The gzipped tar. */
  readonly body: Buffer
  readonly sha256: string
  /** Relative paths inside the archive, sorted. */
  readonly files: readonly string[]
}

/** Lists the files under `dir` that belong in the package, as sorted relative POSIX paths. */
export async function listSourceFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (rel: string) => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true })
    for (const e of entries) {
      const child = rel ? `${rel}/${e.name}` : e.name
      if (EXCLUDED.some((re) => re.test(child))) continue
      if (e.isDirectory()) await walk(child)
      else if (e.isFile()) out.push(child)
    }
  }
  await walk('')
  return out.sort()
}

/** Builds the reproducible sourcedir.tar.gz of `sourceDir`; `entryPoint` must be in it. */
export async function buildCodePackage(sourceDir: string, entryPoint: string): Promise<CodePackage> {
  const exists = await stat(sourceDir).then(
    (s) => s.isDirectory(),
    () => false,
  )
  if (!exists) {
    throw new UserError('SourceDirMissing', `The training code folder ${sourceDir} does not exist.`, {
      hint: 'Set training.sourceDir in mlops.config.yaml to the folder that holds train.py (default: scripts).',
    })
  }
  const files = await listSourceFiles(sourceDir)
  if (!files.includes(entryPoint)) {
    throw new UserError('EntryPointMissing', `${entryPoint} is not in ${sourceDir}.`, {
      hint: `Set training.entryPoint to a file inside ${sourceDir} (found: ${files.slice(0, 8).join(', ') || 'no files'}).`,
    })
  }
  // Sizes first, so a folder full of data or weights is refused before anything is read into memory
  // (a 300 MB scripts/ used to reach 760 MB of RSS before this check ran on the finished archive).
  let rawBytes = 0
  for (const f of files) rawBytes += (await stat(path.join(sourceDir, f))).size
  if (rawBytes > MAX_SOURCE_BYTES) throw tooLarge(sourceDir, rawBytes, 'holds')
  const chunks: Buffer[] = []
  let packed = 0
  const stream = createTar({ cwd: sourceDir, gzip: { level: 9 }, portable: true, mtime: new Date(0), noDirRecurse: true }, files)
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    packed += chunk.length
    if (packed > MAX_PACKAGE_BYTES) throw tooLarge(sourceDir, packed, 'packs to more than')
    chunks.push(Buffer.from(chunk))
  }
  const body = Buffer.concat(chunks)
  return { body, sha256: createHash('sha256').update(body).digest('hex'), files }
}

/** Where a package with this hash lives. */
export function codePackageLocation(bucket: string, prefix: string, sha256: string): { bucket: string; key: string; uri: string } {
  const key = `${prefix.replace(/\/+$/, '')}/code/${sha256}/sourcedir.tar.gz`
  return { bucket, key, uri: `s3://${bucket}/${key}` }
}

/** The requests `ensureCodePackage` makes, for --dry-run. */
export function planCodePackage(bucket: string, key: string, sha256: string): PlannedOperation[] {
  return [
    { service: 's3', operation: 'HeadObject', input: { Bucket: bucket, Key: key }, note: 'skip the upload when this exact code is already there' },
    {
      service: 's3',
      operation: 'PutObject',
      input: { Bucket: bucket, Key: key, ContentType: 'application/gzip', Metadata: { sha256 }, Body: '<sourcedir.tar.gz>' },
      note: 'only when HeadObject found nothing',
    },
  ]
}
