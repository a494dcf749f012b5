import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { checkHyperparameters, closestHyperparameter } from '../../src/shared/hyperparameters.js'
import { bundledScriptsDir } from '../../src/shared/package-root.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'

/** Issue 14 item 11: a bad hyperparameter exits 2 naming its dotted path, before any AWS call. */

const ROLE = 'arn:aws:iam::123456789012:role/r'
const trainWith = async (training: string, args: string[] = [], files: Record<string, string> = {}) => {
  const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${training}`), files)
  return runMlops(['train', '--yes', ...args], { cwd: dir, awsFactory: noAwsFactory() })
}

describe('hyperparameters checked against the script’s hyperparameters.json', () => {
  it('epochs: -3 exits 2 with training.hyperparameters.epochs and the allowed range, and no AWS client', async () => {
    const r = await trainWith('  hyperparameters: { epochs: -3 }\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('training.hyperparameters.epochs: must be between 1 and 1000, got -3')
    expect(r.stderr).not.toContain('AWS must not be reached')
  })

  it('epochs: four is not a whole number', async () => {
    const r = await trainWith('  hyperparameters: { epochs: four }\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('training.hyperparameters.epochs: expected a whole number between 1 and 1000, got "four"')
  })

  it('an unknown choice lists the choices', async () => {
    const r = await trainWith('  hyperparameters: { arch: resnet99 }\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('training.hyperparameters.arch: must be one of resnet18, resnet34, resnet50, got "resnet99"')
  })

  it('a bool takes true/false, not any word', async () => {
    const r = await trainWith('  hyperparameters: { freeze-backbone: maybe }\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('training.hyperparameters.freeze-backbone: expected true or false, got "maybe"')
  })

  it('every problem is listed at once', async () => {
    const r = await trainWith('  hyperparameters: { epochs: 0, lr: -1, batch_size: 2.5 }\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('3 invalid values')
    expect(r.stderr).toContain('training.hyperparameters.lr: must be between 0 and 10, got -1')
    expect(r.stderr).toContain('training.hyperparameters.batch_size: expected a whole number between 1 and 4096, got 2.5')
  })

  it('--hyperparameter is checked too and named as the flag; a flag replaces a bad config value', async () => {
    const r = await trainWith('  hyperparameters: { epochs: 5 }\n', ['--hyperparameter', 'epochs=5000'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('--hyperparameter epochs=5000: must be between 1 and 1000, got 5000')
    const fixed = await trainWith('  hyperparameters: { epochs: -3 }\n', ['--hyperparameter', 'epochs=3', '--dry-run'])
    expect(fixed.code, fixed.stderr).toBe(0)
  })

  it('tuning ranges are checked against the same bounds', async () => {
    const dir = await tempProject(
      minimalConfig(`training:
  tuning:
    objective: { metric: val_accuracy }
    ranges:
      epochs: { type: integer, min: 0, max: 5 }
      arch: { type: categorical, values: [resnet18, vgg16] }
`),
    )
    const r = await runMlops(['tune', '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('training.tuning.ranges.epochs.min: must be between 1 and 1000, got 0')
    expect(r.stderr).toContain('training.tuning.ranges.arch.values.1: must be one of resnet18, resnet34, resnet50, got "vgg16"')
  })

  it('valid values pass, including the spellings train.py accepts (10.0, "true", amp: false)', async () => {
    const r = await trainWith('  hyperparameters: { epochs: 10.0, freeze-backbone: "true", amp: false, lr: "0.01" }\n', ['--dry-run', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json().dryRun).toBe(true)
  })

  it('a user script without hyperparameters.json is passed through unchecked', async () => {
    const r = await trainWith('  sourceDir: code\n  hyperparameters: { epochs: -3 }\n', ['--dry-run', '--json'], { 'code/train.py': 'print(1)\n' })
    expect(r.code, r.stderr).toBe(0)
    const create = r.json().operations.find((o: { operation: string }) => o.operation === 'CreateTrainingJob').input
    expect(create.HyperParameters.epochs).toBe('-3')
    expect(await checkHyperparameters(path.join('/nonexistent'), { epochs: -3 }, { source: 'config' })).toEqual({ checked: false, unknown: [] })
  })

  it('names the script does not declare are reported, not rejected', async () => {
    expect(await checkHyperparameters(bundledScriptsDir(), { epoch: 3, epochs: 3 }, { source: 'config' })).toEqual({ checked: true, unknown: ['epoch'] })
    const r = await trainWith('  hyperparameters: { epoch: 3 }\n', ['--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('does not declare epoch: the script will ignore it')
  })
})

describe('a misspelt hyperparameter stops the run (issue 31 item 10)', () => {
  const dataset = { 'dogImages/train/a/1.jpg': 'x', 'dogImages/train/b/1.jpg': 'x', 'dogImages/valid/a/1.jpg': 'x', 'dogImages/valid/b/1.jpg': 'x' }
  const project = (training: string) => tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${training}`), dataset)

  it('epoch: 3 exits 2 with "Did you mean `epochs`?" unless --yes, before any AWS client', async () => {
    const dir = await project('  hyperparameters: { epoch: 3 }\n')
    const r = await runMlops(['train'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('does not declare epoch: the script will ignore it. Did you mean `epochs`?')
    expect(r.stderr).toContain('hint: Fix the name in training.hyperparameters in mlops.config.yaml')
    expect(r.stderr).toContain('or pass --yes to run with it ignored.')
    expect(r.stderr).not.toContain('AWS must not be reached')
    const local = await runMlops(['train', '--local'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(local.code, local.stderr).toBe(2)
    expect(local.stderr).toContain('Did you mean `epochs`?')
  })

  it('--hyperparameter lrr=0.1 names the flag; --dry-run warns that a real run stops', async () => {
    const dir = await project('')
    const r = await runMlops(['train', '--hyperparameter', 'lrr=0.1'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('Did you mean `lr`?')
    expect(r.stderr).toContain('hint: Fix the name in the --hyperparameter flag')
    const dry = await runMlops(['train', '--dry-run', '--hyperparameter', 'lrr=0.1'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stderr).toContain('A real run stops here unless --yes.')
  })

  it('closestHyperparameter guesses only near names', () => {
    const names = ['epochs', 'batch-size', 'lr', 'arch']
    expect(closestHyperparameter('epoch', names)).toBe('epochs')
    expect(closestHyperparameter('batch_sise', names)).toBe('batch-size')
    expect(closestHyperparameter('learning-rate', names)).toBeUndefined()
    expect(closestHyperparameter('xy', names)).toBeUndefined()
  })

  it('mlops train --epochs 3 suggests --hyperparameter epochs=3 (exit 2)', async () => {
    const dir = await project('')
    const r = await runMlops(['train', '--epochs', '3'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain("unknown option '--epochs'")
    expect(r.stderr).toContain('hint: --epochs is a hyperparameter of the training script, not an mlops flag: pass --hyperparameter epochs=3.')
    const eq = await runMlops(['train', '--batch_size=8'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(eq.stderr).toContain('pass --hyperparameter batch-size=8.')
    const other = await runMlops(['train', '--frobnicate'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(other.code).toBe(2)
    expect(other.stderr).toContain('Run the command with --help for usage.')
  })
})

describe('training.sourceDir unset: the bundled scripts', () => {
  it('packages the scripts shipped with mlops and the plan says so', async () => {
    const r = await trainWith('', ['--dry-run'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`from the scripts bundled with mlops (${bundledScriptsDir()})`)
    const configured = await trainWith('  sourceDir: code\n', ['--dry-run'], { 'code/train.py': '' })
    expect(configured.stdout).toContain('from code (training.sourceDir)')
  })
})
