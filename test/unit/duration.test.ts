import { describe, expect, it } from 'vitest'
import { MAX_DURATION_SECONDS, parseDuration } from '../../src/shared/duration.js'
import { runMlops } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'

describe('absurd durations are refused with their limit', () => {
  it('parseDuration accepts up to 366 days and refuses more, in every spelling', () => {
    expect(parseDuration('366d')).toBe(MAX_DURATION_SECONDS)
    expect(parseDuration(MAX_DURATION_SECONDS)).toBe(MAX_DURATION_SECONDS)
    expect(() => parseDuration('367d')).toThrow('"367d" is longer than 366d, the longest mlops accepts')
    expect(() => parseDuration('99999999999999999999d')).toThrow('"99999999999999999999d" is longer than 366d, the longest mlops accepts')
    expect(() => parseDuration('99999999d')).toThrow(/longer than 366d/)
    expect(() => parseDuration(1e308)).toThrow('1e+308 seconds is longer than 366d, the longest mlops accepts')
    expect(() => parseDuration(Infinity)).toThrow('expected a positive duration, got Infinity')
  })

  it('--timeout 99999999999999999999d is a usage error naming the flag, before any AWS call', async () => {
    const run = await runMlops(['logs', 'dogs-train-2026-11-22-10-00-00-000', '--timeout', '99999999999999999999d'], { awsFactory: noAwsFactory() })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--timeout: "99999999999999999999d" is longer than 366d, the longest mlops accepts.')
    expect(run.stderr).not.toContain('Unexpected error')
  })
})
