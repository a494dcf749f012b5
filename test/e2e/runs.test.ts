import { existsSync } from 'node:fs'
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { CreateTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `mlops runs` and `mlops runs compare` on moto: SageMaker jobs found by their mlops:project tag
 * (never by a shared name prefix), local runs by their folders, with .mlops/state.json absent.
 * moto completes every job at once without metrics or billable time; the harness's
 * training-job-results shim gives them what a real finished job reports.
 */

let moto: MotoServer
let sm: SageMakerClient
let logs: CloudWatchLogsClient
let env: Record<string, string>
let dir: string

beforeAll(async () => {
  moto = await startMoto()
  sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  logs = new CloudWatchLogsClient(motoClientConfig(moto.endpoint))
  env = motoEnv(moto.endpoint)
})
afterAll(async () => moto?.stop())

interface JobSpec {
  readonly name: string
  readonly project?: string
  readonly hp: Record<string, string>
  readonly spot?: boolean
  readonly instanceType?: string
  readonly instanceCount?: number
}

async function createJob(j: JobSpec): Promise<void> {
  await sm.send(
    new CreateTrainingJobCommand({
      TrainingJobName: j.name,
      AlgorithmSpecification: { TrainingImage: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-gpu-py311', TrainingInputMode: 'File' },
      RoleArn: 'arn:aws:iam::123456789012:role/dogs-sagemaker',
      OutputDataConfig: { S3OutputPath: 's3://dogs-data/output' },
      ResourceConfig: { InstanceType: (j.instanceType ?? 'ml.g4dn.xlarge') as never, InstanceCount: j.instanceCount ?? 1, VolumeSizeInGB: 30 },
      StoppingCondition: { MaxRuntimeInSeconds: 3600 },
      HyperParameters: { ...j.hp, sagemaker_program: '"train.py"' },
      ...(j.spot ? { EnableManagedSpotTraining: true } : {}),
      ...(j.project ? { Tags: [{ Key: 'mlops:project', Value: j.project }] } : {}),
    }),
  )
}

/** Metrics, training and billable seconds, and times, as a finished job reports them (the harness shim). */
async function setResults(jobs: Record<string, Record<string, unknown>>): Promise<void> {
  const res = await fetch(`${moto.endpoint}/moto-api/static/sagemaker/training-job-results`, { method: 'POST', body: JSON.stringify({ jobs }) })
  expect(res.status, await res.text()).toBe(201)
}

const metrics = (val: number, test: number) => [
  { MetricName: 'val_accuracy', Value: val },
  { MetricName: 'test_accuracy', Value: test },
  { MetricName: 'val_loss', Value: 0.5 },
]

/** A local run folder as `train --local` leaves it (features/local/plan.ts localJobLayout). */
async function localRun(
  name: string,
  hp: Record<string, string | number>,
  history: { val_accuracy: number; val_loss: number }[],
  test: number,
  evaluation?: object,
) {
  const root = path.join(dir, '.mlops', 'local', name)
  await mkdir(path.join(root, 'input', 'config'), { recursive: true })
  await mkdir(path.join(root, 'output', 'data'), { recursive: true })
  await mkdir(path.join(root, 'model'), { recursive: true })
  const wire = Object.fromEntries(Object.entries(hp).map(([k, v]) => [k, JSON.stringify(v)]))
  await writeFile(path.join(root, 'input', 'config', 'hyperparameters.json'), JSON.stringify(wire))
  await writeFile(path.join(root, 'input', 'config', 'resourceconfig.json'), JSON.stringify({ current_host: 'algo-1', hosts: ['algo-1'] }))
  await writeFile(
    path.join(root, 'output', 'data', 'metrics.json'),
    JSON.stringify({ arch: 'resnet18', history: history.map((h, i) => ({ epoch: i + 1, train_loss: 1, ...h })), test_accuracy: test, test_loss: 0.4 }),
  )
  if (evaluation) await writeFile(path.join(root, 'model', 'evaluation.json'), JSON.stringify(evaluation))
  await writeFile(path.join(root, 'model.tar.gz'), 'not really a tarball')
  // Started when input/config was written, ended when model.tar.gz was: two minutes apart.
  const start = Date.parse(`${name.slice(11, 21)}T09:00:00Z`) / 1000
  await utimes(path.join(root, 'input', 'config', 'hyperparameters.json'), start, start)
  await utimes(path.join(root, 'model.tar.gz'), start + 120, start + 120)
}

const SM_A = 'dogs-train-2026-11-20-10-00-00-000'
const SM_B = 'dogs-train-2026-11-21-10-00-00-000'
const SM_C = 'dogs-train-2026-11-22-10-00-00-000'
const OTHER = 'dogs-v2-train-2026-11-22-11-00-00-000'
const UNTAGGED = 'dogs-train-2026-11-22-12-00-00-000'
const LOCAL_A = 'dogs-local-2026-11-23-09-00-00-000'
const LOCAL_B = 'dogs-local-2026-11-24-09-00-00-000'

describe('mlops runs (moto, no state file)', () => {
  beforeEach(async () => {
    await moto.reset()
    dir = await tempProject(minimalConfig())
    await createJob({ name: SM_A, project: 'dogs', hp: { lr: '0.001', epochs: '10' } })
    await createJob({ name: SM_B, project: 'dogs', hp: { lr: '0.0005', epochs: '10' }, spot: true })
    await createJob({ name: SM_C, project: 'dogs', hp: { lr: '0.001', epochs: '20' }, instanceCount: 2 })
    // Another project whose name starts the same, and a job without the tag: neither is ours.
    await createJob({ name: OTHER, project: 'dogs-v2', hp: { lr: '0.1' } })
    await createJob({ name: UNTAGGED, hp: { lr: '0.2' } })
    const t0 = Date.parse('2026-11-20T10:00:00Z') / 1000
    await setResults({
      [SM_A]: {
        FinalMetricDataList: metrics(0.81, 0.8),
        TrainingTimeInSeconds: 1800,
        BillableTimeInSeconds: 1800,
        CreationTime: t0,
        TrainingStartTime: t0,
        TrainingEndTime: t0 + 1800,
      },
      [SM_B]: {
        FinalMetricDataList: metrics(0.84, 0.83),
        TrainingTimeInSeconds: 1800,
        BillableTimeInSeconds: 600,
        CreationTime: t0 + 86400,
        TrainingStartTime: t0 + 86400,
        TrainingEndTime: t0 + 88200,
      },
      [SM_C]: {
        FinalMetricDataList: metrics(0.86, 0.85),
        TrainingTimeInSeconds: 3600,
        BillableTimeInSeconds: 3600,
        CreationTime: t0 + 172800,
        TrainingStartTime: t0 + 172800,
        TrainingEndTime: t0 + 176400,
      },
      [OTHER]: { FinalMetricDataList: metrics(0.99, 0.99), TrainingTimeInSeconds: 60, BillableTimeInSeconds: 60 },
    })
    await localRun(
      LOCAL_A,
      { lr: 0.001, epochs: 3 },
      [
        { val_accuracy: 0.5, val_loss: 1.2 },
        { val_accuracy: 0.6, val_loss: 1.0 },
        { val_accuracy: 0.7, val_loss: 0.8 },
      ],
      0.69,
      {
        per_class: [
          { class: 'Akita', precision: 0.8, recall: 0.75, support: 4 },
          { class: 'Beagle', precision: 0.7, recall: 0.5, support: 4 },
        ],
      },
    )
    await localRun(
      LOCAL_B,
      { lr: 0.002, epochs: 3 },
      [
        { val_accuracy: 0.55, val_loss: 1.1 },
        { val_accuracy: 0.72, val_loss: 0.7 },
      ],
      0.71,
      {
        per_class: { Akita: { recall: 1, support: 4 }, Beagle: { recall: 0.25, support: 4 } },
      },
    )
    expect(existsSync(path.join(dir, '.mlops', 'state.json'))).toBe(false)
  })

  it('lists the three SageMaker jobs and the two local runs with metrics and cost, and not another project’s job', async () => {
    const run = await runMlops(['runs', '--json'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    const out = run.json()
    const byName = Object.fromEntries(out.runs.map((r: any) => [r.name, r]))
    expect(Object.keys(byName).sort()).toEqual([LOCAL_A, LOCAL_B, SM_A, SM_B, SM_C].sort())
    expect(out.total).toBe(5)
    // Newest first.
    expect(out.runs.map((r: any) => r.name)).toEqual([LOCAL_B, LOCAL_A, SM_C, SM_B, SM_A])
    expect(byName[SM_B]).toMatchObject({
      where: 'sagemaker',
      status: 'Completed',
      instanceType: 'ml.g4dn.xlarge',
      instanceCount: 1,
      spot: true,
      trainingSeconds: 1800,
      billableSeconds: 600,
      spotSavings: 0.667,
      durationSeconds: 1800,
      startedAt: '2026-11-21T10:00:00.000Z',
      hyperparameters: { lr: 0.0005, epochs: 10 },
      metrics: { val_accuracy: 0.84, test_accuracy: 0.83 },
      consoleUrl: `https://console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/${SM_B}`,
    })
    // ml.g4dn.xlarge at the built-in table's $0.736/h: 600 billable seconds, and 2 instances x 3600 s.
    expect(byName[SM_B].costUsd).toBeCloseTo((0.736 * 600) / 3600, 4)
    expect(byName[SM_C].costUsd).toBeCloseTo(0.736 * 2, 4)
    expect(byName[SM_A].spot).toBe(false)
    expect(byName[SM_A].spotSavings).toBeUndefined()
    expect(byName[LOCAL_A]).toMatchObject({
      where: 'local',
      status: 'Completed',
      instanceType: 'local',
      instanceCount: 1,
      costUsd: 0,
      hyperparameters: { lr: 0.001, epochs: 3 },
      metrics: { val_accuracy: 0.7, test_accuracy: 0.69 },
      startedAt: '2026-11-23T09:00:00.000Z',
      durationSeconds: 120,
    })
    expect(out.differingHyperparameters).toEqual(['epochs', 'lr'])
    expect(run.stdout).not.toContain(OTHER)
    expect(run.stdout).not.toContain(UNTAGGED)
  })

  it('prints a table with only the differing hyperparameters, and the next step on stderr', async () => {
    const run = await runMlops(['runs', '--last', '3', '--sort', 'test_accuracy'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    const lines = run.stdout.split('\n')
    const header = lines.find((l) => l.startsWith('run '))!
    expect(header.split(/\s{2,}/)).toEqual([
      'run',
      'where',
      'status',
      'start (UTC)',
      'duration',
      'instances',
      'spot',
      'epochs',
      'lr',
      'val acc',
      'test acc',
      'cost',
    ])
    // The 3 newest (two local, SM_C), best test accuracy first.
    const rows = lines.filter((l) => /^dogs-/.test(l)).map((l) => l.split(/\s+/)[0])
    expect(rows).toEqual([SM_C, LOCAL_B, LOCAL_A])
    expect(run.stdout).toContain('3 of 5 runs, sorted by test_accuracy.')
    expect(run.stdout).toContain('2 x ml.g4dn.xlarge')
    expect(run.stderr).toMatch(/Next:.* mlops runs compare /)
  })

  it('refuses an unknown --sort key, naming the flag and the choices (exit 2, nothing read)', async () => {
    const run = await runMlops(['runs', '--sort', 'accuracy'], { cwd: dir, env })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--sort: must be one of start, cost, duration, val_accuracy, test_accuracy')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })

  it('runs compare names the differing hyperparameters, epochs from CloudWatch and metrics.json, per-class and cost', async () => {
    const group = '/aws/sagemaker/TrainingJobs'
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }))
    const now = Date.now()
    const lines = {
      [`${SM_B}/algo-1-1700000000`]: ['epoch=1 train_loss=1.1 val_loss=0.9 val_accuracy=0.7', 'epoch=2 train_loss=0.8 val_loss=0.6 val_accuracy=0.84'],
      [`${SM_A}/algo-1-1700000000`]: ['epoch=1 train_loss=2 val_loss=2 val_accuracy=0.1'],
    }
    for (const [stream, messages] of Object.entries(lines)) {
      await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }))
      await logs.send(
        new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: messages.map((message, i) => ({ timestamp: now + i, message })) }),
      )
    }
    const run = await runMlops(['runs', 'compare', SM_B, LOCAL_A, '--json'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    const out = run.json()
    expect(out.hyperparameters).toEqual([
      { name: 'epochs', a: 10, b: 3 },
      { name: 'lr', a: 0.0005, b: 0.001 },
    ])
    expect(out.a.epochsSource).toBe('cloudwatch-logs')
    expect(out.a.epochs.map((e: any) => e.val_accuracy)).toEqual([0.7, 0.84])
    expect(out.b.epochsSource).toBe('metrics.json')
    expect(out.b.epochs.map((e: any) => e.val_accuracy)).toEqual([0.5, 0.6, 0.7])
    expect(out.metrics.find((m: any) => m.name === 'test_accuracy')).toEqual({ name: 'test_accuracy', a: 0.83, b: 0.69, delta: -0.14 })
    expect(out.cost.b).toBe(0)
    expect(out.cost.a).toBeCloseTo((0.736 * 600) / 3600, 4)
    expect(out.perClass).toEqual([]) // the SageMaker run has no evaluation.json here

    // --html: the report page of both runs side by side, curves from CloudWatch and metrics.json.
    const page = await runMlops(['runs', 'compare', SM_B, LOCAL_A, '--html', 'compare.html', '--json'], { cwd: dir, env })
    expect(page.code, page.stderr).toBe(0)
    expect(page.json().html).toEqual({ file: path.join(dir, 'compare.html'), charts: 4 })
    const html = await readFile(path.join(dir, 'compare.html'), 'utf8')
    expect(html).toContain(`<title>Comparison: ${SM_B} vs ${LOCAL_A}</title>`)
    expect([...html.matchAll(/<h3 class="run">([^<]+)<\/h3>/g)].map((m) => m[1]).slice(0, 2)).toEqual([SM_B, LOCAL_A])
    expect(html.match(/data-chart="[a-z-]+"/g)?.length).toBe(4)
    expect(html).not.toMatch(/<script|(?:src|href)="https?:/)
    const bad = await runMlops(['runs', 'compare', SM_B, LOCAL_A, '--html', 'compare.txt'], { cwd: dir, env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--html compare.txt: the page is an HTML file; give it a .html name.')

    const local = await runMlops(['runs', 'compare', LOCAL_A, LOCAL_B], { cwd: dir, env })
    expect(local.code, local.stderr).toBe(0)
    expect(local.stdout).toMatch(/lr\s+0\.001\s+0\.002/)
    expect(local.stdout).toMatch(/Akita\s+75\.0%\s+100\.0%\s+\+25\.0 pts/)
    expect(local.stdout).toMatch(/Beagle\s+50\.0%\s+25\.0%\s+-25\.0 pts/)
  })

  it('runs compare refuses another project’s job and a name that is no run', async () => {
    const other = await runMlops(['runs', 'compare', SM_A, OTHER], { cwd: dir, env })
    expect(other.code).toBe(2)
    expect(other.stderr).toContain(`${OTHER} is not a run of project dogs`)
    const missing = await runMlops(['runs', 'compare', SM_A, 'dogs-train-nope'], { cwd: dir, env })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('No run named dogs-train-nope')
  })
})

describe('mlops runs at 50 SageMaker jobs (moto)', () => {
  it('lists them all from one paged Search', async () => {
    await moto.reset()
    dir = await tempProject(minimalConfig())
    const names = Array.from({ length: 50 }, (_, i) => `dogs-train-2026-11-22-10-00-${String(i).padStart(2, '0')}-000`)
    await Promise.all(names.map((name, i) => createJob({ name, project: 'dogs', hp: { lr: String(0.001 * (1 + (i % 3))) } })))
    const started = performance.now()
    const run = await runMlops(['runs', '--json'], { cwd: dir, env })
    const ms = performance.now() - started
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().runs).toHaveLength(50)
    // The figure for the record (issue 28 asks for under 2 s); not asserted tightly on a shared machine.
    console.info(`mlops runs: 50 SageMaker jobs on moto in ${Math.round(ms)} ms`)
    expect(ms).toBeLessThan(15_000)
  })
})
