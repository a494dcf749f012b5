import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile, mkdir } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { minimalConfig, tempProject } from '../helpers/cli.js'

/**
 * The real process, as a shell and a terminal meet it: real signals, a reader that closes the pipe
 * early, a pty with zero columns. The CLI runs from source through tsx; AWS is a loopback fake S3
 * (127.0.0.1 only) whose answers each test controls, so a command can be caught mid-flight.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')
const BIN = path.join(ROOT, 'src/bin.ts')
const MLOPS = `'${process.execPath}' --import '${TSX}' '${BIN}'`

interface FakeS3 {
  readonly url: string
  readonly requests: string[]
  /** Resolves when a request matching `pattern` has arrived. */
  arrived(pattern: RegExp): Promise<void>
  close(): Promise<void>
}

/** HeadBucket says 404, bucket set-up succeeds, and every object upload hangs when `hangUploads`. */
async function fakeS3({ hangUploads }: { hangUploads: boolean }): Promise<FakeS3> {
  const requests: string[] = []
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    for (const w of waiters.filter((x) => requests.some((r) => x.pattern.test(r)))) w.resolve()
    req.resume()
    const isObject = /^\/dogs-data\/data\//.test(req.url ?? '')
    if (isObject && hangUploads) return // never answered: the command is mid-flight
    if (req.method === 'HEAD') res.statusCode = 404
    res.setHeader('content-type', 'application/xml')
    res.end(req.method === 'GET' ? '<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>' : '')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    arrived: (pattern) => new Promise((resolve) => (requests.some((r) => pattern.test(r)) ? resolve() : waiters.push({ pattern, resolve }))),
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

async function datasetProject(): Promise<string> {
  const dir = await tempProject(minimalConfig())
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 0x30)])
  for (const split of ['train', 'valid', 'test'])
    for (const cls of ['001.A', '002.B']) {
      await mkdir(path.join(dir, 'dogImages', split, cls), { recursive: true })
      await writeFile(path.join(dir, 'dogImages', split, cls, 'x.jpg'), jpeg)
    }
  return dir
}

const awsEnv = (endpoint: string) => ({
  ...process.env,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: endpoint,
  NO_COLOR: '1',
  CI: '',
})

interface Exit {
  code: number | null
  stdout: string
  stderr: string
}

function sh(script: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Exit> {
  const child = spawn('bash', ['-c', script], { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env })
  return collect(child)
}

function collect(child: ReturnType<typeof spawn>): Promise<Exit> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}

let servers: FakeS3[] = []
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()))
  servers = []
})
const server = async (o: { hangUploads: boolean }) => {
  const s = await fakeS3(o)
  servers.push(s)
  return s
}

describe('output that ends early', () => {
  it('`mlops --help | head -1` prints the first line and exits 0 without an EPIPE trace', async () => {
    const run = await sh(`${MLOPS} --help | head -1; echo "rc=\${PIPESTATUS[0]}"`)
    expect(run.stdout).toBe('Usage: mlops [options] [command]\nrc=0\n')
    expect(run.stderr).toBe('')
  })

  it('a reader that closes mid-command aborts it (no upload starts) and exits 141, quietly', async () => {
    const s3 = await server({ hangUploads: true })
    const dir = await datasetProject()
    const run = await sh(`${MLOPS} upload-data --yes 2>&1 | head -1; echo "rc=\${PIPESTATUS[0]}"`, { cwd: dir, env: awsEnv(s3.url) })
    expect(run.stdout).toMatch(/^› Dataset .*dogImages: 2 classes, 6 images/)
    expect(run.stdout).toMatch(/\nrc=141\n$/)
    expect(run.stderr).toBe('')
    expect(s3.requests.filter((r) => r.includes('x-id=PutObject'))).toEqual([])
  })
})

describe('signals', () => {
  it.each([
    ['SIGINT', 130, 'Interrupted: cleaning up (press Ctrl-C again to exit at once)…'],
    ['SIGTERM', 143, 'Received SIGTERM: cleaning up (send SIGTERM again to exit at once)…'],
    ['SIGHUP', 129, 'Received SIGHUP: cleaning up (send SIGHUP again to exit at once)…'],
  ] as const)('%s mid-upload cancels the uploads and exits %i', async (signal, code, notice) => {
    const s3 = await server({ hangUploads: true })
    const dir = await datasetProject()
    const child = spawn(process.execPath, ['--import', TSX, BIN, 'upload-data', '--yes'], { cwd: dir, env: awsEnv(s3.url) })
    const exit = collect(child)
    await s3.arrived(/x-id=PutObject/) // the first upload is in flight
    child.kill(signal)
    const run = await exit
    expect(run.code, run.stderr).toBe(code)
    expect(run.stderr).toContain(notice)
    expect(run.stderr).toMatch(/✖ Interrupted after uploading 0 of 6 files .*in-flight uploads were cancelled/)
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('a terminal with zero columns', () => {
  it.skipIf(!process.env.PATH?.split(':').some((d) => existsSync(path.join(d, 'script'))))(
    'is not interactive: plain progress lines, no redraws, and the command finishes',
    async () => {
      const s3 = await server({ hangUploads: false })
      const dir = await datasetProject()
      // script(1) gives the CLI a pty; piped into cat, that pty has 0 columns.
      const run = await sh(`script -qec "${MLOPS.replaceAll("'", '')} upload-data --yes" /dev/null < /dev/null | cat; echo "rc=\${PIPESTATUS[0]}"`, {
        cwd: dir,
        env: awsEnv(s3.url),
      })
      expect(run.stdout).toMatch(/rc=0\n$/)
      expect(run.stdout).toMatch(/✔ s3:\/\/dogs-data\/data\/ is in sync with .*: 6 uploaded/)
      expect(run.stdout).not.toContain('\x1b[2K') // the interactive bar's redraw
      expect(run.stdout).not.toContain('\x1b[?25l') // ora hiding the cursor
    },
    30_000,
  )
})
