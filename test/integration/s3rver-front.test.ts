import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'

/**
 * The upload benchmark's server front (bench/upload/s3rver-front.mjs): which requests s3rver serves and
 * which go to moto. s3rver itself is replaced by a stub package with the same entry points (the real one
 * is installed from the npm registry only when the benchmark runs), so what is checked is the routing.
 */

const FRONT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/upload/s3rver-front.mjs')

let dir: string
let moto: Server
let front: ChildProcess
let frontPort: number
const motoSeen: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mlops-front-'))
  const pkg = path.join(dir, 'pkg')
  await mkdir(path.join(pkg, 'lib/models'), { recursive: true })
  // The stub s3rver answers every request itself and says so; its log goes to a file the test reads.
  await writeFile(
    path.join(pkg, 'lib/s3rver.js'),
    `const fs = require('node:fs')
const log = (line) => fs.appendFileSync(${JSON.stringify(path.join(dir, 's3rver.log'))}, line + '\\n')
module.exports = class S3rver {
  constructor(options) { log('options ' + JSON.stringify(options)) }
  callback() { return (req, res) => { log(req.method + ' ' + req.url); res.writeHead(200, { 'x-served-by': 's3rver' }).end() } }
  reset() { log('reset') }
}\n`,
  )
  await writeFile(
    path.join(pkg, 'lib/models/account.js'),
    `const keys = new Map()
module.exports = { registry: new Map([['S3RVER', { createKeyPair: (id, secret) => keys.set(id, secret) }]]) }\n`,
  )
  moto = createServer((req, res) => {
    motoSeen.push(`${req.method} ${req.url}`)
    req.resume()
    req.on('end', () => res.writeHead(200, { 'x-served-by': 'moto', connection: 'close' }).end('<ok/>'))
  })
  await new Promise<void>((resolve) => moto.listen(0, '127.0.0.1', resolve))
  const motoPort = (moto.address() as AddressInfo).port
  front = spawn(process.execPath, [FRONT, pkg, path.join(dir, 'storage'), '0', `http://127.0.0.1:${motoPort}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  frontPort = await new Promise<number>((resolve, reject) => {
    front.stdout!.on('data', (d: Buffer) => {
      const m = /^ready (\d+)/.exec(String(d))
      if (m) resolve(Number(m[1]))
    })
    front.once('exit', (code) => reject(new Error(`front exited ${code}`)))
  })
})

afterAll(async () => {
  front?.kill()
  await new Promise<void>((resolve) => moto.close(() => resolve()))
  await rm(dir, { recursive: true, force: true })
})

beforeEach(async () => {
  motoSeen.length = 0
  await rm(path.join(dir, 's3rver.log'), { force: true })
})

async function s3rverSeen(): Promise<string[]> {
  const { readFile } = await import('node:fs/promises')
  const text = await readFile(path.join(dir, 's3rver.log'), 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l && !l.startsWith('options '))
}

function send(method: string, url: string, body?: string): Promise<{ status: number; servedBy: string; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: frontPort, method, path: url, headers: { host: 'bench' } }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, servedBy: String(res.headers['x-served-by']), connection: res.headers.connection }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('the upload benchmark s3rver front', () => {
  it('serves objects, listings and HeadBucket with s3rver alone', async () => {
    expect((await send('PUT', '/bench-mlops/data/train/001.A/a.jpg?x-id=PutObject', 'jpeg')).servedBy).toBe('s3rver')
    expect((await send('GET', '/bench-mlops?list-type=2&prefix=data%2F')).servedBy).toBe('s3rver')
    expect((await send('HEAD', '/bench-mlops')).servedBy).toBe('s3rver')
    expect(await s3rverSeen()).toEqual([
      'PUT /bench-mlops/data/train/001.A/a.jpg?x-id=PutObject',
      'GET /bench-mlops?list-type=2&prefix=data%2F',
      'HEAD /bench-mlops',
    ])
    expect(motoSeen).toEqual([])
  })

  it("passes the bucket settings s3rver lacks to moto, and keeps the client's connection open although moto closes its own", async () => {
    for (const q of ['publicAccessBlock', 'encryption', 'policy', 'tagging', 'lifecycle', 'acl']) {
      const res = await send(q === 'acl' || q === 'policy' ? 'GET' : 'PUT', `/bench-mlops?${q}`, q === 'acl' || q === 'policy' ? undefined : '<x/>')
      expect(res).toMatchObject({ status: 200, servedBy: 'moto' })
      expect(res.connection).not.toBe('close')
    }
    expect(motoSeen).toEqual([
      'PUT /bench-mlops?publicAccessBlock',
      'PUT /bench-mlops?encryption',
      'GET /bench-mlops?policy',
      'PUT /bench-mlops?tagging',
      'PUT /bench-mlops?lifecycle',
      'GET /bench-mlops?acl',
    ])
    expect(await s3rverSeen()).toEqual([])
  })

  it('an object-level ?tagging stays with s3rver (only bucket-level settings go to moto)', async () => {
    expect((await send('GET', '/bench-mlops/data/a.jpg?tagging')).servedBy).toBe('s3rver')
    expect(motoSeen).toEqual([])
  })

  it('creates a bucket in both (moto must know it for its settings), answering with s3rver', async () => {
    const res = await send('PUT', '/bench-mlops')
    expect(res.servedBy).toBe('s3rver')
    expect(motoSeen).toEqual(['PUT /bench-mlops'])
    expect(await s3rverSeen()).toEqual(['PUT /bench-mlops'])
  })

  it('POST /__bench/reset empties both, then builds moto’s lazy S3 state on a throwaway bucket it removes again', async () => {
    expect((await send('POST', '/__bench/reset')).status).toBe(200)
    expect(await s3rverSeen()).toEqual(['reset'])
    // The first CreateBucket and PutPublicAccessBlock after a reset cost moto 170 and 500+ ms: paid here,
    // before any tool is timed, not by whichever tool touches a bucket setting first.
    expect(motoSeen).toEqual([
      'POST /moto-api/reset',
      'PUT /mlops-bench-warm-up',
      'PUT /mlops-bench-warm-up?publicAccessBlock',
      'GET /mlops-bench-warm-up?acl',
      'DELETE /mlops-bench-warm-up',
    ])
  })
})
