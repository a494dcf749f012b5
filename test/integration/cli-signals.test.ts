import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { datasetProject, fakeS3, type FakeS3 } from '../helpers/loopback.js'

/**
 * The real process, as a shell and a terminal meet it: real signals, a reader that closes the pipe
 * early, a pty with zero columns. The CLI runs from source through tsx; AWS is a loopback fake S3
 * (127.0.0.1 only) whose answers each test controls, so a command can be caught mid-flight.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const TSX = path.join(ROOT, 'node_modules/tsx/dist/loader.mjs')
const BIN = path.join(ROOT, 'src/bin.ts')
const MLOPS = `'${process.execPath}' --import '${TSX}' '${BIN}'`

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

  it.skipIf(!existsSync('/dev/full'))('`mlops --version > /dev/full` says it could not write, in one line, and exits 1 (no stack trace)', async () => {
    const run = await sh(`${MLOPS} --version > /dev/full; echo "rc=$?"`)
    expect(run.stdout).toBe('rc=1\n')
    expect(run.stderr).toBe(
      '✖ Cannot write to standard output: no space left on device, write (ENOSPC). The command stopped; free space where the output goes, or send it elsewhere.\n',
    )
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
