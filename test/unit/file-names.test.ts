import { readdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')

/**
 * A search for a file name finds one file. The names several folders share are roles: a family's
 * plan/render/types, an AWS service's project-resources, shared/plan.ts (the plan vocabulary those
 * build on), and a command's commands/<cmd>.ts beside the features/<family>/<cmd>.ts it calls.
 */
describe('file names under src/', () => {
  const ROLE_NAMES = new Set(['index.ts', 'plan.ts', 'render.ts', 'types.ts', 'project-resources.ts'])

  it('no two files share a name, except the role names and command/feature pairs', async () => {
    const files = (await readdir(path.join(ROOT, 'src'), { recursive: true, withFileTypes: true }))
      .filter((d) => d.isFile())
      .map((d) => path.relative(ROOT, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
    expect(files.length).toBeGreaterThan(100)
    expect(sharedNames(files, ROLE_NAMES)).toEqual({})
  })

  it('the check reports a name used twice', () => {
    const files = [
      'src/aws/sagemaker/invoke.ts',
      'src/features/local/invoke.ts',
      'src/commands/deploy.ts',
      'src/features/deploy/deploy.ts',
      'src/features/a/plan.ts',
      'src/features/b/plan.ts',
    ]
    expect(sharedNames(files, ROLE_NAMES)).toEqual({ 'invoke.ts': ['src/aws/sagemaker/invoke.ts', 'src/features/local/invoke.ts'] })
  })
})

/** Base names used by more than one file, leaving out role names and one commands/<x>.ts + features/<family>/<x>.ts pair. */
function sharedNames(files: readonly string[], roleNames: ReadonlySet<string>): Record<string, string[]> {
  const byName = new Map<string, string[]>()
  for (const f of files) byName.set(path.posix.basename(f), [...(byName.get(path.posix.basename(f)) ?? []), f])
  const shared: Record<string, string[]> = {}
  for (const [name, paths] of byName) {
    if (paths.length < 2 || roleNames.has(name)) continue
    const commandPair =
      paths.length === 2 && paths.includes(`src/commands/${name}`) && paths.some((p) => new RegExp(`^src/features/[^/]+/${name.replace('.', '\\.')}$`).test(p))
    if (!commandPair) shared[name] = paths
  }
  return shared
}
