import type { S3Client } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { create as createTar } from 'tar'
import { extractTarBounded, type ArchiveLimits } from '../../shared/archive-bounds.js'
import { bundledScriptsDir } from '../../shared/package-root.js'
import { UserError } from '../../shared/errors.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { parseS3Uri, type S3Location } from '../../aws/arn.js'
import { headObject } from '../../aws/s3/objects.js'
import { ensureBucketRequests, type BucketOptions } from '../../aws/s3/bucket.js'
import { getObjectStream, uploadFile } from '../../aws/s3/model-archive.js'
import { extraRequirements, serveAppOf, type ServeApp } from './ray-serve.js'

/**
 * The model archive an endpoint serves, for the Ray Serve SageMaker image (ray-serve.ts): the
 * training `model.tar.gz` (weights, classes, model-info.json) with its `code/` replaced by the
 * predictor module (`deployment.py`) and the local modules it imports at the root, `config.yaml`
 * (the Ray Serve application) beside them, and `code/requirements.txt` only when the user's
 * requirements name something the image lacks. The archive is reproducible (sorted entries, fixed
 * mtime, no owners) and uploaded content-addressed to
 * `s3://<bucket>/<project>/models/<sha256>/model.tar.gz`, which is the prefix the execution role may read.
 */

/** Placeholder for the archive hash in dry-run plans (it depends on the model's bytes). */
export const SHA_PLACEHOLDER = '<sha256-of-repacked-model>'

/** Where a repacked model with this hash lives. */
export function modelPackageLocation(bucket: string, project: string, sha256: string): S3Location {
  const key = `${project}/models/${sha256}/model.tar.gz`
  return { bucket, key, uri: `s3://${bucket}/${key}` }
}

/**
 * Top-level module names a Python file imports (`import a, b as c`, `from a.b import c`), in order of
 * appearance. Relative imports are skipped; whether a name is a local file is decided by the caller.
 */
