import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable, Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { formatBytes, type Ui } from '../../shared/output.js'
import { unzip, type UnzipLimits } from './unzip.js'

/**
 * `upload-data --from-url`: download a dataset archive, verify it, unpack it into the dataset
 * folder. Re-runs with the same URL reuse the unpacked folder (recorded in `.mlops/downloads.json`),
 * so the command stays repeatable without downloading 1 GB every time.
 */

export interface FetchDatasetOptions {
  readonly url: string
  /** Absolute path the dataset root ends up at (data.localDir or --source). */
  readonly dest: string
  /** The project's `.mlops` folder: the archive is downloaded there, and the record kept. */
  readonly workDir: string
  /** Expected sha256 of the archive (hex); checked when given. */
  readonly expectSha256?: string
  readonly signal: AbortSignal
  readonly ui: Pick<Ui, 'step' | 'info' | 'warn' | 'success' | 'progress'>
  /** Give up when no byte arrives for this long. @default 60 s */
  readonly idleTimeoutMs?: number
  readonly limits?: UnzipLimits
}

export interface FetchDatasetResult {
  readonly url: string
  readonly root: string
  /** False when the folder was already unpacked from this URL. */
  readonly downloaded: boolean
  readonly archiveBytes: number
  readonly archiveSha256: string
  readonly files: number
}

interface DownloadRecord {
  url: string
  archiveSha256: string
  archiveBytes: number
  files: number
  unpackedAt: string
}

/** Downloads and unpacks unless `dest` already holds this URL's dataset. Throws UserError for bad input, OperationError for failed transfers. */
export async function fetchDataset(o: FetchDatasetOptions): Promise<FetchDatasetResult> {
  const recordFile = path.join(o.workDir, 'downloads.json')
  const records = await readRecords(recordFile)
  const existing = await readdir(o.dest).catch(() => undefined)
  if (existing && existing.length > 0) {
    const rec = records[o.dest]
    if (rec && rec.url === o.url) {
      o.ui.info(`${o.dest} was already unpacked from ${o.url}; reusing it (delete the folder to download again).`)
      return { url: o.url, root: o.dest, downloaded: false, archiveBytes: rec.archiveBytes, archiveSha256: rec.archiveSha256, files: rec.files }
    }
    throw new UserError('SourceNotEmpty', `--from-url unpacks into ${o.dest}, which already has files; nothing was downloaded.`, {
      hint: 'Remove or rename that folder, pass --source <empty-or-new-dir>, or drop --from-url to upload what is there.',
    })
  }

  const downloads = path.join(o.workDir, 'downloads')
  await mkdir(downloads, { recursive: true })
  const archive = path.join(downloads, `${createHash('sha256').update(o.url).digest('hex').slice(0, 16)}.zip`)
  const staging = `${o.dest}.unpacking-${process.pid}`
  try {
    const { bytes, sha256 } = await download(o, `${archive}.part`)
    if (o.expectSha256 && o.expectSha256.toLowerCase() !== sha256) {
      throw new OperationError('ChecksumMismatch', `The archive from ${o.url} has sha256 ${sha256}, not the expected ${o.expectSha256}.`, {
        hint: 'The file changed on the server or was corrupted in transit. Check the URL and the expected checksum.',
      })
    }
    await rename(`${archive}.part`, archive)
    await mkdir(staging, { recursive: true })
    o.ui.step(`Unpacking ${formatBytes(bytes)} archive…`)
    let bar: ReturnType<typeof o.ui.progress> | undefined
    const result = await unzip(archive, staging, {
      ...o.limits,
      signal: o.signal,
      onProgress: (written, total) => (bar ??= o.ui.progress('Unpacking', total, { format: formatBytes, intervalMs: 3000 })).update(written),
    })
    bar?.done()
    if (result.skipped.length > 0)
      o.ui.warn(
        `Left out ${result.skipped.length} archive entr${result.skipped.length === 1 ? 'y' : 'ies'}: ${result.skipped.slice(0, 3).join(', ')}${result.skipped.length > 3 ? ', …' : ''}`,
      )
    const root = await datasetRootIn(staging)
    await mkdir(path.dirname(o.dest), { recursive: true })
    if (existing) await rmdir(o.dest) // empty, checked above
    await rename(root, o.dest)
    o.ui.success(`Unpacked ${result.files.toLocaleString('en-US')} files (${formatBytes(result.bytes)}) into ${o.dest}`)
    records[o.dest] = { url: o.url, archiveSha256: sha256, archiveBytes: bytes, files: result.files, unpackedAt: new Date().toISOString() }
    await writeFile(recordFile, JSON.stringify(records, null, 2) + '\n')
    return { url: o.url, root: o.dest, downloaded: true, archiveBytes: bytes, archiveSha256: sha256, files: result.files }
  } catch (err) {
    if (o.signal.aborted) throw new InterruptedError('Interrupted: the download was stopped and its partial files removed; nothing was uploaded.')
    throw err
  } finally {
    // The archive is not kept: the unpacked folder is the dataset, and the record makes re-runs skip the download.
    await rm(`${archive}.part`, { force: true })
    await rm(archive, { force: true })
    await rm(staging, { recursive: true, force: true })
  }
}

