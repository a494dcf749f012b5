import { lstat, mkdir, readFile, readdir, readlink, symlink } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { bundledScriptFiles } from '../../src/features/project/init.js'
import { bundledScriptsDir } from '../../src/shared/package-root.js'
import { noAwsFactory } from '../helpers/aws.js'
import { runMlops, tempProject } from '../helpers/cli.js'

const NO_AWS = { awsFactory: noAwsFactory('init never calls AWS') }
const init = (args: string[], cwd: string) => runMlops(['init', '--project', 'dogs', ...args], { cwd, ...NO_AWS })

describe('init copies the bundled training and inference code (issue 15 item 1)', () => {
  it('the bundled set: every .py and hyperparameters.json, no tests, no shell tools', async () => {
    const files = await bundledScriptFiles()
    expect(files).toEqual(expect.arrayContaining(['train.py', 'inference.py', 'hyperparameters.json', 'model_def.py']))
    expect(files.some((f) => /test_|_test\.py|\.sh$/.test(f))).toBe(false)
  })

  it('writes the config and ./scripts/ with the bundled files byte for byte; the config points at it', async () => {
    const dir = await tempProject()
    const run = await init(['--json'], dir)
    expect(run.code).toBe(0)
    const expected = await bundledScriptFiles()
    expect(run.json()).toMatchObject({ written: true, scripts: { dir: path.join(dir, 'scripts'), copied: expected, kept: [] } })
    expect((await readdir(path.join(dir, 'scripts'))).sort()).toEqual(expected.filter((f) => !f.includes('/')))
    for (const f of expected) expect(await readFile(path.join(dir, 'scripts', f))).toEqual(await readFile(path.join(bundledScriptsDir(), f)))
    expect(await readFile(path.join(dir, 'mlops.config.yaml'), 'utf8')).toMatch(/sourceDir: scripts/)
  })

  it('never overwrites an existing script without --force; --force replaces it', async () => {
    const dir = await tempProject(undefined, { 'scripts/train.py': '# my own training code\n' })
    const run = await init([], dir)
    expect(run.code).toBe(0)
    expect(run.stderr).toContain('Kept your scripts/train.py (pass --force to replace it with the bundled one).')
    expect(await readFile(path.join(dir, 'scripts', 'train.py'), 'utf8')).toBe('# my own training code\n')
    expect(await readFile(path.join(dir, 'scripts', 'inference.py'), 'utf8')).toBe(await readFile(path.join(bundledScriptsDir(), 'inference.py'), 'utf8'))
    const forced = await init(['--force'], dir)
    expect(forced.code).toBe(0)
    expect(await readFile(path.join(dir, 'scripts', 'train.py'), 'utf8')).toBe(await readFile(path.join(bundledScriptsDir(), 'train.py'), 'utf8'))
  })

  it('--no-scripts writes only the config', async () => {
    const dir = await tempProject()
    const run = await init(['--no-scripts', '--json'], dir)
    expect(run.code).toBe(0)
    expect(run.json().scripts).toBeUndefined()
    expect((await readdir(dir)).sort()).toEqual(['.gitignore', 'mlops.config.yaml'])
  })

  it('--dry-run lists the files and writes nothing', async () => {
    const dir = await tempProject()
    const run = await init(['--dry-run', '--json'], dir)
    expect(run.code).toBe(0)
    expect(run.json()).toMatchObject({ written: false, scripts: { copied: await bundledScriptFiles() } })
    expect(await readdir(dir)).toEqual([])
  })
})

