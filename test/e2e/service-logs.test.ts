import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsClientFactory } from '../../src/aws/clients.js'
import { runCli } from '../../src/cli.js'
import type { Clock } from '../../src/shared/clock.js'
import { InterruptedError } from '../../src/shared/errors.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `mlops logs --endpoint/--lambda` on moto: the endpoint's log group with two streams (one per
 * instance), read with FilterLogEvents. Time is real (moto stamps nothing; the events carry our
 * timestamps), but every wait is a few milliseconds and every run is bounded.
 */

const GROUP = '/aws/sagemaker/Endpoints/dogs-endpoint'
const STREAMS = ['AllTraffic/i-0aaa', 'AllTraffic/i-0bbb']

let moto: MotoServer
let logs: CloudWatchLogsClient
let dir: string
beforeAll(async () => {
  moto = await startMoto()
  logs = new CloudWatchLogsClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => moto?.stop())
beforeEach(async () => {
  await moto.reset()
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }))
  for (const s of STREAMS) await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: s }))
  dir = await tempProject(minimalConfig())
})

const put = (stream: string, events: { timestamp: number; message: string }[]) =>
  logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, logEvents: events }))

/** Real time, but a poll interval of 20 ms whatever the command asks for (still aborts on the signal). */
const pause = (signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError())
    const t = setTimeout(resolve, 20)
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new InterruptedError())), { once: true })
  })
const quickClock: Clock = { now: () => Date.now(), sleep: (_ms, signal) => pause(signal) }

/**
 * quickClock with a gate: while it is held, the follow loop parks in its sleep, so events put into
 * two streams land between two polls (a poll between the two puts would print one stream's lines
 * first; that is tailing, not a bug, but it would make the order this test asserts depend on luck).
 */
function gatedClock() {
  let held: Promise<void> | undefined
  let release = () => undefined as void
  let parked = 0
  const clock: Clock = {
    now: () => Date.now(),
    sleep: async (_ms, signal) => {
      await pause(signal)
      parked++
      if (held) await held
      parked--
    },
  }
  return {
    clock,
    hold: async () => {
      held = new Promise<void>((r) => (release = r))
      for (let i = 0; i < 500 && parked === 0; i++) await new Promise((r) => setTimeout(r, 5))
    },
    release: () => {
      held = undefined
      release()
    },
  }
}

describe('mlops logs --endpoint on moto', () => {
  it('--since and --filter read both streams in time order; --json is one document', async () => {
    const now = Date.now()
    await put(STREAMS[0], [
      { timestamp: now - 3 * 3_600_000, message: 'ERROR too old for --since 1h' },
      { timestamp: now - 50_000, message: 'ERROR model load slow' },
      { timestamp: now - 30_000, message: 'INFO ping ok' },
    ])
    await put(STREAMS[1], [{ timestamp: now - 40_000, message: 'ERROR out of memory' }])
    const env = motoEnv(moto.endpoint)
    const r = await runMlops(['logs', '--endpoint', '--since', '1h', '--filter', 'ERROR'], { cwd: dir, env, clock: quickClock })
    expect(r.code, r.stderr).toBe(0)
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+ /, '')),
    ).toEqual(['[AllTraffic/i-0aaa] ERROR model load slow', '[AllTraffic/i-0bbb] ERROR out of memory'])
    const j = await runMlops(['logs', '--endpoint', '--since', '1h', '--json'], { cwd: dir, env, clock: quickClock })
    expect(j.code, j.stderr).toBe(0)
    const doc = j.json() as { logGroup: string; events: { timestamp: string; stream: string; message: string }[] }
    expect(doc.logGroup).toBe(GROUP)
    expect(doc.events.map((e) => [e.stream, e.message])).toEqual([
      ['AllTraffic/i-0aaa', 'ERROR model load slow'],
      ['AllTraffic/i-0bbb', 'ERROR out of memory'],
      ['AllTraffic/i-0aaa', 'INFO ping ok'],
    ])
    expect(doc.events[0].timestamp).toBe(new Date(now - 50_000).toISOString())
  }, 30_000)

  it('a missing log group (the Lambda never ran) is exit 2 with a hint', async () => {
    const r = await runMlops(['logs', '--lambda'], { cwd: dir, env: motoEnv(moto.endpoint), clock: quickClock })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('No log group /aws/lambda/dogs-invoke: the function dogs-invoke has not logged yet, or does not exist.')
    expect(r.stderr).toContain('hint:')
  }, 30_000)

  it('--follow prints lines put after it started, in time order across streams, and stops on Ctrl-C', async () => {
    let stdout = ''
    let stderr = ''
    const ac = new AbortController()
    const started = Date.now()
    const gate = gatedClock()
    const running = runCli(['logs', '--endpoint', '--follow', '--since', '1s', '--timeout', '30s'], {
      stdout: { write: (s: string) => (stdout += s), isTTY: false },
      stderr: { write: (s: string) => (stderr += s), isTTY: false },
      stdinIsTTY: false,
      env: { ...process.env, ...motoEnv(moto.endpoint), NO_COLOR: '1', MLOPS_PREFLIGHT: 'off', MLOPS_PRICE_LIST: 'off' },
      cwd: dir,
      clock: gate.clock,
      signal: ac.signal,
      awsFactory: (s) => createAwsClientFactory({ ...s, maxAttempts: 1 }),
      version: '0.0.0-test',
    })
    const until = async (what: () => boolean, label: string) => {
      for (let i = 0; i < 500 && !what(); i++) await new Promise((r) => setTimeout(r, 20))
      if (!what()) throw new Error(`timed out waiting for ${label}; stdout:\n${stdout}\nstderr:\n${stderr}`)
    }
    await until(() => stderr.includes('Following'), 'the follow to start')
    await new Promise((r) => setTimeout(r, 100)) // a poll or two with nothing new
    // Interleaved across the two streams, and put out of time order, stream by stream.
    await gate.hold()
    const t = Date.now()
    await put(STREAMS[1], [
      { timestamp: t + 1, message: 'b-1' },
      { timestamp: t + 3, message: 'b-3' },
    ])
    await put(STREAMS[0], [
      { timestamp: t, message: 'a-0' },
      { timestamp: t + 2, message: 'a-2' },
    ])
    gate.release()
    await until(() => stdout.trim().split('\n').length >= 4, 'four lines')
    await new Promise((r) => setTimeout(r, 100)) // more polls: nothing is printed twice
    ac.abort()
    const code = await running
    expect(code).toBe(130)
    expect(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^\S+ /, '')),
    ).toEqual(['[AllTraffic/i-0aaa] a-0', '[AllTraffic/i-0bbb] b-1', '[AllTraffic/i-0aaa] a-2', '[AllTraffic/i-0bbb] b-3'])
    expect(stderr).toContain(`stopped following ${GROUP} after 4 lines`)
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 30_000)
})