export function pythonImports(source: string): string[] {
  const found: string[] = []
  const add = (name: string) => {
    const top = name
      .trim()
      .split(/\s+as\s+/)[0]
      .split('.')[0]
    if (/^[A-Za-z_]\w*$/.test(top) && !found.includes(top)) found.push(top)
  }
  for (const raw of source.split('\n')) {
    const line = raw.replace(/#.*$/, '')
    const from = /^\s*from\s+([A-Za-z_][\w.]*)\s+import\b/.exec(line)
    if (from) {
      add(from[1])
      continue
    }
    const imp = /^\s*import\s+(.+)$/.exec(line)
    if (imp) for (const part of imp[1].replace(/[()\\]/g, '').split(',')) add(part)
  }
  return found
}

export interface InferenceCode {
  /** Folder the files come from. */
  readonly dir: string
  /** File names (relative to `dir`) placed at the archive root: the predictor and the local modules it imports. */
  readonly files: readonly string[]
  /** True when the project had no predictor and the one bundled with mlops is used. */
  readonly bundled: boolean
  /** The Ray Serve application the predictor defines (for config.yaml). */
  readonly app: ServeApp
  /** code/requirements.txt: the lines of `dir`/requirements.txt the image does not already satisfy; unset: none ships. */
  readonly requirements?: string
}

/**
 * The predictor and the local modules it needs, following imports transitively (deployment.py ->
 * inference.py -> model_def.py, url_fetch.py), so train-only scripts stay out of the endpoint. A
 * `requirements.txt` beside them ships as code/requirements.txt (the image pip-installs it at start)
 * with only what the image lacks, and not at all when that is nothing. UserError (exit 2) when the
 * entry point is not a Ray Serve application.
 */
export async function collectInferenceCode(sourceDir: string, entryPoint: string, fallbackDir = bundledScriptsDir()): Promise<InferenceCode> {
  const has = (dir: string, f: string) =>
    stat(path.join(dir, f)).then(
      (s) => s.isFile(),
      () => false,
    )
  let dir = sourceDir
  let bundled = false
  if (!(await has(sourceDir, entryPoint))) {
    if (path.resolve(fallbackDir) !== path.resolve(sourceDir) && (await has(fallbackDir, entryPoint))) {
      dir = fallbackDir
      bundled = true
    } else {
      throw new UserError('InferenceHandlerMissing', `${entryPoint} is not in ${sourceDir}.`, {
        hint: 'Set training.sourceDir to the folder holding the inference handler, or endpoint.entryPoint to its file name.',
      })
    }
  }
  const files: string[] = []
  const queue = [entryPoint]
  while (queue.length > 0) {
    const file = queue.shift()!
    if (files.includes(file)) continue
    files.push(file)
    for (const mod of pythonImports(await readFile(path.join(dir, file), 'utf8'))) {
      const candidate = `${mod}.py`
      if (!files.includes(candidate) && (await has(dir, candidate))) queue.push(candidate)
    }
  }
  const app = serveAppOf(entryPoint, await readFile(path.join(dir, entryPoint), 'utf8'))
  const requirements = (await has(dir, 'requirements.txt')) ? extraRequirements(await readFile(path.join(dir, 'requirements.txt'), 'utf8')) : undefined
  return { dir, files: files.sort(), bundled, app, ...(requirements ? { requirements } : {}) }
}

export interface RepackedModel {
  /** The repacked archive on local disk (inside `workDir`). */
  readonly file: string
  readonly sha256: string
  readonly bytes: number
  /** Sorted paths inside the archive. */
  readonly entries: readonly string[]
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel ? `${rel}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await listFiles(root, child)))
    else if (e.isFile()) out.push(child)
  }
  return out
}

/** The Ray Serve application file at the archive root. */
export const SERVE_CONFIG_FILE = 'config.yaml'

/**
 * Unpacks `archive` (a gzipped tar stream), drops its `code/` folder, puts `code`'s files and
 * `serveConfig` (config.yaml) at the root (and code/requirements.txt when there is one), and writes
 * a reproducible `model.tar.gz` into `workDir`. The archive is saved first and unpacked within the
 * dataset unzip's bounds (shared/archive-bounds.ts: total, ratio, free disk; plain files only), so a
 * bomb is refused before anything is written; tar's extractor refuses absolute paths and `..`, so a
 * hostile archive cannot write outside `workDir`.
 */
export async function repackModelArchive(
  archive: NodeJS.ReadableStream,
  code: InferenceCode,
  serveConfig: string,
  workDir: string,
  sourceLabel: string,
  limits: ArchiveLimits = {},
): Promise<RepackedModel> {
  const root = path.join(workDir, 'model')
  await mkdir(root, { recursive: true })
  const source = path.join(workDir, 'source.tar.gz')
  await pipeline(archive, createWriteStream(source))
  await extractTarBounded(source, root, {
    ...limits,
    label: sourceLabel,
    hint: 'Point --model at the model.tar.gz a training job wrote (…/output/model.tar.gz) or at the job name.',
  })
  await rm(source, { force: true })
  await rm(path.join(root, 'code'), { recursive: true, force: true })
  const weights = await listFiles(root)
  if (weights.length === 0) {
    throw new UserError('ModelArchiveEmpty', `${sourceLabel} holds no files outside code/.`, {
      hint: 'A trained model.tar.gz holds model.pth and classes.json at its root; check the training job finished.',
    })
  }
  for (const f of code.files) await copyFile(path.join(code.dir, f), path.join(root, f))
  await writeFile(path.join(root, SERVE_CONFIG_FILE), serveConfig)
  if (code.requirements) {
    await mkdir(path.join(root, 'code'), { recursive: true })
    await writeFile(path.join(root, 'code', 'requirements.txt'), code.requirements)
  }
  const entries = (await listFiles(root)).sort()
  const file = path.join(workDir, 'model.tar.gz')
  const hash = createHash('sha256')
  let bytes = 0
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    },
  })
  // Fixed mtime, portable headers and sorted entries: the same model and code give the same bytes.
  const packer = createTar({ cwd: root, gzip: { level: 6 }, portable: true, mtime: new Date(0), noDirRecurse: true }, entries)
  await pipeline(packer as unknown as AsyncIterable<Buffer>, tee, createWriteStream(file))
  return { file, sha256: hash.digest('hex'), bytes, entries }
}

/** A temporary folder for a repack; `cleanup` removes it. */
export async function makeWorkDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-repack-'))
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}

/** Downloads `source` from S3 and repacks it with `code` and `serveConfig` (see repackModelArchive). */
export async function downloadAndRepack(s3: S3Client, source: S3Location, code: InferenceCode, serveConfig: string, workDir: string): Promise<RepackedModel> {
  const body = await getObjectStream(s3, source.bucket, source.key)
  if (!body) {
    throw new UserError('ModelArtifactMissing', `No model artifact at ${source.uri}.`, {
      hint: 'Check the URI, or deploy the latest training job by leaving out --model.',
    })
  }
  return repackModelArchive(body, code, serveConfig, workDir, source.uri)
}

/** Uploads the repacked archive unless an object with the same hash is already there. */
export async function ensureModelPackage(s3: S3Client, loc: S3Location, model: RepackedModel): Promise<{ uploaded: boolean }> {
  const present = (await headObject(s3, loc.bucket, loc.key)) !== undefined
  if (present) return { uploaded: false }
  await uploadFile(s3, { bucket: loc.bucket, key: loc.key, file: model.file, contentType: 'application/gzip', metadata: { sha256: model.sha256 } })
  return { uploaded: true }
}

/** What a repack adds, in words (the dry-run plan and the spinner). */
export function packageNote(code: InferenceCode): string {
  const req = code.requirements ? ', code/requirements.txt' : ''
  return `adds ${SERVE_CONFIG_FILE} (Ray Serve app ${code.app.module}:app), ${code.files.join(', ')}${req}`
}

/**
 * The requests of a repack, for --dry-run. `projectBucket` is how deploy creates the project bucket
 * when the model is in another one (upload-data's hardening).
 */
export function planModelPackage(source: string, projectBucket: BucketOptions, project: string, code: InferenceCode | undefined): PlannedOperation[] {
  const bucket = projectBucket.bucket
  const local = !source.startsWith('s3://')
  const src = local ? undefined : parseS3Uri(source, { requireKey: true })
  const dest = modelPackageLocation(bucket, project, SHA_PLACEHOLDER)
  const codeNote = code ? packageNote(code) : 'adds the Ray Serve predictor and config.yaml'
  return [
    ...(local
      ? []
      : [
          {
            service: 's3',
            operation: 'GetObject',
            input: src ? { Bucket: src.bucket, Key: src.key } : { Bucket: '<bucket>', Key: source },
            note: `download the trained model; ${codeNote}`,
          },
        ]),
    // A model from this machine (issue 31 item 3) is read from disk, so the project bucket may not exist yet either.
    ...(local || (src && src.bucket !== bucket)
      ? [
          {
            service: 's3',
            operation: 'HeadBucket',
            input: { Bucket: bucket },
            note: local
              ? `the model is on this machine (${source}; ${codeNote}): the project bucket is created first if missing, hardened as upload-data does`
              : 'the model is in another bucket: the project bucket is created first if missing, hardened as upload-data does',
          },
          ...ensureBucketRequests(projectBucket).map((r) => ({ service: 's3', ...r })),
        ]
      : []),
    { service: 's3', operation: 'HeadObject', input: { Bucket: dest.bucket, Key: dest.key }, note: 'skip the upload when this exact archive is already there' },
    {
      service: 's3',
      operation: 'PutObject',
      input: { Bucket: dest.bucket, Key: dest.key, ContentType: 'application/gzip', Metadata: { sha256: SHA_PLACEHOLDER }, Body: '<repacked model.tar.gz>' },
      note: 'only when HeadObject found nothing',
    },
  ]
}
