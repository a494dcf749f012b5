import { describe, expect, it } from 'vitest'
import { noAwsFactory } from '../helpers/aws.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 27, the smaller CLI-side hostile inputs: each refused with exit 2, naming the flag or field,
 * before anything is read from AWS or written.
 */

const offline = (dir: string) => ({ cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory() })

describe('launcher-set paths are not hyperparameters', () => {
  it('refuses model-dir and the data and output folders, from a flag or the config, in every spelling', { timeout: 60_000 }, async () => {
    // --local checks the folder layout first: class folders, no images needed to reach the refusal.
    const dir = await tempProject(minimalConfig(), { 'dogImages/train/a/.keep': '', 'dogImages/valid/a/.keep': '' })
    for (const [key, spelled] of [
      ['model-dir', 'model-dir=/tmp/x'],
      ['model_dir', 'model_dir=/tmp/x'],
      ['train', 'train=/tmp/t'],
      ['valid', 'valid=/tmp/v'],
      ['output-data-dir', 'output-data-dir=/tmp/o'],
    ]) {
      for (const cmd of [['train'], ['train', '--local']]) {
        const run = await runMlops([...cmd, '--hyperparameter', spelled, '--dry-run'], offline(dir))
        expect(run.code, `${cmd.join(' ')} ${spelled}: ${run.stderr}`).toBe(2)
        expect(run.stderr).toContain(`--hyperparameter ${key}: "${key}" is a path the launcher sets for the training script, not a hyperparameter.`)
        expect(run.stderr).toContain('The launcher sets model-dir, train, valid, validation, test, output-data-dir')
        expect(run.stderr).not.toMatch(/Unexpected error|\n\s+at /)
      }
    }
    const fromConfig = await tempProject(minimalConfig('training:\n  hyperparameters:\n    model-dir: /opt/ml/elsewhere\n'))
    for (const cmd of [['train'], ['train-ec2']]) {
      const run = await runMlops([...cmd, '--dry-run'], offline(fromConfig))
      expect(run.code, `${cmd.join(' ')}: ${run.stderr}`).toBe(2)
      expect(run.stderr).toContain('training.hyperparameters.model-dir: "model-dir" is a path the launcher sets')
    }
  })

  it('still passes an ordinary hyperparameter and checkpoint-dir', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['train', '--hyperparameter', 'epochs=2', '--hyperparameter', 'checkpoint-dir=/opt/ml/checkpoints', '--dry-run'], offline(dir))
    expect(run.code, run.stderr).toBe(0)
  })
})

describe('loadtest --peak-rps', () => {
  it('is bounded by what the recommendation scale reads can hold', async () => {
    const dir = await tempProject(minimalConfig())
    for (const value of ['1e308', '20000', 'Infinity']) {
      const run = await runMlops(['loadtest', '--local', '--peak-rps', value, '--dry-run'], offline(dir))
      expect(run.code, value).toBe(2)
      expect(run.stderr).toMatch(/--peak-rps: (must be at most 16666 requests per second|must be a number of requests per second above 0)/)
    }
    const ok = await runMlops(['loadtest', '--local', '--peak-rps', '16666', '--dry-run'], offline(dir))
    expect(ok.code, ok.stderr).toBe(0)
  })
})

describe('data.prefix and --prefix', () => {
  it('refuse a right-to-left override and other invisible characters, naming the field', async () => {
    for (const bad of ['data\u202Egpj.exe', 'data\u200Bset', 'data\u2066x\u2069', 'data\u0085x']) {
      const dir = await tempProject(
        minimalConfig(`  prefix: "${bad.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"\n`),
      )
      const cfg = await runMlops(['upload-data', '--dry-run'], offline(dir))
      expect(cfg.code, JSON.stringify(bad)).toBe(2)
      expect(cfg.stderr).toMatch(/data\.prefix: no (right-to-left override|NUL or other control characters)/)
      const flagDir = await tempProject(minimalConfig())
      const flag = await runMlops(['upload-data', '--prefix', bad, '--dry-run'], offline(flagDir))
      expect(flag.code).toBe(2)
      expect(flag.stderr).toMatch(/--prefix: no (right-to-left override|NUL or other control characters)/)
    }
  })
})
