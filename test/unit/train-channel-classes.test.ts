import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { CreateTrainingJobCommand, DescribeTrainingJobCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { beforeEach, describe, expect, it } from 'vitest'
import { fakeAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/**
 * `train` checks the class folders of the S3 channels with the rules upload-data and train --local
 * apply locally (issue 31 item 11, issue 27: one class is refused before anything is billed).
 */

const sm = sdkMock(SageMakerClient)
const s3 = sdkMock(S3Client)
const factory = fakeAwsFactory()
const JOB = 'dogs-train-2026-11-22-10-00-00-000'
const ROLE = 'arn:aws:iam::123456789012:role/my-sagemaker-role'
const CONFIG = minimalConfig(`training:\n  roleArn: ${ROLE}\n  sourceDir: code\n`)

/** A bucket whose channels hold these class folders. */
function channels(bySplit: Record<string, string[]>): void {
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string; Delimiter?: string }) => {
    const split = input.Prefix.replace(/^data\//, '').replace(/\/$/, '')
    const folders = bySplit[split] ?? []
    return { KeyCount: folders.length, CommonPrefixes: folders.map((c) => ({ Prefix: `${input.Prefix}${c}/` })), IsTruncated: false }
  })
}

let dir: string
beforeEach(async () => {
  s3.on(HeadObjectCommand).resolves({})
  s3.on(PutObjectCommand).resolves({})
  sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: `arn:aws:sagemaker:us-east-1:123456789012:training-job/${JOB}` })
  sm.on(DescribeTrainingJobCommand).resolves({ TrainingJobName: JOB, TrainingJobStatus: 'InProgress', SecondaryStatus: 'Starting' })
  dir = await tempProject(CONFIG, { 'code/train.py': 'print("epoch=1 val_accuracy=0.5")\n' })
})

const run = (args: string[]) => runMlops(args, { cwd: dir, clock: fastClock(), awsFactory: factory })

describe('train: the class folders in S3 follow the one set of dataset rules', () => {
  it('one class is refused before CreateTrainingJob, with the expected tree (exit 2)', async () => {
    channels({ train: ['only'], valid: ['only'], test: ['only'] })
    const r = await run(['train', '--no-wait'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain(
      'The training data in s3://dogs-data/data is not a dataset of train/ valid/ test/ with one folder per class (1 problem); nothing was started:',
    )
    expect(r.stderr).toContain('only one class (only): a classifier needs at least two')
    expect(r.stderr).toContain('  train/<class>/<image>')
    expect(r.stderr).toContain('mlops upload-data --delete')
    expect(sm.commandCalls(CreateTrainingJobCommand)).toHaveLength(0)
    // One delimited listing per channel, as the dry-run plan shows.
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual(
      ['train', 'valid', 'test'].map((s) => ({ Bucket: 'dogs-data', Prefix: `data/${s}/`, Delimiter: '/' })),
    )
  })

  it('classes missing from a split are named', async () => {
    channels({ train: ['a', 'b', 'c'], valid: ['a', 'b'], test: ['a', 'b', 'c'] })
    const r = await run(['train', '--no-wait'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('valid/ lacks 1 class that train/ and test/ have: c')
    expect(sm.commandCalls(CreateTrainingJobCommand)).toHaveLength(0)
  })

  it('the same classes (two or more) in every split start the job; the plan shows the same listing', async () => {
    channels({ train: ['a', 'b'], valid: ['a', 'b'], test: ['a', 'b'] })
    const r = await run(['train', '--no-wait', '--yes'])
    expect(r.code, r.stderr).toBe(0)
    expect(sm.commandCalls(CreateTrainingJobCommand)).toHaveLength(1)
    const plan = (await run(['train', '--dry-run', '--json'])).json()
    expect(plan.operations.filter((o: { operation: string }) => o.operation === 'ListObjectsV2').map((o: { input: unknown }) => o.input)).toEqual(
      ['train', 'valid', 'test'].map((s) => ({ Bucket: 'dogs-data', Prefix: `data/${s}/`, Delimiter: '/' })),
    )
  })
})
