import { Chalk } from 'chalk'
import { describe, expect, it } from 'vitest'
import { nextStep } from '../../src/commands/next-steps.js'
import { renderLocalTrain } from '../../src/features/local/render.js'
import { renderTrainingResult } from '../../src/features/training/render.js'
import { epochHistory, epochSummaryLines } from '../../src/shared/metrics.js'

const c = new Chalk({ level: 0 })
const LINES = [
  'epoch=1 train_loss=2.000 val_loss=1.500 val_accuracy=0.400 images_per_sec=100',
  'loading batch 7', // not a metric line
  'epoch=2 train_loss=1.000 val_loss=1.000 val_accuracy=0.600 images_per_sec=100',
  'epoch=2 train_loss=0.900 val_loss=0.900 val_accuracy=0.650 images_per_sec=100', // a resumed spot job prints epoch 2 again
  'epoch=3 train_loss=0.500 val_loss=1.100 val_accuracy=0.700 images_per_sec=100',
  'test_accuracy=0.690 test_loss=1.050',
]

describe('the end of train: per-epoch accuracy and loss', () => {
  it('folds metric lines into one entry per epoch, the later line winning', () => {
    const epochs = epochHistory(LINES)
    expect(epochs.map((e) => [e.epoch, e.val_accuracy])).toEqual([
      [1, 0.4],
      [2, 0.65],
      [3, 0.7],
    ])
  })

  it('draws val accuracy and the losses as sparklines with first, last and best values', () => {
    expect(epochSummaryLines(epochHistory(LINES))).toEqual([
      '  per epoch (3 epochs)',
      '  val_accuracy ▁▇█  0.400 → 0.700 (best 0.700)',
      '  val_loss     █▁▃  1.500 → 1.100 (best 0.900)',
      '  train_loss   █▃▁  2.000 → 0.500 (best 0.500)',
    ])
    expect(epochSummaryLines([])).toEqual([])
  })

  it('a SageMaker train ends with the sparklines and the console links', () => {
    const text = renderTrainingResult(
      {
        jobName: 'dogs-train-1',
        status: 'Completed',
        metrics: { val_accuracy: 0.7 },
        distribution: { mode: 'none', reason: 'one instance' },
        epochs: epochHistory(LINES),
        consoleUrl: 'https://console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/dogs-train-1',
        logsConsoleUrl: 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/x',
      },
      c,
    )
    expect(text).toContain('  console        https://console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/dogs-train-1')
    expect(text).toContain('  val_accuracy ▁▇█  0.400 → 0.700 (best 0.700)')
    expect(text).not.toContain('Next:') // the next step goes to stderr (next-steps.ts)
  })

  it('a local train ends with the same sparklines', () => {
    const text = renderLocalTrain(
      {
        jobName: 'dogs-local-1',
        mode: 'local',
        instances: 1,
        python: 'python3',
        modelArtifact: '/p/.mlops/local/dogs-local-1/model.tar.gz',
        modelDir: '/p/.mlops/local/dogs-local-1/model',
        metrics: {},
        epochs: epochHistory(LINES),
        durationSeconds: 12,
      },
      c,
    )
    expect(text).toContain('  val_loss     █▁▃  1.500 → 1.100 (best 0.900)')
  })
})

describe('the next step after each command', () => {
  it('follows the result: a finished job leads to deploy, a running one to logs, a plan to the real run', () => {
    expect(nextStep('train', { kind: 'done', result: { jobName: 'j', status: 'Completed' } })).toBe(
      'mlops deploy (uses this model); compare runs with mlops runs',
    )
    expect(nextStep('train', { kind: 'done', result: { jobName: 'j', status: 'InProgress' } })).toBe('mlops logs j')
    expect(nextStep('train', { kind: 'done', result: { jobName: 'j', mode: 'local' } })).toMatch(/^mlops runs/)
    expect(nextStep('deploy', { kind: 'plan' })).toBe('mlops deploy without --dry-run sends these requests')
    expect(nextStep('status', { kind: 'done', result: { hourlyTotal: 1.2 } })).toMatch(/^mlops teardown/)
    expect(nextStep('runs', { kind: 'done', result: { runs: [{ name: 'new' }, { name: 'old' }] } })).toBe('mlops runs compare old new')
    expect(nextStep('completion', { kind: 'done', result: {} })).toBeUndefined()
  })
})
