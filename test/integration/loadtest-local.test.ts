import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../../src/shared/clock.js'
import { noAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/** `loadtest --local` on the real clock against a loopback server (moved from test/unit/loadtest-cli.test.ts: real time). */
const ANSWER = { predictions: [{ label: 'Beagle', index: 15, probability: 0.9 }] }
const SAMPLE_BYTES = 14776

describe('loadtest --local (a loopback server, real time)', () => {
  let server: http.Server | undefined
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())))

  /** Answers after 5 ms; every 10th request gets a 503. Counts what it saw. */
  async function startServer(): Promise<{ port: number; seen: { count: number; paths: Set<string>; bytes: Set<number> } }> {
    const seen = { count: 0, paths: new Set<string>(), bytes: new Set<number>() }
    server = http.createServer((req, res) => {
      const n = ++seen.count
      seen.paths.add(`${req.method} ${req.url} ${req.headers['content-type']}`)
      let size = 0
      req.on('data', (chunk: Buffer) => (size += chunk.length))
      req.on('end', () => {
        seen.bytes.add(size)
        setTimeout(() => {
          res.writeHead(n % 10 === 0 ? 503 : 200, { 'Content-Type': 'application/json' })
          res.end(JSON.stringify(ANSWER))
        }, 5)
      })
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return { port: (server!.address() as AddressInfo).port, seen }
  }

  it('needs no --yes, posts to the SageMaker runtime path and stays within its bounds', async () => {
    const { port, seen } = await startServer()
    const dir = await tempProject(minimalConfig())
    const started = Date.now()
    const run = await runMlops(
      ['loadtest', '--local', '--port', String(port), '--json', '--duration', '400ms', '--concurrency', '1,4', '--max-requests', '60'],
      {
        cwd: dir,
        clock: systemClock,
        awsFactory: noAwsFactory(),
      },
    )
    expect(run.code, run.stderr).toBe(0)
    expect(Date.now() - started).toBeLessThan(2000)
    const doc = run.json()
    expect(doc.target).toEqual({ kind: 'local', name: 'dogs-endpoint', url: `http://127.0.0.1:${port}/endpoints/dogs-endpoint/invocations` })
    expect([...seen.paths]).toEqual(['POST /endpoints/dogs-endpoint/invocations image/jpeg'])
    expect([...seen.bytes]).toEqual([SAMPLE_BYTES])
    const total = doc.levels.reduce((a: number, l: { requests: number }) => a + l.requests, 0)
    expect(total).toBe(seen.count)
    expect(total).toBeLessThanOrEqual(60)
    const failed = doc.levels.reduce((a: number, l: { errors: Record<string, number> }) => a + (l.errors['503'] ?? 0), 0)
    expect(failed).toBe(Math.floor(seen.count / 10))
    for (const l of doc.levels) if (l.p50Ms !== null) expect(l.p50Ms).toBeGreaterThanOrEqual(4.5)
  })

  it('says how to start the server when nothing listens', async () => {
    const { port } = await startServer()
    await new Promise<void>((resolve) => server!.close(() => resolve()))
    server = undefined
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['loadtest', '--local', '--port', String(port), '--duration', '1s'], {
      cwd: dir,
      clock: systemClock,
      awsFactory: noAwsFactory(),
    })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(new RegExp(`Nothing answers at http://127.0.0.1:${port}`))
    expect(run.stderr).toMatch(/mlops serve/)
  })
})
