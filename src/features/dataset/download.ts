import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { lookup as dnsLookup } from 'node:dns/promises'
import http from 'node:http'
import https from 'node:https'
import { isIP, isIPv4, isIPv6 } from 'node:net'
import { Transform } from 'node:stream'
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
  /** Give up when the whole download (redirects included) takes longer. @default DOWNLOAD_DEADLINE_MS */
  readonly deadlineMs?: number
  /** Refuse archives larger than this. @default MAX_DOWNLOAD_BYTES */
  readonly maxBytes?: number
  /** Host name resolution (tests). @default dns.lookup, every address */
  readonly resolve?: Resolver
  /** The address actually connected to, given the checked one (tests: a "public" name served on 127.0.0.1). @default the checked address */
  readonly dial?: (checked: string) => string
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
  /** The URL as shown (credentials redacted). */
  url: string
  /** sha256 of the URL as given: re-runs match on it without the record holding credentials. */
  urlSha256?: string
  archiveSha256: string
  archiveBytes: number
  files: number
  unpackedAt: string
}

/** Downloads and unpacks unless `dest` already holds this URL's dataset. Throws UserError for bad input, OperationError for failed transfers. */
export async function fetchDataset(o: FetchDatasetOptions): Promise<FetchDatasetResult> {
  const shown = redactUrl(o.url)
  const recordFile = path.join(o.workDir, 'downloads.json')
  const records = await readRecords(recordFile)
  const existing = await readdir(o.dest).catch(() => undefined)
  if (existing && existing.length > 0) {
    const rec = records[o.dest]
    if (rec && recordMatches(rec, o.url)) {
      o.ui.info(`${o.dest} was already unpacked from ${shown}; reusing it (delete the folder to download again).`)
      return { url: shown, root: o.dest, downloaded: false, archiveBytes: rec.archiveBytes, archiveSha256: rec.archiveSha256, files: rec.files }
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
      throw new OperationError('ChecksumMismatch', `The archive from ${shown} has sha256 ${sha256}, not the expected ${o.expectSha256}.`, {
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
    records[o.dest] = {
      url: shown,
      urlSha256: sha256Of(o.url),
      archiveSha256: sha256,
      archiveBytes: bytes,
      files: result.files,
      unpackedAt: new Date().toISOString(),
    }
    await writeFile(recordFile, JSON.stringify(records, null, 2) + '\n')
    return { url: shown, root: o.dest, downloaded: true, archiveBytes: bytes, archiveSha256: sha256, files: result.files }
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

/** The largest archive --from-url downloads (dogImages.zip is 1.1 GB). */
export const MAX_DOWNLOAD_BYTES = 32 * 1024 ** 3
/** One deadline for the whole download, redirects included. */
export const DOWNLOAD_DEADLINE_MS = 4 * 60 * 60 * 1000
const MAX_REDIRECTS = 5

async function download(o: FetchDatasetOptions, file: string): Promise<{ bytes: number; sha256: string }> {
  let url: URL
  try {
    url = new URL(o.url)
  } catch {
    throw new UserError('InvalidFlag', `--from-url must be an http(s) URL, got "${redactUrl(o.url)}".`)
  }
  const shown = redactUrl(url.href)
  const idleMs = o.idleTimeoutMs ?? 60_000
  const deadlineMs = o.deadlineMs ?? DOWNLOAD_DEADLINE_MS
  const maxBytes = o.maxBytes ?? MAX_DOWNLOAD_BYTES
  // One deadline for connect, redirects, headers and body: socket timeouts bound each read only,
  // and a server dripping a byte at a time would reset them forever (issue 19).
  const overall = new AbortController()
  const deadline = setTimeout(() => overall.abort(), deadlineMs)
  const idle = new AbortController()
  let idleTimer: NodeJS.Timeout | undefined
  const touch = () => {
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => idle.abort(), idleMs)
  }
  const signal = AbortSignal.any([o.signal, overall.signal, idle.signal])
  const why = (err: unknown) =>
    overall.signal.aborted
      ? `it took longer than ${formatSeconds(deadlineMs)} in all`
      : idle.signal.aborted
        ? `no data for ${formatSeconds(idleMs)}`
        : redactText((err as Error).message, url)
  o.ui.step(`Downloading ${shown}…`)
  touch()
  try {
    let res: http.IncomingMessage
    try {
      res = await openFollowingRedirects(url, signal, o.resolve ?? lookupAll, o.dial ?? ((a) => a))
    } catch (err) {
      if (o.signal.aborted || err instanceof UserError) throw err
      throw new OperationError('DownloadFailed', `Could not download ${shown}: ${why(err)}.`, {
        hint: 'Check the URL and your network (proxy, firewall), then run the command again.',
      })
    }
    const status = res.statusCode ?? 0
    if (status !== 200) {
      res.destroy()
      const Err = status >= 400 && status < 500 ? UserError : OperationError
      throw new Err('DownloadFailed', `GET ${shown} answered ${status} ${res.statusMessage ?? ''}; nothing was downloaded.`, {
        hint:
          status === 404
            ? 'Check the URL.'
            : status === 403
              ? 'The URL may have expired (presigned URLs do) or need credentials.'
              : 'Run the command again later.',
      })
    }
    const expected = Number(res.headers['content-length'] ?? NaN)
    const tooBig = () =>
      new UserError('DownloadTooLarge', `The archive at ${shown} is larger than the ${formatBytes(maxBytes)} limit for --from-url; nothing was kept.`, {
        hint: 'Download and unpack it yourself, then pass --source <dir>.',
      })
    if (Number.isFinite(expected) && expected > maxBytes) {
      res.destroy()
      throw tooBig()
    }
    const bar = o.ui.progress('Downloading', Number.isFinite(expected) ? expected : 0, { format: formatBytes, intervalMs: 3000 })
    const hash = createHash('sha256')
    let bytes = 0
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        touch()
        bytes += chunk.length
        if (bytes > maxBytes) return done(tooBig())
        hash.update(chunk)
        bar.update(bytes)
        done(null, chunk)
      },
    })
    try {
      await pipeline(res, count, createWriteStream(file), { signal })
    } catch (err) {
      if (o.signal.aborted || err instanceof UserError) throw err
      throw new OperationError('DownloadFailed', `The download of ${shown} stopped after ${formatBytes(bytes)}: ${why(err)}.`, {
        hint: 'Run the command again; the partial file was removed.',
      })
    }
    bar.done()
    if (Number.isFinite(expected) && bytes !== expected) {
      throw new OperationError('DownloadIncomplete', `Received ${bytes} bytes from ${shown}, but the server announced ${expected}.`, {
        hint: 'Run the command again.',
      })
    }
    const sha256 = hash.digest('hex')
    o.ui.success(`Downloaded ${formatBytes(bytes)} (sha256 ${sha256.slice(0, 16)}…)`)
    return { bytes, sha256: sha256 }
  } finally {
    clearTimeout(idleTimer)
    clearTimeout(deadline)
  }
}

/** Resolves a host name to every address it has (the seam tests replace). */
export type Resolver = (host: string) => Promise<string[]>

const lookupAll: Resolver = async (host) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address)

