import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * Each test file sits in the tier of what it touches (vitest.config.ts): a unit file that starts a
 * process or waits on the real clock, or an e2e file that never starts moto, is in the wrong folder.
 */
const TEST = path.resolve(import.meta.dirname, '..')
const ROOT = path.resolve(TEST, '..')
const filesOf = (tier: string) =>
  readdirSync(path.join(TEST, tier), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => `${tier}/${f}`)
    .sort()
const textOf = (file: string) => readFileSync(path.join(TEST, file), 'utf8')

/** What a file must not contain in a tier, with the reason shown when it does. */
const PROCESS = { pattern: /from ['"](node:)?child_process['"]|require\(['"](node:)?child_process['"]\)/, why: 'starts a process (node:child_process)' }
const MOTO = { pattern: /helpers\/moto(\.js)?['"]|\bstartMoto\b/, why: 'starts moto' }
const PYTHON_DATASET = { pattern: /\bmakeSyntheticDataset\b/, why: 'runs Python (makeSyntheticDataset)' }
const REAL_CLOCK = { pattern: /\bsystemClock\b/, why: 'waits on the real clock (systemClock; use fastClock or fake timers)' }

function violations(files: string[], rules: { pattern: RegExp; why: string }[]): string[] {
  return files.flatMap((f) => rules.filter((r) => r.pattern.test(textOf(f))).map((r) => `${f} ${r.why}`))
}

describe('test tiers', () => {
  it('no file in test/unit starts a process, starts moto, runs Python or waits on the real clock', () => {
    const unit = filesOf('unit').filter((f) => f !== 'unit/tiers.test.ts') // this file spells the patterns out
    expect(violations(unit, [PROCESS, MOTO, PYTHON_DATASET, REAL_CLOCK])).toEqual([])
  })

  it('no file in test/integration starts moto (that is e2e)', () => {
    expect(violations(filesOf('integration'), [MOTO])).toEqual([])
  })

  it('every test file in test/e2e starts moto (offline and mock-only files belong in unit or integration)', () => {
    const offline = filesOf('e2e').filter((f) => f.endsWith('.test.ts') && !MOTO.pattern.test(textOf(f)))
    expect(offline).toEqual([])
  })

  it('the rules catch what they are for', () => {
    const probe = (text: string, rule: { pattern: RegExp }) => rule.pattern.test(text)
    expect(probe("import { spawn } from 'node:child_process'", PROCESS)).toBe(true)
    expect(probe("import { execFileSync } from 'child_process'", PROCESS)).toBe(true)
    expect(probe("import { startMoto } from '../helpers/moto.js'", MOTO)).toBe(true)
    expect(probe("import { fastClock } from '../helpers/cli.js'", PROCESS) || probe("import { fastClock } from '../helpers/cli.js'", MOTO)).toBe(false)
  })

  it('the Node 22 pass of test/run-all.sh names process-level test files that exist', () => {
    const script = readFileSync(path.join(ROOT, 'test/run-all.sh'), 'utf8')
    const list = /^NODE22_FILES=\(([^)]*)\)/m.exec(script)?.[1].trim().split(/\s+/) ?? []
    expect(list.length).toBeGreaterThan(0)
    for (const f of list) {
      expect(f, f).toMatch(/^test\/(integration|e2e)\/.+\.test\.ts$/)
      expect(() => readFileSync(path.join(ROOT, f)), f).not.toThrow()
    }
  })
})
