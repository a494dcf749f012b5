import { readdir, readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { noAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const NO_AWS = { awsFactory: noAwsFactory('clean never calls AWS') }
const KB = (n: number) => Buffer.alloc(n * 1024)

/** Two local runs as train --local lays them out: one the state references, one it does not; and a serve download. */
async function project(): Promise<string> {
  const run = (job: string) => ({
    [`.mlops/local/${job}/model.tar.gz`]: KB(10),
    [`.mlops/local/${job}/model/model.pth`]: KB(20),
    [`.mlops/local/${job}/checkpoints/best-model.pth`]: KB(20),
    [`.mlops/local/${job}/checkpoints/checkpoint-epoch0002.pt`]: KB(30),
    [`.mlops/local/${job}/checkpoints/checkpoint-epoch0003.pt`]: KB(30),
  })
  const state = {
    version: 1,
    resources: [
      {
        kind: 'local-model',
        name: 'dogs-local-1',
        region: 'local',
        createdAt: '2026-12-01T00:00:00.000Z',
        details: { modelArtifact: '.mlops/local/dogs-local-1/model.tar.gz' },
      },
    ],
  }
  return tempProject(minimalConfig(), {
    ...run('dogs-local-1'),
    ...run('dogs-local-2'),
    '.mlops/local/dogs-local-1/checkpoints/checkpoint-epoch0004.pt.tmp': KB(5),
    '.mlops/local/serve/0123456789abcdef.tar.gz': KB(7),
    '.mlops/state.json': JSON.stringify(state),
  })
}

describe('mlops clean: .mlops/ does not grow without bound (issue 31 item 8)', () => {
  it('says what it frees, with sizes, and deletes only that; keeps the best and last checkpoint and referenced models', async () => {
    const dir = await project()
    const run = await runMlops(['clean', '--yes', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code, run.stderr).toBe(0)
    const r = run.json()
    expect(r.items.map((i: { path: string; bytes: number }) => [i.path, i.bytes])).toEqual([
      ['.mlops/local/dogs-local-1/checkpoints/checkpoint-epoch0002.pt', 30 * 1024],
      ['.mlops/local/dogs-local-1/checkpoints/checkpoint-epoch0004.pt.tmp', 5 * 1024],
      ['.mlops/local/dogs-local-2/checkpoints/checkpoint-epoch0002.pt', 30 * 1024],
      ['.mlops/local/dogs-local-2/model', 20 * 1024],
      ['.mlops/local/dogs-local-2/model.tar.gz', 10 * 1024],
      ['.mlops/local/serve/0123456789abcdef.tar.gz', 7 * 1024],
    ])
    expect(r).toMatchObject({ deleted: true, bytes: 102 * 1024 })
    // Before deleting, the list with sizes on stderr.
    expect(run.stderr).toContain('mlops clean will delete 6 items, freeing 102.0 KB:')
    expect(run.stderr).toContain(
      '  - .mlops/local/dogs-local-2/model (20.0 KB): model of a run .mlops/state.json does not reference (its best weights stay in its checkpoints)',
    )
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-1/checkpoints'))).sort()).toEqual(['best-model.pth', 'checkpoint-epoch0003.pt'])
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-1'))).sort()).toEqual(['checkpoints', 'model', 'model.tar.gz'])
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-2'))).sort()).toEqual(['checkpoints'])
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-2/checkpoints'))).sort()).toEqual(['best-model.pth', 'checkpoint-epoch0003.pt'])
    expect(await readdir(path.join(dir, '.mlops/local/serve'))).toEqual([])
    expect(JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')).resources).toHaveLength(1)

    const again = await runMlops(['clean', '--yes'], { cwd: dir, ...NO_AWS })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Nothing to clean')
  })

  it('asks first: without --yes and no terminal it refuses (exit 2) and deletes nothing', async () => {
    const dir = await project()
    const run = await runMlops(['clean'], { cwd: dir, ...NO_AWS })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('freeing 102.0 KB')
    expect(run.stderr).toContain('--yes')
    expect(await readdir(path.join(dir, '.mlops/local/dogs-local-2'))).toContain('model.tar.gz')
  })

  it('--dry-run lists what it would free and deletes nothing', async () => {
    const dir = await project()
    const run = await runMlops(['clean', '--dry-run', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ dryRun: true, operations: [], bytes: 102 * 1024, deleted: false })
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-1/checkpoints'))).length).toBe(4)
  })

  it('a project whose state references no local model (state.json deleted: it is a cache) keeps every model', async () => {
    const dir = await project()
    await rm(path.join(dir, '.mlops/state.json'))
    const run = await runMlops(['clean', '--yes', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().items.map((i: { path: string }) => i.path)).not.toContainEqual(expect.stringMatching(/model(\.tar\.gz)?$/))
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-2'))).sort()).toEqual(['checkpoints', 'model', 'model.tar.gz'])
  })

  it('an unreferenced run without best weights in its checkpoints keeps its model (the only copy)', async () => {
    const dir = await project()
    await rm(path.join(dir, '.mlops/local/dogs-local-2/checkpoints/best-model.pth'))
    const run = await runMlops(['clean', '--yes', '--json'], { cwd: dir, ...NO_AWS })
    expect(run.code, run.stderr).toBe(0)
    expect((await readdir(path.join(dir, '.mlops/local/dogs-local-2'))).sort()).toEqual(['checkpoints', 'model', 'model.tar.gz'])
    expect(run.json().kept).toContain('.mlops/local/dogs-local-2/model.tar.gz')
  })
})
