import { describe, expect, it } from 'vitest'
import { createProgram } from '../../src/cli.js'
import { commandTree } from '../../src/commands/completion.js'
import { fastClock, runMlops } from '../helpers/cli.js'

const program = createProgram({
  stdout: { write: () => true },
  stderr: { write: () => true },
  stdinIsTTY: false,
  env: {},
  cwd: '/',
  clock: fastClock(),
  signal: new AbortController().signal,
  version: '0',
})
const commands = program.commands.map((c) => ({ name: c.name(), flags: c.options.flatMap((o) => (o.long ? [o.long] : [])) }))
const globals = program.options.flatMap((o) => (o.long ? [o.long] : []))

describe('mlops completion', () => {
  it('reads every command and flag from the program', () => {
    expect(commands.length).toBeGreaterThanOrEqual(14)
    const tree = commandTree(program)
    expect(tree.commands.map((c) => c.name)).toEqual(commands.map((c) => c.name))
    for (const c of commands) expect(tree.commands.find((t) => t.name === c.name)?.flags.map((f) => f.flag)).toEqual([...c.flags, '--help'])
  })

  it.each(['bash', 'zsh', 'fish'])('%s: the script names every command, its flags and the global flags', async (shell) => {
    const run = await runMlops(['completion', shell])
    expect(run.code, run.stderr).toBe(0)
    for (const c of commands) {
      expect(run.stdout).toMatch(new RegExp(`(^|[\\s'(])${c.name}([\\s')]|:)`))
      for (const f of c.flags) expect(run.stdout).toContain(shell === 'fish' ? `__fish_seen_subcommand_from ${c.name}' -l ${f.slice(2)} ` : f)
    }
    for (const f of globals) expect(run.stdout).toContain(shell === 'fish' ? `complete -c mlops -l ${f.slice(2)} ` : f)
  })

  it('bash: the per-command case lists exactly that command flags', async () => {
    const run = await runMlops(['completion', 'bash'])
    expect(run.stdout).toContain("    train-ec2) flags='--instance-type --spot --keep --max-hours --timeout --notify --help' ;;")
    expect(run.stdout).toContain('complete -o default -F _mlops mlops')
  })

  it('an unknown shell is a usage error', async () => {
    const run = await runMlops(['completion', 'powershell'])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain("✖ command-argument value 'powershell' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.")
  })
})
