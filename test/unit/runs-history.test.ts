import {
  DescribeHyperParameterTuningJobCommand,
  ListHyperParameterTuningJobsCommand,
  ListTagsCommand,
  SageMakerClient,
  SearchCommand,
} from '@aws-sdk/client-sagemaker'
import { beforeEach, describe, expect, it } from 'vitest'
import { perClassOf } from '../../src/features/runs/local-runs.js'
import { epochsFromLines, compareRuns } from '../../src/features/runs/runs-compare.js'
import { sortRuns } from '../../src/features/runs/runs.js'
import { decodeHyperparameters, differingHyperparameters } from '../../src/features/runs/run-hyperparameters.js'
import { jobNameFilter, listSageMakerRuns } from '../../src/features/runs/sagemaker-runs.js'
import { isProjectResource } from '../../src/shared/project-ownership.js'
import { legacyTuningJobBase, tuningJobBase } from '../../src/shared/naming.js'
import type { RunSummary } from '../../src/features/runs/types.js'
import { TABLE_PRICES } from '../../src/shared/pricing.js'
import { FAKE_CREDENTIALS } from '../helpers/aws.js'
import { sdkMock } from '../helpers/mock-sdk.js'

const client = new SageMakerClient({ region: 'us-east-1', credentials: FAKE_CREDENTIALS, maxAttempts: 1 })
const sm = sdkMock(SageMakerClient)

const run = (name: string, over: Partial<RunSummary> = {}): RunSummary => ({
  name,
  kind: 'training',
  where: 'sagemaker',
  status: 'Completed',
  spot: false,
  hyperparameters: {},
  metrics: {},
  ...over,
})

describe('project ownership', () => {
  it('is a name mlops generates for the project and the mlops:project tag equal to it, never a prefix or another key', () => {
    const dogs = [{ Key: 'mlops:project', Value: 'dogs' }]
    expect(isProjectResource('dogs', { name: 'dogs-train-2026-11-22-10-00-00-000', tags: dogs })).toBe(true)
    expect(isProjectResource('dogs', { name: 'dogs-train-2026-11-22-10-00-00-000', tags: [{ Key: 'mlops:project', Value: 'dogs-v2' }] })).toBe(false)
    expect(isProjectResource('dogs', { name: 'dogs-v2-train-2026-11-22-10-00-00-000', tags: dogs })).toBe(false)
    expect(isProjectResource('dogs', { name: 'dogs-train-2026-11-22-10-00-00-000', tags: [{ Key: 'project', Value: 'dogs' }] })).toBe(false)
    expect(isProjectResource('dogs', { name: 'dogs-train-2026-11-22-10-00-00-000', tags: undefined })).toBe(false)
  })

  it('lists tuning jobs by a filter that finds both the current (13 characters + hash) and the older (19 characters) names', () => {
    const project = 'a-very-long-project-name'
    expect(tuningJobBase(project).startsWith(jobNameFilter(project))).toBe(true)
    expect(legacyTuningJobBase(project).startsWith(jobNameFilter(project))).toBe(true)
  })
})

describe('listSageMakerRuns', () => {
  beforeEach(() => sm.onAnyCommand().resolves({}))

  const job = (name: string, project: string, over: object = {}) => ({
    TrainingJobName: name,
    TrainingJobArn: `arn:aws:sagemaker:cn-north-1:123456789012:training-job/${name}`,
    TrainingJobStatus: 'Completed',
    ResourceConfig: { InstanceType: 'ml.g4dn.xlarge', InstanceCount: 2, VolumeSizeInGB: 30 },
    Tags: [{ Key: 'mlops:project', Value: project }],
    ...over,
  })

  it('searches by the exact tag page by page, keeps only tagged jobs, and describes only the tuning jobs that are ours', async () => {
    sm.on(SearchCommand)
      .resolvesOnce({
        Results: [
          {
            TrainingJob: job('dogs-train-1', 'dogs', {
              EnableManagedSpotTraining: true,
              TrainingTimeInSeconds: 1000,
              BillableTimeInSeconds: 300,
              HyperParameters: { lr: '0.001', sagemaker_program: '"train.py"', batch_size: '32' },
              FinalMetricDataList: [{ MetricName: 'val_accuracy', Value: 0.9 }],
              TuningJobArn: 'arn:aws:sagemaker:cn-north-1:123456789012:hyper-parameter-tuning-job/dogs-261122-1000',
            }),
          },
        ],
        NextToken: 't2',
      } as never)
      .resolvesOnce({ Results: [{ TrainingJob: job('dogs-v2-train-1', 'dogs-v2', { BillableTimeInSeconds: 10 }) }] } as never)
    sm.on(ListHyperParameterTuningJobsCommand).resolves({
      HyperParameterTuningJobSummaries: [
        { HyperParameterTuningJobName: 'dogs-261122-1000', HyperParameterTuningJobArn: 'arn:t1' },
        { HyperParameterTuningJobName: 'dogs-v2-261122-1000', HyperParameterTuningJobArn: 'arn:t2' },
      ] as never,
    })
    sm.on(ListTagsCommand, { ResourceArn: 'arn:t1' }).resolves({ Tags: [{ Key: 'mlops:project', Value: 'dogs' }] })
    sm.on(ListTagsCommand, { ResourceArn: 'arn:t2' }).resolves({ Tags: [{ Key: 'mlops:project', Value: 'dogs-v2' }] })
    sm.on(DescribeHyperParameterTuningJobCommand).resolves({
      HyperParameterTuningJobName: 'dogs-261122-1000',
      HyperParameterTuningJobStatus: 'Completed',
    } as never)
    const runs = await listSageMakerRuns(client, { project: 'dogs', region: 'cn-north-1', now: 0, prices: async () => TABLE_PRICES })
    const search = {
      Resource: 'TrainingJob',
      SearchExpression: { Filters: [{ Name: 'Tags.mlops:project', Operator: 'Equals', Value: 'dogs' }] },
      SortBy: 'CreationTime',
      SortOrder: 'Descending',
      MaxResults: 100,
    }
    expect(sm.commandCalls(SearchCommand).map((c) => c.args[0].input)).toEqual([search, { ...search, NextToken: 't2' }])
    expect(sm.commandCalls(ListHyperParameterTuningJobsCommand).map((c) => c.args[0].input)).toEqual([
      { NameContains: 'dogs', MaxResults: 100, SortBy: 'CreationTime', SortOrder: 'Descending' },
    ])
    expect(sm.commandCalls(DescribeHyperParameterTuningJobCommand).map((c) => c.args[0].input)).toEqual([{ HyperParameterTuningJobName: 'dogs-261122-1000' }])
    expect(runs.map((r) => r.name)).toEqual(['dogs-train-1', 'dogs-261122-1000'])
    expect(runs[0]).toMatchObject({
      spotSavings: 0.7,
      hyperparameters: { lr: 0.001, 'batch-size': 32 },
      metrics: { val_accuracy: 0.9 },
      tuningJob: 'dogs-261122-1000',
      consoleUrl: 'https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#/jobs/dogs-train-1',
    })
    expect(runs[0].costUsd).toBeCloseTo((0.736 * 2 * 300) / 3600, 4)
    // A tuning job costs what its training jobs cost.
    expect(runs[1]).toMatchObject({
      kind: 'tuning',
      costUsd: runs[0].costUsd,
      consoleUrl: 'https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#/hyper-tuning-jobs/dogs-261122-1000',
    })
  })
})

