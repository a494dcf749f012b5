import { mkdir, readdir, readFile, unlink, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateStore, type StateRecord } from '../../src/shared/state.js'
import { UserError } from '../../src/shared/errors.js'
import { fastClock, minimalConfig, tempProject } from '../helpers/cli.js'

/**
 * Issue 27: a long command's snapshot of .mlops/state.json overwrote what other commands recorded
 * meanwhile (`train-ec2` erased a `train --no-wait` record). Every change re-reads the file under
 * a lock file and writes it by atomic rename.
 */

const rec = (kind: StateRecord['kind'], name: string, region = 'us-east-1'): StateRecord => ({ kind, name, region, createdAt: '2026-12-01T00:00:00.000Z' })
/** A process id no Linux system hands out (pid_max is at most 2^22). */
const DEAD_PID = 99_999_999

async function project(): Promise<string> {
  return tempProject(minimalConfig())
}
const onDisk = async (dir: string) =>
  (JSON.parse(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')) as { resources: StateRecord[] }).resources
    .map((r) => `${r.kind}:${r.name}`)
    .sort()

describe('state.json under a lock (issue 27)', () => {
  it('a long command does not erase what another command recorded since it read the file', async () => {
    const dir = await project()
    const trainEc2 = new StateStore(dir)
    await trainEc2.record(rec('instance', 'i-0123'))
    expect(await trainEc2.all()).toHaveLength(1) // its snapshot, taken when it started
    await new StateStore(dir).record(rec('training-job', 'dogs-train-2026-12-01-10-00-00-000')) // train --no-wait, meanwhile
    await trainEc2.record(rec('model-artifact', 's3://dogs-data/output/dogs-ec2-2026-12-01-10-00-00-000/output/model.tar.gz'))
    await trainEc2.remove('instance', 'i-0123')
    expect(await onDisk(dir)).toEqual([
      'model-artifact:s3://dogs-data/output/dogs-ec2-2026-12-01-10-00-00-000/output/model.tar.gz',
      'training-job:dogs-train-2026-12-01-10-00-00-000',
    ])
  })

  it('changes made at the same time by many commands are all kept, and no lock or temporary file is left', async () => {
    const dir = await project()
    const stores = Array.from({ length: 24 }, () => new StateStore(dir))
    await Promise.all(stores.map((s) => s.all()))
    await Promise.all(stores.map((s, i) => s.record(rec('endpoint', `ep-${String(i).padStart(2, '0')}`))))
    expect(await onDisk(dir)).toEqual(Array.from({ length: 24 }, (_, i) => `endpoint:ep-${String(i).padStart(2, '0')}`))
    expect(await readdir(path.join(dir, '.mlops'))).toEqual(['state.json'])
  })

  it('waits a bounded time for a live lock, then stops naming its holder and the fix; nothing is written', async () => {
    const dir = await project()
    await mkdir(path.join(dir, '.mlops'))
    const lock = path.join(dir, '.mlops', 'state.json.lock')
    await writeFile(lock, JSON.stringify({ pid: process.pid, host: hostname(), at: '2026-12-01T10:00:00.000Z' }))
    const store = new StateStore(dir, { lockWaitMs: 150 })
    const err = await store.record(rec('endpoint', 'dogs-endpoint')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UserError)
    expect(err).toMatchObject({ code: 'StateLocked' })
    expect((err as Error).message).toContain(`is locked by another mlops command (process ${process.pid} on ${hostname()} since 2026-12-01T10:00:00.000Z)`)
    expect((err as UserError).hint).toContain(`delete ${lock}`)
    expect(await readdir(path.join(dir, '.mlops'))).toEqual(['state.json.lock'])
  })

  it('the wait runs on the injected clock: its deadline and its pauses are the clock’s, not the wall clock’s', async () => {
    const dir = await project()
    await mkdir(path.join(dir, '.mlops'))
    await writeFile(path.join(dir, '.mlops', 'state.json.lock'), JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() }))
    const clock = fastClock()
    const pauses: number[] = []
    const sleep = clock.sleep
    clock.sleep = (ms, signal) => {
      pauses.push(ms)
      return sleep(ms, signal)
    }
    const store = new StateStore(dir, { lockWaitMs: 600, clock })
    const err = await store.record(rec('endpoint', 'dogs-endpoint')).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'StateLocked' })
    expect((err as Error).message).toContain('waited 1 s')
    // Backing off 5, 10, 20, 40, then 50 ms a pause until 600 ms of the clock have passed.
    expect(pauses.slice(0, 6)).toEqual([5, 10, 20, 40, 50, 50])
    expect(pauses.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(600)
    expect(pauses.reduce((a, b) => a + b, 0)).toBeLessThan(650)
  })

  it('goes ahead as soon as the holder releases the lock', async () => {
    const dir = await project()
    const holder = new StateStore(dir)
    await holder.record(rec('endpoint', 'a'))
    await writeFile(holder.lockFile, JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() }))
    const waiting = new StateStore(dir, { lockWaitMs: 5_000 }).record(rec('endpoint', 'b'))
    await new Promise((r) => setTimeout(r, 60))
    expect(await onDisk(dir)).toEqual(['endpoint:a'])
    await unlink(holder.lockFile)
    await waiting
    expect(await onDisk(dir)).toEqual(['endpoint:a', 'endpoint:b'])
  })

  it('takes over a stale lock (its process is gone, or it is old) with a warning', async () => {
    for (const stale of [
      { pid: DEAD_PID, host: hostname(), at: new Date().toISOString() },
      { pid: 1, host: 'another-host', at: '2026-12-01T10:00:00.000Z', old: true },
    ]) {
      const dir = await project()
      await mkdir(path.join(dir, '.mlops'))
      const lock = path.join(dir, '.mlops', 'state.json.lock')
      await writeFile(lock, JSON.stringify(stale))
      if ('old' in stale) await utimes(lock, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000))
      const warnings: string[] = []
      await new StateStore(dir, { warn: (m) => warnings.push(m), lockWaitMs: 5_000 }).record(rec('endpoint', 'dogs-endpoint'))
      expect(await onDisk(dir)).toEqual(['endpoint:dogs-endpoint'])
      expect(warnings).toEqual([
        expect.stringContaining(`Took over a stale lock on ${path.join(dir, '.mlops', 'state.json')} (process ${stale.pid} on ${stale.host}`),
      ])
      expect(await readdir(path.join(dir, '.mlops'))).toEqual(['state.json'])
    }
  })
})
