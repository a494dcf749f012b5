import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { ConfigError } from '../../src/shared/errors.js'
import { runMlops, tempProject } from '../helpers/cli.js'

const BASE = 'project:\n  name: dogs\ndata:\n  bucket: dogs-data\n'
const BOMB =
  BASE +
  'x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
  'x-b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n' +
  'x-c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n' +
  'x-d: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n'

function configError(text: string): ConfigError {
  try {
    parseConfigText(text, 'mlops.config.yaml')
  } catch (e) {
    if (e instanceof ConfigError) return e
    throw e
  }
  throw new Error('expected a ConfigError')
}

describe('hostile YAML in the config is a usage error (issue 19)', () => {
  it('an alias bomb names the line of the first alias', () => {
    const e = configError(BOMB)
    expect(e.message).toBe('mlops.config.yaml expands its YAML aliases too far.')
    expect(e.issues).toEqual(['mlops.config.yaml:6 • aliases expand to more than 100 nodes (an alias bomb?)'])
  })

  it('an unresolved alias names its line and the missing anchor', () => {
    const e = configError('project:\n  name: dogs\ndata:\n  bucket: *bucket\n')
    expect(e.message).toBe('mlops.config.yaml uses an alias with no anchor.')
    expect(e.issues).toEqual(['mlops.config.yaml:4 • *bucket: no &bucket is defined before it'])
  })

  it('a small alias still works', () => {
    expect(parseConfigText('project:\n  name: &n dogs\ndata:\n  bucket: dogs-data\naudit:\n  roles: [*n]\n', 'x').audit.roles).toEqual(['dogs'])
  })

  it('on the command line: exit 2, no "Unexpected error"', async () => {
    const dir = await tempProject(BOMB)
    const run = await runMlops(['status', '--dry-run'], { cwd: dir })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('expands its YAML aliases too far')
    expect(run.stderr).not.toContain('Unexpected error')
  })
})
