import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fetchDataset } from '../../src/features/dataset/download.js'
import { exitCodeFor, MlopsError } from '../../src/shared/errors.js'
import { Ui } from '../../src/shared/output.js'
import { fastClock } from '../helpers/cli.js'

/**
 * Issue 27: `upload-data --from-url` with a host whose DNS answer mixes a public address and a local
 * one (127.0.0.1, 169.254.169.254) is refused: taking the answer's local kind as the origin's let a
 * redirect follow into loopback. Runs a real HTTP server on 127.0.0.1; "mixed.example" is resolved by
 * the test's resolver and its public address dialled on 127.0.0.1.
 */
let server: http.Server
let port = 0
let fetched: string[] = []

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-mixed-'))
  const zipFile = path.join(dir, 'ok.zip')
  execFileSync('python3', ['-c', 'import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.writestr("dogImages/train/001.A/a.jpg", "aaa")', zipFile])
  const zip = await readFile(zipFile)
  server = http.createServer((req, res) => {
    fetched.push(req.url ?? '')
    if (req.url === '/start.zip') res.writeHead(302, { location: `http://127.0.0.1:${port}/secret.zip` }).end()
    else res.writeHead(200, { 'content-length': String(zip.length) }).end(zip)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

const ui = () =>
  new Ui({ stdout: { write: () => true }, stderr: { write: () => true }, json: false, debug: false, color: false, env: {}, clock: fastClock(), yes: true })

async function attempt(url: string, answer: string[]) {
  const work = await mkdtemp(path.join(os.tmpdir(), 'mlops-mixed-'))
  return fetchDataset({
    url,
    dest: path.join(work, 'd'),
    workDir: path.join(work, '.mlops'),
    resolve: async () => answer,
    dial: (ip) => (ip.startsWith('93.184.') ? '127.0.0.1' : ip),
    signal: new AbortController().signal,
    ui: ui(),
  }).then(
    () => undefined,
    (e: unknown) => e,
  )
}

describe('--from-url and a DNS answer that mixes public and local addresses', () => {
  it.each([
    [['93.184.216.34', '127.0.0.1'], 'both a public address 93.184.216.34 and a loopback address 127.0.0.1'],
    [['93.184.216.34', '169.254.169.254'], 'both a public address 93.184.216.34 and a link-local address 169.254.169.254'],
    [['127.0.0.1', '93.184.216.34'], 'both a loopback address 127.0.0.1 and a public address 93.184.216.34'],
  ])('%j is refused before any request, so no redirect can reach loopback', async (answer, why) => {
    fetched = []
    const err = await attempt(`http://mixed.example:${port}/start.zip`, answer)
    expect(err).toBeInstanceOf(MlopsError)
    const e = err as MlopsError
    expect(e.code).toBe('DownloadRefused')
    expect(exitCodeFor(e)).toBe(2)
    expect(e.message).toBe(`Refusing http://mixed.example:${port}/start.zip: mixed.example resolves to ${why}; nothing was downloaded.`)
    expect(fetched).toEqual([])
  })

  it('a public-only answer still may not redirect to loopback', async () => {
    fetched = []
    const err = (await attempt(`http://mixed.example:${port}/start.zip`, ['93.184.216.34'])) as MlopsError
    expect(err.code).toBe('DownloadRefused')
    expect(fetched).toEqual(['/start.zip'])
  })
})
