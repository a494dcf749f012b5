import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { noAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 31 item 9: without --config, mlops finds mlops.config.yaml in the nearest parent folder, as
 * git finds .git, stopping at a repository root (a folder holding .git); it says which file it used,
 * and relative paths in that config still resolve from the config's folder.
 */
const ROLE = 'arn:aws:iam::123456789012:role/r'
const CONFIG = minimalConfig(`training:\n  roleArn: ${ROLE}\n  sourceDir: code\n`)
const NO_AWS = { awsFactory: noAwsFactory() }

describe('the config is found in a parent folder (issue 31 item 9)', () => {
  it('from two folders down: says which file, and training.sourceDir resolves beside the config', async () => {
    const dir = await tempProject(CONFIG, { 'code/train.py': 'print(1)\n', 'notebooks/eda/.keep': '' })
    const r = await runMlops(['train', '--dry-run', '--json'], { cwd: path.join(dir, 'notebooks', 'eda'), ...NO_AWS })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`Using ${path.join('..', '..', 'mlops.config.yaml')} (paths in it resolve from ${dir}).`)
    expect(r.json().operations.some((o: { operation: string }) => o.operation === 'CreateTrainingJob')).toBe(true)
  })

  it('stops at a repository root: a config above the folder holding .git is not used', async () => {
    const dir = await tempProject(CONFIG, { 'code/train.py': '' })
    const inner = path.join(dir, 'other-repo', 'src')
    await mkdir(path.join(dir, 'other-repo', '.git'), { recursive: true })
    await mkdir(inner, { recursive: true })
    const r = await runMlops(['train', '--dry-run'], { cwd: inner, ...NO_AWS })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain(`No config file at ${path.join(inner, 'mlops.config.yaml')}.`)
  })

  it('./mlops.config.yaml wins and is used silently; --config is never searched for', async () => {
    const dir = await tempProject(CONFIG, { 'code/train.py': '', 'sub/mlops.config.yaml': CONFIG, 'sub/code/train.py': '' })
    const here = await runMlops(['train', '--dry-run'], { cwd: path.join(dir, 'sub'), ...NO_AWS })
    expect(here.code, here.stderr).toBe(0)
    expect(here.stderr).not.toContain('Using ')
    const given = await runMlops(['train', '--dry-run', '-c', 'missing.yaml'], { cwd: path.join(dir, 'sub'), ...NO_AWS })
    expect(given.code).toBe(2)
    expect(given.stderr).toContain(`No config file at ${path.join(dir, 'sub', 'missing.yaml')}.`)
  })

  it('init in a subfolder writes there, never into the parent project', async () => {
    const dir = await tempProject(CONFIG, { 'sub/.keep': '' })
    const r = await runMlops(['init', '--project', 'dogs', '--no-scripts', '--json'], { cwd: path.join(dir, 'sub'), ...NO_AWS })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json().path).toBe(path.join(dir, 'sub', 'mlops.config.yaml'))
  })
})
