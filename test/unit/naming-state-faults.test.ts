import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { StateStore } from '../../src/shared/state.js'
import { noAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const NOW = Date.parse('2026-12-01T10:20:30.456Z')
const rec = { kind: 'endpoint', name: 'dogs-endpoint', region: 'us-east-1', createdAt: '2026-11-01T00:00:00Z' } as const

async function withState(text: string): Promise<string> {
  const dir = await tempProject(minimalConfig())
  await mkdir(path.join(dir, '.mlops'))
  await writeFile(path.join(dir, '.mlops', 'state.json'), text)
  return dir
}

describe('state.json faults (issue 19)', () => {
  it('a corrupt file is set aside as state.json.corrupt-<time> with a warning, not overwritten', async () => {
    const dir = await withState('{"version": 1, "resources": [')
    const warnings: string[] = []
    const store = new StateStore(dir, { warn: (m) => warnings.push(m), clock: { now: () => NOW, sleep: () => Promise.resolve() } })
    expect(await store.all()).toEqual([])
    const aside = 'state.json.corrupt-2026-12-01T10-20-30-456Z'
    expect(await readdir(path.join(dir, '.mlops'))).toEqual([aside])
    expect(await readFile(path.join(dir, '.mlops', aside), 'utf8')).toBe('{"version": 1, "resources": [')
    expect(warnings).toEqual([expect.stringContaining(`was not valid JSON; set it aside as ${path.join(dir, '.mlops', aside)}`)])
    await store.record(rec)
    expect(JSON.parse(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')).resources).toEqual([rec])
  })

  it('an unknown version is refused and the file is not rewritten', async () => {
    const text = JSON.stringify({ version: 2, resources: [], newField: true })
    const dir = await withState(text)
    const store = new StateStore(dir)
    await expect(store.all()).rejects.toMatchObject({
      code: 'StateVersionUnknown',
      message: expect.stringContaining('has version 2; this mlops reads version 1'),
    })
    await expect(store.record(rec)).rejects.toMatchObject({ code: 'StateVersionUnknown' })
    expect(await readFile(path.join(dir, '.mlops', 'state.json'), 'utf8')).toBe(text)
  })

  it.each([
    [{ version: 1, resources: [{ ...rec, name: 5 }] }, 'resources[0].name must be a string, got number'],
    [{ version: 1, resources: [rec, { ...rec, details: 'x' }] }, 'resources[1].details must be an object, got string'],
    [{ version: 1, resources: [null] }, 'resources[0] must be an object, got null'],
    [{ version: 1, resources: {} }, '"resources" must be a list, got object'],
  ])('wrong-typed records are a named error: %j', async (state, message) => {
    const store = new StateStore(await withState(JSON.stringify(state)))
    await expect(store.all()).rejects.toMatchObject({ code: 'StateInvalid', message: expect.stringContaining(message) })
  })

  it('status with a wrong-typed record exits 2 naming the record, before any AWS call', async () => {
    const dir = await withState(JSON.stringify({ version: 1, resources: [{ ...rec, name: 5 }] }))
    const run = await runMlops(['status'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('resources[0].name must be a string, got number')
    expect(run.stderr).not.toContain('Unexpected error')
  })

  it('checkWritable fails on a state.json that is a folder; teardown stops before any AWS call', async () => {
    const dir = await tempProject(minimalConfig())
    await mkdir(path.join(dir, '.mlops', 'state.json'), { recursive: true })
    await expect(new StateStore(dir).checkWritable()).rejects.toMatchObject({ code: 'StateNotWritable' })
    const run = await runMlops(['teardown', '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('Nothing was changed in AWS.')
  })

  it('checkWritable passes where the state can be written, and leaves no probe behind', async () => {
    const dir = await tempProject(minimalConfig())
    await new StateStore(dir).checkWritable()
    expect(await readdir(path.join(dir, '.mlops'))).toEqual([])
  })
})
