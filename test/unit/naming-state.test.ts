import { describe, expect, it } from 'vitest'
import { longTimestamp, projectTags, resourceNames, shortTimestamp, uniqueName } from '../../src/shared/naming.js'
import { StateStore } from '../../src/shared/state.js'
import { parseConfigText } from '../../src/config/load.js'
import { parseDuration, formatDuration } from '../../src/shared/duration.js'
import { pollUntil } from '../../src/shared/clock.js'
import { estimateCost, formatUsd } from '../../src/shared/pricing.js'
import { fastClock, minimalConfig, tempProject } from '../helpers/cli.js'

const when = new Date(Date.UTC(2026, 10, 22, 9, 5, 7, 42))

describe('naming', () => {
  it('timestamps match the SageMaker SDK formats', () => {
    expect(longTimestamp(when)).toBe('2026-11-22-09-05-07-042')
    expect(shortTimestamp(when)).toBe('261122-0905')
  })
  it('unique names fit the limit by trimming the base, never the timestamp', () => {
    const name = uniqueName('a'.repeat(80), when, 63)
    expect(name).toHaveLength(63)
    expect(name.endsWith('-2026-11-22-09-05-07-042')).toBe(true)
    expect(uniqueName('dogs-tune', when, 32, shortTimestamp)).toBe('dogs-tune-261122-0905')
  })
  it('fixed names and tags derive from the project', () => {
    const cfg = parseConfigText(minimalConfig(), 'x')
    expect(resourceNames(cfg)).toMatchObject({ endpoint: 'dogs-endpoint', lambdaFunction: 'dogs-invoke', lambdaRole: 'dogs-lambda' })
    expect(projectTags('dogs')).toEqual([
      { Key: 'mlops:project', Value: 'dogs' },
      { Key: 'mlops:managed-by', Value: 'mlops' },
    ])
  })
})

describe('state file', () => {
  it('records, replaces, finds the latest and removes', async () => {
    const dir = await tempProject()
    const store = new StateStore(dir)
    expect(await store.all()).toEqual([])
    await store.record({ kind: 'training-job', name: 'a', region: 'us-east-1', createdAt: '2026-01-01T00:00:00Z' })
    await store.record({ kind: 'training-job', name: 'b', region: 'us-east-1', createdAt: '2026-01-02T00:00:00Z' })
    await store.record({ kind: 'training-job', name: 'a', region: 'us-east-1', createdAt: '2026-01-01T00:00:00Z', details: { status: 'Completed' } })
    const fresh = new StateStore(dir)
    expect((await fresh.list('training-job')).map((r) => r.name).sort()).toEqual(['a', 'b'])
    expect((await fresh.latest('training-job'))?.name).toBe('b')
    await fresh.remove('training-job', 'b')
    expect((await new StateStore(dir).latest('training-job'))?.details).toEqual({ status: 'Completed' })
  })
})

describe('durations, polling and prices', () => {
  it('parses and formats durations', () => {
    expect(parseDuration('2h')).toBe(7200)
    expect(parseDuration('1h30m')).toBe(5400)
    expect(parseDuration('45')).toBe(45)
    expect(() => parseDuration('2 hours')).toThrow(/not a duration/)
    expect(() => parseDuration(0)).toThrow()
    expect(formatDuration(5400)).toBe('1h30m')
    expect(formatDuration(75)).toBe('1m15s')
  })

  it('pollUntil reports status changes and stops at the deadline', async () => {
    const seen: string[] = []
    let n = 0
    const done = await pollUntil({
      check: async () => ({ done: ++n >= 3, value: n, status: n < 3 ? 'Creating' : 'InService' }),
      timeoutMs: 60_000,
      intervalMs: 10_000,
      clock: fastClock(),
      what: 'x',
      onStatus: (s) => seen.push(s),
    })
    expect(done).toBe(3)
    expect(seen).toEqual(['Creating', 'InService'])
    await expect(
      pollUntil({
        check: async () => ({ done: false, value: 0, status: 'Creating' }),
        timeoutMs: 30_000,
        intervalMs: 10_000,
        clock: fastClock(),
        what: 'endpoint e to be InService',
        rerunHint: 'Check with: mlops status',
      }),
    ).rejects.toMatchObject({ code: 'DeadlineReached', hint: 'It is still running on AWS. Check with: mlops status' })
  })

  it('pollUntil stops on abort', async () => {
    const ac = new AbortController()
    ac.abort()
    await expect(
      pollUntil({ check: async () => ({ done: false, value: 0 }), timeoutMs: 1e6, intervalMs: 1, clock: fastClock(), signal: ac.signal, what: 'x' }),
    ).rejects.toMatchObject({ code: 'Interrupted' })
  })

  it('estimates cost from the table and says when a price is unknown', () => {
    expect(estimateCost('ml.g4dn.xlarge', 4, 3600)).toBeCloseTo(2.944)
    expect(formatUsd(estimateCost('ml.x99.huge', 1, 3600))).toBe('price unknown')
  })
})
