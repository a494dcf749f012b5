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
    const dir = await tempProject()
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
    for (const [f, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true })
      await writeFile(path.join(dir, f), text)
    }
    await symlink(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    await writeFile(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }),
    )
    const result = await run(
      path.join(ROOT, 'node_modules/.bin/depcruise'),
      ['src', '--config', path.join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'err'],
      {
        cwd: dir,
      },
    ).then(
      () => ({ code: 0, stdout: '' }),
      (e: { code: number; stdout: string }) => e,
    )
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
})