/**
 * GET `url`, following at most MAX_REDIRECTS redirects. Every hop's host is resolved and every
 * address checked, like scripts/url_fetch.py: a redirect may not reach a loopback, private,
 * link-local or other non-public address unless the URL the user gave is of that same kind (a local
 * test server may redirect to itself; a public server may not send us to 127.0.0.1 or the instance
 * metadata service). The connection goes to the address that was checked (no second DNS answer).
 */
async function openFollowingRedirects(start: URL, signal: AbortSignal, resolve: Resolver, dial: (checked: string) => string): Promise<http.IncomingMessage> {
  const origin = await checkedAddresses(start, resolve, undefined)
  let url = start
  let addresses = origin.addresses
  for (let hop = 0; ; hop++) {
    const res = await get(url, dial(addresses[0]), signal)
    const status = res.statusCode ?? 0
    if (![301, 302, 303, 307, 308].includes(status)) return res
    res.resume()
    const location = res.headers.location
    if (!location) throw new OperationError('DownloadFailed', `${redactUrl(url.href)} redirected without a Location header; nothing was downloaded.`)
    if (hop >= MAX_REDIRECTS)
      throw new UserError('DownloadRefused', `${redactUrl(start.href)} redirected more than ${MAX_REDIRECTS} times; nothing was downloaded.`)
    const next = URL.canParse(location, url.href) ? new URL(location, url) : undefined
    if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
      throw new UserError(
        'DownloadRefused',
        `${redactUrl(url.href)} redirected to "${redactText(location, url)}", which is not an http(s) URL; nothing was downloaded.`,
      )
    }
    addresses = (await checkedAddresses(next, resolve, origin.kind)).addresses
    url = next
  }
}