describe('run history helpers', () => {
  it('decodes wire hyperparameters and finds the ones that differ', () => {
    expect(decodeHyperparameters({ lr: '0.001', arch: '"resnet18"', amp: 'true', _tuning_objective_metric: 'x' })).toEqual({
      lr: 0.001,
      arch: 'resnet18',
      amp: true,
    })
    expect(
      differingHyperparameters([
        { lr: 0.001, epochs: 3 },
        { lr: 0.001, epochs: 5 },
        { lr: 0.001, epochs: 3, seed: 1 },
      ]),
    ).toEqual(['epochs', 'seed'])
    expect(differingHyperparameters([{ lr: 1 }])).toEqual([])
  })

  it('sorts by a metric best first (losses lowest first), runs without it last', () => {
    const runs = [
      run('a', { metrics: { test_accuracy: 0.5, val_loss: 1 } }),
      run('b', { metrics: {} }),
      run('c', { metrics: { test_accuracy: 0.9, val_loss: 2 } }),
    ]
    expect(sortRuns(runs, 'test_accuracy').map((r) => r.name)).toEqual(['c', 'a', 'b'])
    expect(sortRuns(runs, 'val_loss').map((r) => r.name)).toEqual(['a', 'c', 'b'])
  })

  it('reads the epochs of one job from its own streams only', () => {
    const lines = [
      { stream: 'dogs-train-1/algo-1-1', message: 'epoch=2 train_loss=0.5 val_loss=0.4 val_accuracy=0.8' },
      { stream: 'dogs-train-1/algo-1-1', message: 'epoch=1 train_loss=0.9 val_loss=0.7 val_accuracy=0.6' },
      { stream: 'dogs-train-10/algo-1-1', message: 'epoch=1 train_loss=9 val_loss=9 val_accuracy=0.01' },
      { stream: 'dogs-train-1/algo-1-1', message: 'test_accuracy=0.79 test_loss=0.5' },
    ]
    expect(epochsFromLines(lines, 'dogs-train-1').map((e) => e.val_accuracy)).toEqual([0.6, 0.8])
  })

  it('reads per-class accuracy from a list or a map, and nothing from an unknown shape', () => {
    expect(perClassOf({ per_class: [{ class: 'Akita', recall: 0.5, support: 2 }] })).toEqual([{ class: 'Akita', accuracy: 0.5, support: 2 }])
    expect(perClassOf({ per_class: { Akita: { recall: 1 } } })).toEqual([{ class: 'Akita', accuracy: 1 }])
    expect(perClassOf({ confusion: [[1]] })).toBeUndefined()
  })

  it('compares two runs: differing hyperparameters, metric deltas, per-class deltas largest first', () => {
    const a = {
      run: run('a', { hyperparameters: { lr: 0.1, epochs: 3 }, metrics: { test_accuracy: 0.5 }, costUsd: 1 }),
      epochs: [],
      epochsSource: 'none' as const,
      perClass: [
        { class: 'x', accuracy: 0.5 },
        { class: 'y', accuracy: 0.5 },
      ],
    }
    const b = {
      run: run('b', { hyperparameters: { lr: 0.2, epochs: 3 }, metrics: { test_accuracy: 0.75 }, costUsd: 3 }),
      epochs: [],
      epochsSource: 'none' as const,
      perClass: [
        { class: 'x', accuracy: 0.6 },
        { class: 'y', accuracy: 0.1 },
      ],
    }
    const c = compareRuns(a, b, 'note')
    expect(c.hyperparameters).toEqual([{ name: 'lr', a: 0.1, b: 0.2 }])
    expect(c.metrics).toEqual([{ name: 'test_accuracy', a: 0.5, b: 0.75, delta: 0.25 }])
    expect(c.perClass.map((p) => [p.name, p.delta])).toEqual([
      ['y', -0.4],
      ['x', 0.1],
    ])
    expect(c.cost).toEqual({ a: 1, b: 3, delta: 2 })
  })
})
