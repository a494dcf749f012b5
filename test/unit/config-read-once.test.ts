import path from 'node:path'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

// Every readFile of the source goes through this spy, so the test counts how often a command reads
// its mlops.config.yaml (it once read it twice: the second time to undo the schema's region default).
const reads = vi.hoisted(() => ({ paths: [] as string[] }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>()
  const readFile = ((file: Parameters<typeof fs.readFile>[0], ...rest: unknown[]) => {
    reads.paths.push(String(file))
    return (fs.readFile as (...a: unknown[]) => unknown)(file, ...rest)
  }) as typeof fs.readFile
  return { ...fs, default: { ...fs, readFile }, readFile }
})

beforeEach(() => {
  reads.paths.length = 0
})

describe('the config file is read once per command', () => {
  it.each([
    ['deploy', ['deploy', '--dry-run', '--model', 's3://dogs-data/m/model.tar.gz']],
    ['train', ['train', '--dry-run']],
    ['scale', ['scale', '--dry-run', '--min', '1', '--max', '2']],
  ])('%s --dry-run reads mlops.config.yaml once', async (_name, args) => {
    const dir = await tempProject(minimalConfig('aws:\n  region: eu-west-1\n'))
    const run = await runMlops(args, { cwd: dir })
    expect(run.stderr).not.toContain('✖')
    expect(run.code).toBe(0)
    expect(reads.paths.filter((p) => p === path.join(dir, 'mlops.config.yaml'))).toHaveLength(1)
  })
})
