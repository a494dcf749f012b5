import { describe, expect, it } from 'vitest'
import { runMlops } from '../helpers/cli.js'
import { commandTree } from '../../tools/readme-config.js'

/**
 * Issue 31 item 1: every hint is true for a user who installed the package (no clone): no `npm run`,
 * no `npx mlops` (not on the registry: a name-squatting risk), no paths that are not shipped; the CI
 * snippet installs what it runs; the commands `mlops --help` suggests exist with those flags.
 */
const NOT_INSTALLED = /npm run|npx mlops|test\/harness|scripts-dev|tools\//

describe('hints for an installed user', () => {
  it('mlops --help suggests the local path and the emulator, with commands and flags that exist', async () => {
    const help = (await runMlops(['--help'])).stdout
    expect(help).not.toMatch(NOT_INSTALLED)
    expect(help).toContain('$ mlops train --local --cpu-sized')
    expect(help).toContain('$ mlops emulator')
    const program = commandTree()
    for (const [, name, rest] of help.matchAll(/\$ mlops ([a-z-]+)([^\n]*)/g)) {
      const cmd = program.commands.find((c) => c.name() === name)
      expect(cmd, `mlops ${name}`).toBeDefined()
      for (const [flag] of rest.split(/ {2,}/)[0].matchAll(/--[a-z-]+/g))
        expect(
          cmd!.options.map((o) => o.long),
          `${name} ${flag}`,
        ).toContain(flag)
    }
  })

  it("no command's --help points at what only a clone has", async () => {
    for (const cmd of commandTree().commands) {
      const help = (await runMlops([cmd.name(), '--help'])).stdout
      expect(help, cmd.name()).not.toMatch(NOT_INSTALLED)
    }
  })

  it('the audit-iam CI snippet installs mlops before it runs it', async () => {
    const help = (await runMlops(['audit-iam', '--help'])).stdout
    const runs = [...help.matchAll(/^ {2}- run: (.+)$/gm)].map((m) => m[1])
    const install = runs.findIndex((r) => /^npm install -g \.\/\S+\/mlops-[\d.]+\.tgz$/.test(r))
    const audit = runs.findIndex((r) => r.startsWith('mlops audit-iam'))
    expect(install).toBeGreaterThanOrEqual(0)
    expect(audit).toBeGreaterThan(install)
  })
})