async function download(o: FetchDatasetOptions, file: string): Promise<{ bytes: number; sha256: string }> {
  let url: URL
  try {
    url = new URL(o.url)
  } catch {
    throw new UserError('InvalidFlag', `--from-url must be an http(s) URL, got "${o.url}".`)
  }
  const idle = new AbortController()
  const idleMs = o.idleTimeoutMs ?? 60_000
  let timer: NodeJS.Timeout | undefined
  const touch = () => {
    clearTimeout(timer)
    timer = setTimeout(() => idle.abort(), idleMs)
  }
  const signal = AbortSignal.any([o.signal, idle.signal])
  o.ui.step(`Downloading ${url.href}…`)
  touch()
  try {
    let res: Response
    try {
      res = await fetch(url, { signal, redirect: 'follow' })
    } catch (err) {
      if (o.signal.aborted) throw err
      throw new OperationError(
        'DownloadFailed',
        `Could not download ${url.href}: ${idle.signal.aborted ? `no response within ${idleMs / 1000}s` : (err as Error).message}.`,
        {
          hint: 'Check the URL and your network (proxy, firewall), then run the command again.',
          cause: err,
        },
      )
    }
    if (!res.ok || !res.body) {
      const Err = res.status >= 400 && res.status < 500 ? UserError : OperationError
      throw new Err('DownloadFailed', `GET ${url.href} answered ${res.status} ${res.statusText}; nothing was downloaded.`, {
        hint:
          res.status === 404
            ? 'Check the URL.'
            : res.status === 403
              ? 'The URL may have expired (presigned URLs do) or need credentials.'
              : 'Run the command again later.',
      })
    }
    const expected = Number(res.headers.get('content-length') ?? NaN)
    const bar = o.ui.progress('Downloading', Number.isFinite(expected) ? expected : 0, { format: formatBytes, intervalMs: 3000 })
    const hash = createHash('sha256')
    let bytes = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        touch()
        bytes += chunk.length
        hash.update(chunk)
        bar.update(bytes)
        done(null, chunk)
      },
    })
    try {
      await pipeline(Readable.fromWeb(res.body as Parameters<typeof Readable.fromWeb>[0]), count, createWriteStream(file), { signal })
    } catch (err) {
      if (o.signal.aborted) throw err
      throw new OperationError(
        'DownloadFailed',
        `The download of ${url.href} stopped after ${formatBytes(bytes)}: ${idle.signal.aborted ? `no data for ${idleMs / 1000}s` : (err as Error).message}.`,
        {
          hint: 'Run the command again; the partial file was removed.',
          cause: err,
        },
      )
    }
    bar.done()
    if (Number.isFinite(expected) && bytes !== expected) {
      throw new OperationError('DownloadIncomplete', `Received ${bytes} bytes from ${url.href}, but the server announced ${expected}.`, {
        hint: 'Run the command again.',
      })
    }
    const sha256 = hash.digest('hex')
    o.ui.success(`Downloaded ${formatBytes(bytes)} (sha256 ${sha256.slice(0, 16)}…)`)
    return { bytes, sha256: sha256 }
  } finally {
    clearTimeout(timer)
  }
}

/** The folder that holds train/ valid/ test/: the staging folder itself, or its only subfolder (dogImages.zip has `dogImages/`). */
async function datasetRootIn(staging: string): Promise<string> {
  const entries = (await readdir(staging, { withFileTypes: true })).filter((e) => !e.name.startsWith('.') && e.name !== '__MACOSX')
  if (entries.length === 1 && entries[0].isDirectory()) return path.join(staging, entries[0].name)
  return staging
}

async function readRecords(file: string): Promise<Record<string, DownloadRecord>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Record<string, DownloadRecord>
    return parsed && typeof parsed === 'object' ? parsed : {}
  } catch {
    return {} // a missing or unreadable record only means the next run downloads again
  }
}

/** The record of what `fetchDataset` unpacked into `dest`, if any (dry runs use it to know the files without downloading). */
export async function recordedDownload(workDir: string, dest: string): Promise<{ url: string; archiveSha256: string } | undefined> {
  const rec = (await readRecords(path.join(workDir, 'downloads.json')))[dest]
  if (!rec) return undefined
  const there = await readdir(dest).then(
    (e) => e.length > 0,
    () => false,
  )
  return there ? { url: rec.url, archiveSha256: rec.archiveSha256 } : undefined
}
