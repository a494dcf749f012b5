import { execFile } from 'node:child_process'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { tempProject } from '../helpers/cli.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const run = promisify(execFile)

/**
 * The house plan's direction rules (.dependency-cruiser.cjs) catch each kind of back-edge. A small tree
 * with one deliberate violation per rule is cruised with the project's own config.
 */
describe('npm run lint: the import direction rules', () => {
  it('the real tree has no violation', async () => {
    const { stdout } = await run(
      path.join(ROOT, 'node_modules/.bin/depcruise'),
      ['src', 'tools', 'bench', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
      { cwd: ROOT },
    )
    expect(stdout).toMatch(/no dependency violations found/)
  })

  it('reports each deliberately added back-edge by its rule', async () => {
    const files: Record<string, string> = {
      'src/shared/errors.ts': 'export class E extends Error {}\n',
      'src/shared/naming.ts': "import { probe } from '../aws/s3/probe.js'\nexport const n = probe\n",
      'src/aws/s3/probe.ts': "import { run } from '../../features/dataset/run.js'\nexport const probe = run\n",
      'src/features/dataset/run.ts': "import { deploy } from '../deploy/run.js'\nexport const run = deploy\n",
      'src/features/deploy/run.ts': "import { S3Client } from '@aws-sdk/client-s3'\nexport const deploy = S3Client\n",
      'src/commands/upload-data.ts': "import { probe } from '../aws/s3/probe.js'\nexport const c = probe\n",
      'src/features/lambda/a.ts': "import type { B } from './b.js'\nexport type A = B\n",
      'src/features/lambda/b.ts': "import type { A } from './a.js'\nexport type B = A | 1\n",
    }
    const result = await cruiseFixture(files)
    expect(result.code).not.toBe(0)
    for (const rule of [
      'shared-is-the-bottom: src/shared/naming.ts → src/aws/s3/probe.ts',
      'aws-knows-aws-not-mlops: src/aws/s3/probe.ts → src/features/dataset/run.ts',
      'feature-never-imports-a-sibling: src/features/dataset/run.ts → src/features/deploy/run.ts',
      'commands-never-import-aws: src/commands/upload-data.ts → src/aws/s3/probe.ts',
      'aws-sdk-runtime-only-in-aws: src/features/deploy/run.ts',
      'no-circular: src/features/lambda/a.ts',
    ]) {
      expect(result.stdout).toContain(rule)
    }
  }, 60_000)

  it('a command imports exactly one feature family (the one with <family>/<command>.ts), plus local', async () => {
    const result = await cruiseFixture({
      'src/features/scale/scale.ts': 'export const runScale = 1\n',
      'src/features/scale/render.ts': 'export const renderScale = 1\n',
      'src/features/deploy/deploy.ts': 'export const runDeploy = 1\n',
      'src/features/deploy/render.ts': 'export const renderEndpointScale = 1\n',
      'src/features/local/invoke-local.ts': 'export const localInvokeContext = 1\n',
      // scale: its own family and local are fine; a second family (here dynamically imported) is not.
      'src/commands/scale.ts': [
        "import { runScale } from '../features/scale/scale.js'",
        "import { renderScale } from '../features/scale/render.js'",
        "import { localInvokeContext } from '../features/local/invoke-local.js'",
        "export const c = async () => [runScale, renderScale, localInvokeContext, (await import('../features/deploy/render.js')).renderEndpointScale]",
      ].join('\n'),
      'src/commands/deploy.ts': "import { runDeploy } from '../features/deploy/deploy.js'\nexport const c = runDeploy\n",
      // No family holds completion.ts: it imports no feature.
      'src/commands/completion.ts': "import { runDeploy } from '../features/deploy/deploy.js'\nexport const c = runDeploy\n",
    })
    expect(result.code).not.toBe(0)
    expect(result.stdout).toContain('command-imports-one-family: src/commands/scale.ts → src/features/deploy/render.ts')
    expect(result.stdout).toContain('command-imports-one-family: src/commands/completion.ts → src/features/deploy/deploy.ts')
    expect(result.stdout).toMatch(/\b2 dependency violations/)
  }, 60_000)
})

/** Cruises a small tree (the files given, node_modules linked) with the project's own config; code 0 when clean. */
async function cruiseFixture(files: Record<string, string>): Promise<{ code: number; stdout: string }> {
  const dir = await tempProject()
  for (const [f, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true })
    await writeFile(path.join(dir, f), text)
  }
  await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
  await writeFile(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }))
  return run(path.join(ROOT, 'node_modules/.bin/depcruise'), ['src', '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err'], {
    cwd: dir,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => e,
  )
}
