import { describe, expect, it } from 'vitest'
import { MIN_RUN_SECONDS, trainBudget, tuneBudget } from '../../src/features/training/budget.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'

/** Issue 18 item 5: --budget (USD) sets the limits from price x instances, and shows its arithmetic. */

const ROLE = 'arn:aws:iam::123456789012:role/r'
const g4dn = { instanceType: 'ml.g4dn.xlarge', instanceCount: 1, spot: false, maxRuntimeSeconds: 7200, maxWaitSeconds: 14400 }

describe('budget arithmetic', () => {
  it('train: seconds = budget / (hourly x instances), capped by training.maxRuntime', () => {
    // $1 / $0.736/h = 1.3587 h = 4891 s.
    expect(trainBudget(1, g4dn)).toMatchObject({ hourlyUsd: 0.736, coversSeconds: 4891, maxRuntimeSeconds: 4891, limitedBy: 'budget' })
    expect(trainBudget(1, g4dn).arithmetic).toBe('$1.00 ÷ ($0.74/h × 1 instance = $0.74/h) = 1h21m; max runtime 1h21m (set by the budget)')
    // $20 / (4 x $0.736/h) = 6.79 h: more than the 2 h limit, which stays.
    expect(trainBudget(20, { ...g4dn, instanceCount: 4 })).toMatchObject({ coversSeconds: 24456, maxRuntimeSeconds: 7200, limitedBy: 'training.maxRuntime' })
  })

  it('spot: MaxWaitTimeInSeconds keeps the configured capacity wait on top of the budgeted run', () => {
    const b = trainBudget(1, { ...g4dn, spot: true })
    expect(b).toMatchObject({ maxRuntimeSeconds: 4891, maxWaitSeconds: 4891 + (14400 - 7200) })
    expect(b.arithmetic).toContain('max wait 3h21m (spot capacity wait is not billed)')
  })

  it('refuses a budget below a minimum run, saying what it covers and the minimum', () => {
    expect(MIN_RUN_SECONDS).toBe(900)
    expect(() => trainBudget(0.1, g4dn)).toThrow('--budget $0.10 covers 8m9s at $0.74/h × 1 instance = $0.74/h; a training run needs at least 15m.')
    try {
      trainBudget(0.1, g4dn)
    } catch (err) {
      expect((err as { hint: string }).hint).toContain('Raise --budget to at least $0.19')
    }
    expect(() => trainBudget(5, { ...g4dn, instanceType: 'ml.unknown.xlarge' })).toThrow(/not in the built-in price table/)
  })

  it('tune: jobs = budget / (hourly x instances x max runtime), never above --max-jobs', () => {
    // One job at most $0.736 x 2 h = $1.472: $5 covers 3.
    expect(tuneBudget(5, g4dn)).toMatchObject({ perJobUsd: 1.47, jobs: 3 })
    expect(tuneBudget(5, g4dn).arithmetic).toBe('$5.00 ÷ ($0.74/h × 1 instance × 2h max runtime = $1.47 per job) = 3 jobs')
    expect(tuneBudget(5, g4dn, 2)).toMatchObject({ jobs: 2 })
    expect(tuneBudget(5, g4dn, 2).arithmetic).toContain('--max-jobs 2 is the tighter limit')
    expect(() => tuneBudget(1, g4dn)).toThrow('--budget $1.00 covers 68% of one tuning job')
  })
})

describe('--budget in the dry-run plan', () => {
  const TUNING = '  tuning:\n    objective: { metric: val_accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n'

  it('train --budget 1: MaxRuntimeInSeconds from the budget, the arithmetic in the notes and the JSON', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n`))
    const r = await runMlops(['train', '--dry-run', '--json', '--budget', '1'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    expect(out.budget).toMatchObject({ budgetUsd: 1, coversSeconds: 4891, maxRuntimeSeconds: 4891, limitedBy: 'budget' })
    expect(out.estimatedCost).toMatchObject({ maxRuntimeSeconds: 4891, maxUsd: 1 })
    const create = out.operations.find((o: { operation: string }) => o.operation === 'CreateTrainingJob').input
    expect(create.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 4891 })
    const human = await runMlops(['train', '--dry-run', '--budget', '$1'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(human.stdout).toMatch(/budget\s+\$1\.00 ÷ \(\$0\.74\/h × 1 instance = \$0\.74\/h\) = 1h21m; max runtime 1h21m \(set by the budget\)/)
  })

  it('train --spot --budget 1 sets both limits', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n`))
    const r = await runMlops(['train', '--dry-run', '--json', '--spot', '--budget', '1'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    const create = r.json().operations.find((o: { operation: string }) => o.operation === 'CreateTrainingJob').input
    expect(create.StoppingCondition).toEqual({ MaxRuntimeInSeconds: 4891, MaxWaitTimeInSeconds: 12091 })
  })

  it('tune --budget 5: three jobs, two at a time, and the arithmetic', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${TUNING}`))
    const r = await runMlops(['tune', '--dry-run', '--json', '--budget', '5'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    const out = r.json()
    expect(out.budget).toMatchObject({ jobs: 3, perJobUsd: 1.47 })
    const create = out.operations.find((o: { operation: string }) => o.operation === 'CreateHyperParameterTuningJob').input
    expect(create.HyperParameterTuningJobConfig.ResourceLimits).toEqual({ MaxNumberOfTrainingJobs: 3, MaxParallelTrainingJobs: 2 })
    const human = await runMlops(['tune', '--dry-run', '--budget', '5'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(human.stdout).toContain('$5.00 ÷ ($0.74/h × 1 instance × 2h max runtime = $1.47 per job) = 3 jobs')
  })

  it('bad or too small budgets exit 2 before any AWS call', async () => {
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n${TUNING}`))
    for (const [args, text] of [
      [['train', '--budget', 'twenty'], '--budget: must be a positive amount of US dollars, got "twenty".'],
      [['train', '--budget', '0'], '--budget: must be a positive amount of US dollars, got "0".'],
      [['train', '--budget', '0.1'], 'a training run needs at least 15m'],
      [['tune', '--budget', '1'], 'covers 68% of one tuning job'],
    ] as const) {
      const r = await runMlops([...args, '--yes'], { cwd: dir, awsFactory: noAwsFactory() })
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toContain(text)
    }
  })
})