describe('init never suggests destroying work (issue 31 item 9)', () => {
  it('--example <file> writes the commented template there and touches nothing else; never overwrites', async () => {
    const mine = 'project:\n  name: mine\n'
    const dir = await tempProject(mine, { 'scripts/train.py': '# edited\n' })
    const run = await init(['--example', 'mlops.config.example.yaml'], dir)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(`Wrote a commented example of every section to ${path.join(dir, 'mlops.config.example.yaml')}.`)
    expect(run.stdout).toContain('Your config and scripts were not touched')
    expect(await readFile(path.join(dir, 'mlops.config.yaml'), 'utf8')).toBe(mine)
    expect(await readFile(path.join(dir, 'scripts', 'train.py'), 'utf8')).toBe('# edited\n')
    expect((await readdir(dir)).sort()).toEqual(['mlops.config.example.yaml', 'mlops.config.yaml', 'scripts'])
    expect(await readFile(path.join(dir, 'mlops.config.example.yaml'), 'utf8')).toMatch(/^# mlops\.config\.yaml: one file/)
    const again = await init(['--example', 'mlops.config.example.yaml'], dir)
    expect(again.code).toBe(2)
    expect(again.stderr).toContain('already exists; nothing was written.')
  })

  it('a config error and an existing config point at --example, never at --force', async () => {
    const dir = await tempProject('project:\n  name: dogs\n  colour: red\n')
    const bad = await runMlops(['train', '--dry-run'], { cwd: dir, ...NO_AWS })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('hint: Fix the fields listed above. `mlops init --example mlops.config.example.yaml` writes a commented example')
    expect(bad.stderr).not.toContain('--force')
    const exists = await init([], dir)
    expect(exists.code).toBe(2)
    expect(exists.stderr).toContain('hint: Pass --example <file> for a commented example beside it')
  })

  it('--no-scripts writes no training.sourceDir (the bundled scripts) and says so; train then finds its code', async () => {
    const dir = await tempProject()
    const run = await init(['--no-scripts'], dir)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(`training.sourceDir is left unset: training uses the scripts bundled with mlops (${bundledScriptsDir()}).`)
    expect(await readFile(path.join(dir, 'mlops.config.yaml'), 'utf8')).not.toMatch(/^\s*sourceDir:/m)
    const train = await runMlops(['train', '--dry-run'], { cwd: dir, ...NO_AWS })
    expect(train.code, train.stderr).toBe(0)
    expect(train.stdout).toContain(`from the scripts bundled with mlops (${bundledScriptsDir()})`)
  })
})

describe('init --force never writes through a symbolic link (issue 19)', () => {
  it('a config that is a link is refused (exit 2) and its target is untouched', async () => {
    const dir = await tempProject(undefined, { 'elsewhere/precious.txt': 'keep me\n' })
    await symlink(path.join(dir, 'elsewhere', 'precious.txt'), path.join(dir, 'mlops.config.yaml'))
    const run = await init(['--force'], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('mlops.config.yaml is a symbolic link; mlops init does not write through links, so nothing was written.')
    expect(await readFile(path.join(dir, 'elsewhere', 'precious.txt'), 'utf8')).toBe('keep me\n')
    expect((await lstat(path.join(dir, 'mlops.config.yaml'))).isSymbolicLink()).toBe(true)
    expect(await readdir(dir)).not.toContain('scripts')
  })

  it('a script that is a link is refused before anything is written', async () => {
    const dir = await tempProject(undefined, { 'elsewhere/precious.py': 'keep me\n' })
    await mkdir(path.join(dir, 'scripts'))
    await symlink(path.join(dir, 'elsewhere', 'precious.py'), path.join(dir, 'scripts', 'train.py'))
    const run = await init(['--force'], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('train.py is a symbolic link')
    expect(await readFile(path.join(dir, 'elsewhere', 'precious.py'), 'utf8')).toBe('keep me\n')
    expect(await readlink(path.join(dir, 'scripts', 'train.py'))).toBe(path.join(dir, 'elsewhere', 'precious.py'))
    expect(await readdir(dir)).not.toContain('mlops.config.yaml')
  })

  it('a scripts folder that is a link is refused', async () => {
    const dir = await tempProject(undefined, { 'elsewhere/x': '' })
    await symlink(path.join(dir, 'elsewhere'), path.join(dir, 'scripts'))
    const run = await init([], dir)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('scripts is a symbolic link')
    expect(await readdir(path.join(dir, 'elsewhere'))).toEqual(['x'])
  })
})

describe('init keeps .mlops/ out of git (issue 31 item 8)', () => {
  it('writes a .gitignore with .mlops/ when there is none', async () => {
    const dir = await tempProject()
    const run = await init(['--json'], dir)
    expect(run.code, run.stderr).toBe(0)
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('.mlops/\n')
    expect(run.json().gitignore).toEqual({ path: path.join(dir, '.gitignore'), action: 'created' })
  })

  it('appends to an existing .gitignore (adding the missing newline), and never twice', async () => {
    const dir = await tempProject(undefined, { '.gitignore': 'node_modules\n*.log' })
    const run = await init([], dir)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toContain(`Added .mlops/ to ${path.join(dir, '.gitignore')}`)
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n*.log\n.mlops/\n')
    const again = await init(['--force', '--json'], dir)
    expect(again.json().gitignore.action).toBe('already ignored')
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('node_modules\n*.log\n.mlops/\n')
  })

  it('leaves a .gitignore that already ignores /.mlops alone; --dry-run writes none', async () => {
    const dir = await tempProject(undefined, { '.gitignore': '/.mlops\n' })
    expect((await init(['--json'], dir)).json().gitignore.action).toBe('already ignored')
    expect(await readFile(path.join(dir, '.gitignore'), 'utf8')).toBe('/.mlops\n')
    const fresh = await tempProject()
    expect((await init(['--dry-run', '--json'], fresh)).json().gitignore.action).toBe('created')
    expect(await readdir(fresh)).toEqual([])
  })
})
