import type { S3Client } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { create as createTar, extract as extractTar } from 'tar'
import { bundledScriptsDir } from '../../shared/package-root.js'
import { UserError } from '../../shared/errors.js'
import type { PlannedOperation } from '../../shared/plan.js'
import { parseS3Uri, type S3Location } from '../../aws/arn.js'
import { headObject } from '../../aws/s3/objects.js'
import { ensureBucketRequests, type BucketOptions } from '../../aws/s3/bucket.js'
import { getObjectStream, uploadFile } from '../../aws/s3/model-archive.js'

/**
 * The model archive an endpoint serves: the training `model.tar.gz` repacked with the inference
 * handler under `code/` (what the SageMaker SDK's `repack_model` does, ../shared/reference/sagemaker.md
 * 1.6), so the PyTorch serving container runs our `inference.py` with SAGEMAKER_SUBMIT_DIRECTORY
 * `/opt/ml/model/code`. The archive is reproducible (sorted entries, fixed mtime, no owners) and
 * uploaded content-addressed to `s3://<bucket>/<project>/models/<sha256>/model.tar.gz`, which is
 * the prefix the execution role may read.
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
  /** File names (relative to `dir`) placed under `code/`: the entry point, the local modules it imports, requirements.txt. */
  readonly files: readonly string[]
  /** True when the project had no handler and the one bundled with mlops is used. */
  readonly bundled: boolean
}

/**
 * The handler and the local modules it needs, following imports transitively (inference.py ->
 * model_def.py, url_fetch.py), so train-only scripts stay out of the endpoint. A `requirements.txt`
 * beside them is included: the serving container pip-installs code/requirements.txt at start.
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
  if (await has(dir, 'requirements.txt')) files.push('requirements.txt')
  return { dir, files: files.sort(), bundled }
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

/**
 * Unpacks `archive` (a gzipped tar stream), replaces any `code/` folder with `code`, and writes a
 * reproducible `model.tar.gz` into `workDir`. tar's extractor refuses absolute paths and `..`, so
 * a hostile archive cannot write outside `workDir`.
 */
export async function repackModelArchive(archive: NodeJS.ReadableStream, code: InferenceCode, workDir: string, sourceLabel: string): Promise<RepackedModel> {
  const root = path.join(workDir, 'model')
  await mkdir(root, { recursive: true })
  try {
    await new Promise<void>((resolve, reject) => {
      // tar's Unpack is a minipass stream: it signals completion with 'close' once every file is written.
      const unpack = extractTar({ cwd: root, strict: true })
      unpack.on('error', reject)
      unpack.on('close', () => resolve())
      archive.on('error', reject)
      archive.pipe(unpack as unknown as NodeJS.WritableStream)
    })
  } catch (e) {
    throw new UserError('ModelArchiveUnreadable', `${sourceLabel} is not a readable model.tar.gz: ${(e as Error).message}`, {
      hint: 'Point --model at the model.tar.gz a training job wrote (…/output/model.tar.gz) or at the job name.',
      cause: e,
    })
  }
  await rm(path.join(root, 'code'), { recursive: true, force: true })
  const weights = await listFiles(root)
  if (weights.length === 0) {
    throw new UserError('ModelArchiveEmpty', `${sourceLabel} holds no files outside code/.`, {
      hint: 'A trained model.tar.gz holds model.pth and classes.json at its root; check the training job finished.',
    })
  }
  await mkdir(path.join(root, 'code'), { recursive: true })
  for (const f of code.files) await copyFile(path.join(code.dir, f), path.join(root, 'code', f))
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

/** Downloads `source` from S3 and repacks it with `code` (see repackModelArchive). */
export async function downloadAndRepack(s3: S3Client, source: S3Location, code: InferenceCode, workDir: string): Promise<RepackedModel> {
  const body = await getObjectStream(s3, source.bucket, source.key)
  if (!body) {
    throw new UserError('ModelArtifactMissing', `No model artifact at ${source.uri}.`, {
      hint: 'Check the URI, or deploy the latest training job by leaving out --model.',
    })
  }
  return repackModelArchive(body, code, workDir, source.uri)
}

/** Uploads the repacked archive unless an object with the same hash is already there. */
export async function ensureModelPackage(s3: S3Client, loc: S3Location, model: RepackedModel): Promise<{ uploaded: boolean }> {
  const present = (await headObject(s3, loc.bucket, loc.key)) !== undefined
  if (present) return { uploaded: false }
  await uploadFile(s3, { bucket: loc.bucket, key: loc.key, file: model.file, contentType: 'application/gzip', metadata: { sha256: model.sha256 } })
  return { uploaded: true }
}

/**
 * The requests of a repack, for --dry-run. `projectBucket` is how deploy creates the project bucket
 * when the model is in another one (upload-data's hardening).
 */
export function planModelPackage(source: string, projectBucket: BucketOptions, project: string, code: InferenceCode | undefined): PlannedOperation[] {
  const bucket = projectBucket.bucket
  const src = parseS3Uri(source, { requireKey: true })
  const dest = modelPackageLocation(bucket, project, SHA_PLACEHOLDER)
  const codeNote = code ? `adds code/${code.files.join(', code/')}` : 'adds the inference handler under code/'
  return [
    {
      service: 's3',
      operation: 'GetObject',
      input: src ? { Bucket: src.bucket, Key: src.key } : { Bucket: '<bucket>', Key: source },
      note: `download the trained model; ${codeNote}`,
    },
    ...(src && src.bucket !== bucket
      ? [
          {
            service: 's3',
            operation: 'HeadBucket',
            input: { Bucket: bucket },
            note: 'the model is in another bucket: the project bucket is created first if missing, hardened as upload-data does',
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
