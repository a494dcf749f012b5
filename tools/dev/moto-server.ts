import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Starts the local AWS emulator (moto with the shims in emulator/moto_server.py) for the
 * end-to-end tests and for `npm run demo`.
 *
 * A moto server per test file, on a free loopback port, with the launcher's shims
 * (emulator/moto_server.py). `reset()` clears all AWS state between tests.
 */
export interface MotoServer {
  readonly endpoint: string
  readonly port: number
  reset(): Promise<void>
  stop(): Promise<void>
  /** POST /moto-api/static/sagemaker/endpoint-results: the next InvokeEndpoint answers. */
  setEndpointResults(results: { Body: string; ContentType?: string }[], region?: string): Promise<void>
  /** POST /moto-api/static/lambda-simple/response: the next Lambda Invoke answers. */
  setLambdaResults(results: string[], region?: string): Promise<void>
}

// src/dev/ and dist/dev/ are both two levels below the package root.
const LAUNCHER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../emulator/moto_server.py')
const PYTHON = process.env.MOTO_PYTHON ?? 'python3'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => resolve(port))
    })
  })
}

export async function startMoto(): Promise<MotoServer> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const child: ChildProcess = spawn(PYTHON, [LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000)
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const res = await fetch(`${endpoint}/moto-api/`)
      if (res.ok) break
    } catch {
      // not up yet
    }
    const code = await Promise.race([exited, new Promise<'pending'>((r) => setTimeout(() => r('pending'), 150))])
    if (code !== 'pending') throw new Error(`moto server exited (${code}) before it was ready. Is moto installed for ${PYTHON}? stderr:\n${stderr}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`moto server did not start within 30s on ${endpoint}. stderr:\n${stderr}`)
    }
  }
  const post = async (p: string, body: unknown) => {
    const res = await fetch(`${endpoint}${p}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body) })
    if (!res.ok) throw new Error(`moto ${p} answered ${res.status}: ${await res.text()}`)
  }
  return {
    endpoint,
    port,
    reset: () => post('/moto-api/reset', undefined),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))])
        if (child.exitCode === null) child.kill('SIGKILL')
      }
    },
    setEndpointResults: (results, region = 'us-east-1') => post('/moto-api/static/sagemaker/endpoint-results', { results, region }),
    setLambdaResults: (results, region = 'us-east-1') => post('/moto-api/static/lambda-simple/response', { results, region }),
  }
}

/** Connection settings for the SDK pointed at moto (one attempt: moto answers 500 for missing ops). */
export function motoClientConfig(endpoint: string, region = 'us-east-1') {
  return {
    endpoint,
    region,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  }
}

/** Environment for running the CLI against moto with dummy credentials. */
export function motoEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: endpoint,
    // Keep a developer's real profile and config files out of the tests.
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  }
}