async function checkedAddresses(url: URL, resolve: Resolver, originKind: AddressKind | undefined): Promise<{ addresses: string[]; kind: AddressKind }> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: string[]
  try {
    addresses = isIP(host) ? [host] : await resolve(host)
  } catch (err) {
    throw new OperationError(
      'DownloadFailed',
      `Could not resolve ${host} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing was downloaded.`,
      {
        hint: 'Check the URL and your network, then run the command again.',
      },
    )
  }
  if (addresses.length === 0) throw new OperationError('DownloadFailed', `${host} has no addresses; nothing was downloaded.`)
  const kinds = addresses.map(addressKind)
  if (originKind !== undefined) {
    const bad = addresses.findIndex((_, i) => kinds[i] !== 'public' && kinds[i] !== originKind)
    if (bad >= 0) {
      throw new UserError(
        'DownloadRefused',
        `Refusing the redirect to ${redactUrl(url.href)}: ${host} resolves to a ${kinds[bad]} address ${addresses[bad]}; nothing was downloaded.`,
        {
          hint: 'A server may not redirect a download to a loopback, private or link-local address. Pass the final URL yourself if you trust it.',
        },
      )
    }
  }
  // One name, several kinds of address (a public one and 127.0.0.1 or 169.254.169.254): which one
  // a connection reaches is up to the resolver, and a local kind taken as the origin's would let
  // every redirect follow it into loopback. Refused as scripts/url_fetch.py does (issue 27).
  const mixed = kinds.findIndex((k) => k !== kinds[0])
  if (mixed >= 0) {
    throw new UserError(
      'DownloadRefused',
      `Refusing ${redactUrl(url.href)}: ${host} resolves to both a ${kinds[0]} address ${addresses[0]} and a ${kinds[mixed]} address ${addresses[mixed]}; nothing was downloaded.`,
      {
        hint: 'A name must resolve only to public addresses (or only to local ones, for a server on this machine). Pass a URL whose host answers consistently.',
      },
    )
  }
  if (originKind === undefined) return { addresses, kind: kinds[0] }
  return { addresses, kind: originKind }
}

export type AddressKind = 'public' | 'loopback' | 'private' | 'link-local' | 'non-public'

/** What kind of address `ip` is; IPv4 inside IPv6 (mapped, NAT64) is judged as that IPv4 address. */
export function addressKind(ip: string): AddressKind {
  const bare = ip.split('%')[0].toLowerCase()
  const v4 = isIPv4(bare) ? bare : embeddedIpv4(bare)
  if (v4) {
    const [a, b] = v4.split('.').map(Number)
    if (a === 127) return 'loopback'
    if (a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128)) return 'private'
    if (a === 169 && b === 254) return 'link-local'
    if (a === 0 || a >= 224 || (a === 192 && b === 0) || (a === 198 && (b === 18 || b === 19))) return 'non-public'
    return 'public'
  }
  if (bare === '::1') return 'loopback'
  if (bare === '::') return 'non-public'
  if (/^fe[89ab]/.test(bare)) return 'link-local'
  if (/^f[cd]/.test(bare)) return 'private'
  if (/^ff/.test(bare) || /^2001:0?db8:/.test(bare) || /^100::/.test(bare)) return 'non-public'
  return 'public'
}

function embeddedIpv4(ip: string): string | undefined {
  if (!isIPv6(ip)) return undefined
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(ip)
  if (mapped) return mapped[1]
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip)
  if (hex) {
    const n = (parseInt(hex[1], 16) << 16) | parseInt(hex[2], 16)
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
  }
  return undefined
}

function get(url: URL, address: string, signal: AbortSignal): Promise<http.IncomingMessage> {
  const mod = url.protocol === 'https:' ? https : http
  const family = isIPv6(address) ? 6 : 4
  return new Promise((resolve, reject) => {
    const req = mod.get(
      url,
      {
        signal,
        headers: { 'user-agent': 'mlops-upload-data' },
        // Connect to the address that was checked, not to a second DNS answer.
        lookup: (_host, opts, cb) => {
          if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }])
          else cb(null, address, family)
        },
      },
      resolve,
    )
    req.on('error', reject)
  })
}

/** The URL with any `user:password@` replaced by `***@`: credentials are never printed. */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^/@]*@/, '//***@')
  const u = new URL(url)
  if (!u.username && !u.password) return u.href
  u.username = '***'
  u.password = ''
  return u.href
}

function redactText(text: string, url: URL): string {
  let out = text
  for (const secret of [url.password, url.username].filter((s) => s.length > 0)) out = out.split(secret).join('***')
  return out
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
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

function sha256Of(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function recordMatches(rec: DownloadRecord, url: string): boolean {
  return rec.urlSha256 !== undefined ? rec.urlSha256 === sha256Of(url) : rec.url === url
}

/** True when `dest` holds what `fetchDataset` unpacked from `url` (dry runs use it to know the files without downloading). */
export async function unpackedFrom(workDir: string, dest: string, url: string): Promise<boolean> {
  const rec = (await readRecords(path.join(workDir, 'downloads.json')))[dest]
  if (!rec || !recordMatches(rec, url)) return false
  const there = await readdir(dest).then(
    (e) => e.length > 0,
    () => false,
  )
  return there
}
