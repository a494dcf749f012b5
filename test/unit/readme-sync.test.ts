import { readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { commandTree, configFieldPaths, renderConfigTable, renderFlagsTable, withGeneratedTables } from '../../tools/readme-config.js'
import { VERSION } from '../../src/shared/version.js'

/**
 * Issue 31 items 1 and 13: the README is true. Its config table and its flags table are generated
 * (tools/readme-config.ts) and must be current; every config field, command and flag appears; the
 * install commands match the package; the test time and Node versions are stated.
 */
const ROOT = path.resolve(import.meta.dirname, '../..')
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const FIX = 'run `npx tsx tools/readme-config.ts` to regenerate it'

describe('README', () => {
  it(`holds the current config and flags tables (${FIX})`, () => {
    expect(README.includes(renderConfigTable()), `the config table is out of date: ${FIX}`).toBe(true)
    expect(README.includes(renderFlagsTable()), `the flags table is out of date: ${FIX}`).toBe(true)
    expect(withGeneratedTables(README)).toBe(README)
  })

  it('names every config field, including nested ones (training.keepAlive, endpoint.idleStop, lambda.url.public, ec2.*)', () => {
    const fields = configFieldPaths()
    for (const must of [
      'training.image',
      'training.keepAlive',
      'training.inputMode',
      'endpoint.image',
      'endpoint.entryPoint',
      'endpoint.smokeTestImage',
      'endpoint.bakeTime',
      'endpoint.idleStop',
      'lambda.url.public',
      'ec2.pythonPath',
    ])
      expect(fields).toContain(must)
    const missing = fields.filter((f) => !README.includes(`\`${f.split('.').at(-1)}\``))
    expect(missing).toEqual([])
  })

  it('names every command and every flag, global ones included', () => {
    const program = commandTree()
    const missing: string[] = []
    for (const cmd of program.commands) {
      if (!README.includes(`mlops ${cmd.name()}`)) missing.push(`mlops ${cmd.name()}`)
      for (const o of cmd.options) if (o.long && !README.includes(o.long)) missing.push(`${cmd.name()} ${o.long}`)
    }
    for (const o of program.options) if (o.long && !README.includes(o.long)) missing.push(o.long)
    expect(missing).toEqual([])
  })

  it('says how to install from a clone and from the packed tarball of this version, and never npx mlops', () => {
    expect(README).toContain('npm ci && npm run build && npm link')
    expect(README).toContain(`npm install -g ./mlops-${VERSION}.tgz`)
    expect(README).toMatch(/`npm pack`/)
    expect(README).not.toMatch(/^\s*(- run: )?npx mlops/m)
  })

  it('states the Node versions the package supports and the suite time', () => {
    const engines = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
    expect(engines).toBe('>=22')
    expect(README).toContain('Node.js 22 or 24')
    expect(README).toMatch(/about 6 min: \d+ s/)
  })
})
