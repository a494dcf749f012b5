import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseDeployFlags } from '../../src/commands/deploy.js'
import { parseScaleFlags } from '../../src/commands/scale.js'
import { parseTrainEc2Flags } from '../../src/commands/train-ec2.js'
import { parseConfigText } from '../../src/config/load.js'
import type { ConfigError } from '../../src/shared/errors.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

const COMMANDS_DIR = path.resolve(import.meta.dirname, '../../src/commands')
/** The one module allowed to build InvalidFlag errors: every flag value is checked there, by a schema field. */
const BUILDER = 'options.ts'

/**
 * What must not be written in a command: a numeric range of its own (`{ min: 1, max: 100 }`,
 * `.max(200)`) or an InvalidFlag error by hand. Limits live in schema fields (config/sections, or
 * config/flag-fields for flags with no config key); commands keep only the rules that combine flags.
 */
function handWrittenChecks(source: string): string[] {
  const found: string[] = []
  const patterns: [RegExp, string][] = [
    [/\b(min|max)\s*:\s*-?[\d_.]+/g, 'a literal min:/max: range'],
    [/\.(min|max|gte|lte|gt|lt)\(\s*-?[\d_.]+/g, 'a literal .min()/.max() range'],
    [/new\s+UserError\(\s*['"`]InvalidFlag['"`]/g, "a hand-written new UserError('InvalidFlag'"],
    [/\bparse(Int|Duration)Flag\b/g, 'the old parseIntFlag/parseDurationFlag'],
  ]
  source.split('\n').forEach((line, i) => {
    for (const [re, what] of patterns) for (const m of line.matchAll(re)) found.push(`${i + 1}: ${what}: ${m[0]}`)
  })
  return found
}

describe('a flag is declared once, with the schema field that validates it', () => {
  it('no file in src/commands/ (but the builder module) holds a hand-written range or InvalidFlag error', async () => {
    const files = (await readdir(COMMANDS_DIR)).filter((f) => f.endsWith('.ts') && f !== BUILDER)
    expect(files.length).toBeGreaterThan(10)
    const offences: string[] = []
    for (const f of files) for (const o of handWrittenChecks(await readFile(path.join(COMMANDS_DIR, f), 'utf8'))) offences.push(`src/commands/${f}:${o}`)
    expect(offences).toEqual([])
  })

  it('the scan catches each kind of hand-written check (so the test above can fail)', () => {
    expect(handWrittenChecks("parseIntFlag(v, '--top', { min: 1, max: 133 })")).toHaveLength(3)
    expect(handWrittenChecks('const n = z.number().int().max(200)')).toHaveLength(1)
    expect(handWrittenChecks("throw new UserError('InvalidFlag', `--x must be 1 to 9`)")).toHaveLength(1)
    expect(handWrittenChecks("throw new UserError('ConflictingFlags', '--min is above --max')")).toEqual([])
  })

  it('deploy --instance-count and endpoint.instanceCount: the same answer from the same field', async () => {
    const model = ['--model', 's3://dogs-data/output/job/output/model.tar.gz']
    // The InitialInstanceCount the dry-run plan would send in CreateEndpointConfig.
    const instanceCount = (run: { json(): { operations: { operation: string; input?: unknown }[] } }) =>
      run
        .json()
        .operations.filter((o) => o.operation === 'CreateEndpointConfig')
        .map((o) => JSON.stringify(o.input).match(/"InitialInstanceCount":(\d+)/)?.[1])

    // 150: no upper bound in the SageMaker API (InitialInstanceCount >= 1; the account quota is the limit).
    const byFlag = await runMlops(['deploy', ...model, '--instance-count', '150', '--dry-run', '--json'], {
      cwd: await tempProject(minimalConfig()),
      env: OFFLINE_ENV,
    })
    const byConfig = await runMlops(['deploy', ...model, '--dry-run', '--json'], {
      cwd: await tempProject(minimalConfig('endpoint:\n  instanceCount: 150\n')),
      env: OFFLINE_ENV,
    })
    expect([byFlag.code, byConfig.code]).toEqual([0, 0])
    expect(instanceCount(byFlag)).toEqual(['150'])
    expect(instanceCount(byConfig)).toEqual(['150'])

    // 0: refused by both, with the field's one message (exit 2, nothing sent).
    const zeroFlag = await runMlops(['deploy', ...model, '--instance-count', '0', '--dry-run'], { cwd: await tempProject(minimalConfig()), env: OFFLINE_ENV })
    const zeroConfig = await runMlops(['deploy', ...model, '--dry-run'], {
      cwd: await tempProject(minimalConfig('endpoint:\n  instanceCount: 0\n')),
      env: OFFLINE_ENV,
    })
    expect([zeroFlag.code, zeroConfig.code]).toEqual([2, 2])
    expect(zeroFlag.stderr).toContain('✖ --instance-count: must be at least 1 (endpoint instances), got "0".')
    expect(zeroConfig.stderr).toContain('endpoint.instanceCount: must be at least 1 (endpoint instances)')
  })

  it.each([
    // [flag, value, parse the flag, config text, dotted path, the field's message]
    [
      '--max-concurrency',
      '500',
      (v: string) => parseDeployFlags({ smokeTest: true, maxConcurrency: v }),
      'endpoint:\n  serverless:\n    maxConcurrency: 500\n',
      'endpoint.serverless.maxConcurrency',
      'must be at most 200 (concurrent invocations)',
    ],
    [
      '--max',
      '0',
      (v: string) => parseScaleFlags({ max: v }),
      'endpoint:\n  autoscaling:\n    maxCapacity: 0\n',
      'endpoint.autoscaling.maxCapacity',
      'must be at least 1 (instances)',
    ],
    [
      '--scale-in-cooldown',
      '7200',
      (v: string) => parseScaleFlags({ scaleInCooldown: v }),
      'endpoint:\n  autoscaling:\n    scaleInCooldown: 7200\n',
      'endpoint.autoscaling.scaleInCooldown',
      'must be at most 3600 (seconds)',
    ],
    [
      '--lambda-reserved',
      '-1',
      (v: string) => parseScaleFlags({ lambdaReserved: v }),
      'lambda:\n  reservedConcurrency: -1\n',
      'lambda.reservedConcurrency',
      'must be 0 or more (executions)',
    ],
    [
      '--max-hours',
      '49',
      (v: string) => parseTrainEc2Flags({ maxHours: v }),
      'ec2:\n  maxHours: 49\n',
      'ec2.maxHours',
      'at most 48 hours (the SSM command limit)',
    ],
  ] as const)('%s %s and its config field refuse alike, in the same words', (flag, value, parseFlag, configText, dotted, message) => {
    expect(() => parseFlag(value)).toThrow(`${flag}: ${message}, got "${value}".`)
    let issues: readonly string[] = []
    try {
      parseConfigText(minimalConfig(configText), 'mlops.config.yaml')
    } catch (e) {
      issues = (e as ConfigError).issues
    }
    expect(issues).toContainEqual(expect.stringContaining(`${dotted}: ${message}`))
  })
})
