import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Ui } from '../../src/shared/output.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const MISSION = ['upload-data', 'train', 'tune', 'train-ec2', 'deploy', 'scale', 'lambda-setup', 'invoke', 'audit-iam', 'status', 'teardown', 'init']

describe('mlops program', () => {
  it('--help lists every command of the mission and the global flags', async () => {
    const run = await runMlops(['--help'])
    expect(run.code).toBe(0)
    for (const name of MISSION) expect(run.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'))
    for (const flag of ['--config', '--profile', '--region', '--endpoint-url', '--json', '--dry-run', '--yes', '--debug', '--no-color']) {
      expect(run.stdout).toContain(flag)
    }
  })

  it('--version prints the version', async () => {
    const run = await runMlops(['--version'])
    expect(run.code).toBe(0)
    expect(run.stdout.trim()).toBe('0.0.0-test')
  })

  it('an unknown command or option is a usage error (exit 2) without a stack trace', async () => {
    const a = await runMlops(['frobnicate'])
    expect(a.code).toBe(2)
    expect(a.stderr).toContain("unknown command 'frobnicate'")
    const b = await runMlops(['init', '--bogus'])
    expect(b.code).toBe(2)
    expect(b.stderr).toContain("unknown option '--bogus'")
    expect(b.stderr).not.toMatch(/\n\s+at /)
  })

  it('--json errors are one JSON document on stdout', async () => {
    const dir = await tempProject()
    const run = await runMlops(['init', '--json', '--project', 'x'], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.json()).toMatchObject({ error: { code: 'InvalidInitValue' } })
  })

  it('a missing config says how to create one (exit 2)', async () => {
    const dir = await tempProject()
    const run = await runMlops(['train', '--dry-run', '-c', 'nope.yaml'], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(`No config file at ${path.join(dir, 'nope.yaml')}.`)
    expect(run.stderr).toMatch(/^hint: Run `mlops init` to write a commented mlops\.config\.yaml, or pass --config <path>\.$/m)
  })
})

describe('init', () => {
  it('writes a valid commented config and refuses to overwrite it', async () => {
    const dir = await tempProject()
    const first = await runMlops(['init', '--project', 'dog-breeds', '--bucket', 'my-dog-data', '--json'], { cwd: dir })
    expect(first.code).toBe(0)
    expect(first.json()).toMatchObject({ project: 'dog-breeds', bucket: 'my-dog-data', written: true })
    const second = await runMlops(['init'], { cwd: dir })
    expect(second.code).toBe(2)
    expect(second.stderr).toContain('already exists; nothing was written')
    expect(second.stderr).toContain('--force')
    const forced = await runMlops(['init', '--force', '--project', 'other'], { cwd: dir })
    expect(forced.code).toBe(0)
  })

  it('--dry-run writes nothing', async () => {
    const dir = await tempProject()
    const run = await runMlops(['init', '--dry-run', '--json'], { cwd: dir })
    expect(run.code).toBe(0)
    expect(run.json().written).toBe(false)
    const again = await runMlops(['init'], { cwd: dir })
    expect(again.code).toBe(0)
  })
})

describe('output modes', () => {
  const make = (over: Partial<ConstructorParameters<typeof Ui>[0]> = {}) => {
    const out = { stdout: '', stderr: '' }
    const ui = new Ui({
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s), isTTY: true },
      json: false,
      debug: false,
      color: true,
      env: {},
      clock: fastClock(),
      yes: false,
      ...over,
    })
    return { ui, out }
  }

  it('on a TTY: colour and interactive', () => {
    const { ui } = make()
    expect(ui.interactive).toBe(true)
    expect(ui.c.level).toBeGreaterThan(0)
  })

  it('not a TTY, under CI, --json, --no-color or NO_COLOR: no spinners, no colour', () => {
    expect(make({ stderr: { write: () => undefined, isTTY: false } }).ui.interactive).toBe(false)
    expect(make({ env: { CI: 'true' } }).ui.interactive).toBe(false)
    expect(make({ json: true }).ui.interactive).toBe(false)
    expect(make({ color: false }).ui.c.level).toBe(0)
    expect(make({ env: { NO_COLOR: '1' } }).ui.c.level).toBe(0)
  })

  it('--json writes exactly one document on stdout and progress on stderr', () => {
    const { ui, out } = make({ json: true })
    ui.step('working')
    ui.result({ kind: 'done', result: { a: 1 } }, () => 'human')
    expect(JSON.parse(out.stdout)).toEqual({ a: 1 })
    expect(out.stderr).toContain('working')
    expect(() => ui.result({ kind: 'done', result: { b: 2 } }, () => '')).toThrow()
  })

  it('non-interactive spinner prints one line per distinct status', () => {
    const { ui, out } = make({ stderr: { write: (s: string) => (out.stderr += s), isTTY: false } })
    const spin = ui.spinner('Creating')
    spin.update('Creating')
    spin.update('InService')
    spin.succeed('done')
    expect(out.stderr.split('\n').filter(Boolean)).toEqual(['Creating', 'InService', '✔ done'])
  })

  it('non-interactive progress prints at most one line per interval', () => {
    const clock = fastClock()
    const { ui, out } = make({ clock, stderr: { write: (s: string) => (out.stderr += s), isTTY: false } })
    const bar = ui.progress('upload', 10, { intervalMs: 1000 })
    bar.update(1)
    bar.update(2)
    clock.advance(1000)
    bar.update(5)
    expect(out.stderr.trim().split('\n')).toEqual(['upload  10% 1/10', 'upload  50% 5/10'])
  })

  it('confirm refuses without a terminal unless --yes', async () => {
    await expect(make().ui.confirm('Delete 3 objects?')).rejects.toMatchObject({ code: 'ConfirmationRequired' })
    await expect(make({ yes: true }).ui.confirm('Delete?')).resolves.toBe(true)
    await expect(make({ stdinIsTTY: true, ask: async () => 'y' }).ui.confirm('Delete?')).resolves.toBe(true)
    await expect(make({ stdinIsTTY: true, ask: async () => '' }).ui.confirm('Delete?')).resolves.toBe(false)
  })
})

describe('config errors through the CLI', () => {
  it('prints file:line • path lines and exits 2', async () => {
    const dir = await tempProject(minimalConfig('training:\n  instanceCount: 0\n'))
    const run = await runMlops(['train', '--dry-run'], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stdout).toBe('')
    // The file is named as a path (relative or absolute), then :line • dotted.path: message.
    expect(run.stderr).toMatch(/^✖ \S*mlops\.config\.yaml has 1 problem:$/m)
    expect(run.stderr).toMatch(/^ {2}\S*mlops\.config\.yaml:7 • training\.instanceCount: must be at least 1 \(training instances\)$/m)
  })
})
