import { CloudWatchLogsClient, DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import {
  CreateHyperParameterTuningJobCommand,
  CreateTrainingJobCommand,
  DescribeHyperParameterTuningJobCommand,
  DescribeTrainingJobCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { decideDistribution, gpusPerInstance, TORCH_DISTRIBUTED_VERSIONS } from '../../src/features/training/distribution.js'
import { buildTrainingJobRequest, trainingDistribution, trainingSettings } from '../../src/features/training/request.js'
import { executionRoleSpec } from '../../src/shared/roles/execution-role.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'

/** Issue 14 items 5 (Debugger), 12 (torch_distributed versions, multi-GPU types) and 9 (credentials lapsing mid-wait). */

const DEBUGGER = '  debugger:\n    rules: [VanishingGradient, LossNotDecreasing]\n'
const cfgOf = (training: string) => parseConfigText(minimalConfig(`training:\n${training}`), 'mlops.config.yaml')
const base = {
  jobName: 'j',
  roleArn: 'arn:aws:iam::1:role/r',
  codeUri: 's3://b/c.tar.gz',
  channels: { train: 's3://b/t', valid: 's3://b/v', test: 's3://b/x' },
}
const requestOf = (training: string, region = 'us-east-1') => {
  const cfg = cfgOf(training)
  const settings = trainingSettings(cfg)
  return buildTrainingJobRequest({ cfg, settings, distribution: trainingDistribution(settings), ...base, region }).request
}

describe('SageMaker Debugger (opt-in) as the SDK sends it', () => {
  it('ap-northeast-3 takes its rule image from account 479947661362', () => {
    // The PyTorch image table has no ap-northeast-3 registry: give the training image explicitly.
    const rules = requestOf(`${DEBUGGER}  image: 1.dkr.ecr.ap-northeast-3.amazonaws.com/mine:1\n`, 'ap-northeast-3').DebugRuleConfigurations ?? []
    expect(rules.map((r) => r.RuleEvaluatorImage)).toEqual([
      '479947661362.dkr.ecr.ap-northeast-3.amazonaws.com/sagemaker-debugger-rules:latest',
      '479947661362.dkr.ecr.ap-northeast-3.amazonaws.com/sagemaker-debugger-rules:latest',
    ])
  })

  it('drops DebugHookConfig (keeping the rules) when spot checkpoints meet distributed training', () => {
    const distributed = requestOf(`${DEBUGGER}  spot: true\n  instanceCount: 2\n`)
    expect(distributed.CheckpointConfig).toBeDefined()
    expect(distributed.DebugHookConfig).toBeUndefined()
    expect(distributed.DebugRuleConfigurations).toHaveLength(2)
    // torch_distributed on one multi-GPU instance is distributed too (the SDK: `distribution` set).
    expect(requestOf(`${DEBUGGER}  spot: true\n  instanceType: ml.g5.12xlarge\n`).DebugHookConfig).toBeUndefined()
    expect(requestOf(`${DEBUGGER}  spot: true\n`).DebugHookConfig).toBeDefined()
    expect(requestOf(`${DEBUGGER}  instanceCount: 2\n`).DebugHookConfig).toBeDefined()
  })

  it('warns that Debugger is closed to new customers, and why the hook was left out', async () => {
    const dir = await tempProject(minimalConfig(`training:\n${DEBUGGER}  spot: true\n  instanceCount: 2\n`))
    const r = await runMlops(['train', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain('SageMaker Debugger is closed to new customers since 2026-07-30')
    expect(r.stderr).toContain('the debug hook (DebugHookConfig) is left out')
    const plain = await runMlops(['train', '--dry-run'], { cwd: await tempProject(minimalConfig('')), awsFactory: noAwsFactory() })
    expect(plain.stderr).not.toContain('Debugger')
  })

  it('the execution role may pull the rule image and write the rule jobs’ logs only when debugger is on', () => {
    const withDebugger = executionRoleSpec(cfgOf(DEBUGGER), roleTarget('123456789012', 'ap-northeast-3', [])).inlinePolicies['mlops-execution'].Statement
    expect(withDebugger).toContainEqual({
      Sid: 'PullDebuggerRuleImage',
      Effect: 'Allow',
      Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
      Resource: ['arn:aws:ecr:ap-northeast-3:479947661362:repository/sagemaker-debugger-rules'],
    })
    expect(withDebugger).toContainEqual({
      Sid: 'DebuggerRuleLogs',
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: ['arn:aws:logs:ap-northeast-3:123456789012:log-group:/aws/sagemaker/ProcessingJobs:*'],
    })
    const without = executionRoleSpec(cfgOf('  spot: false\n'), roleTarget('123456789012', 'ap-northeast-3', [])).inlinePolicies['mlops-execution'].Statement
    expect(without.map((s) => s.Sid)).not.toContain('PullDebuggerRuleImage')
    expect(without.map((s) => s.Sid)).not.toContain('DebuggerRuleLogs')
  })
})

describe('torch_distributed versions and multi-GPU types (the SDK’s lists)', () => {
  it('2.1.2 and 2.4.1 are on the list, 2.4.0 is not', () => {
    expect(TORCH_DISTRIBUTED_VERSIONS).toContain('2.1.2')
    expect(TORCH_DISTRIBUTED_VERSIONS).toContain('2.4.1')
    expect(TORCH_DISTRIBUTED_VERSIONS).not.toContain('2.4.0')
    const d = (frameworkVersion: string) => decideDistribution({ instanceType: 'ml.g5.xlarge', instanceCount: 2, frameworkVersion, setting: 'auto' }).mode
    expect(d('2.1.2')).toBe('torch_distributed')
    expect(d('2.4.0')).toBe('native')
  })

  it('g6e.12xlarge/24xlarge/48xlarge, p5e.48xlarge and p5en.48xlarge are multi-GPU', () => {
    expect(['ml.g6e.12xlarge', 'ml.g6e.24xlarge', 'ml.g6e.48xlarge', 'ml.p5e.48xlarge', 'ml.p5en.48xlarge'].map(gpusPerInstance)).toEqual([4, 4, 8, 8, 8])
    expect(gpusPerInstance('ml.g6e.xlarge')).toBe(1)
  })
})

describe('credentials that expire during a long wait', () => {
  const sm = sdkMock(SageMakerClient)
  const s3 = sdkMock(S3Client)
  const logs = sdkMock(CloudWatchLogsClient)
  const JOB = 'dogs-train-2026-11-22-10-00-00-000'
  const expired = () =>
    Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException', $metadata: { httpStatusCode: 400 } })
  const ROLE = 'arn:aws:iam::123456789012:role/r'

  beforeEach(() => {
    s3.on(ListObjectsV2Command).resolves({ KeyCount: 1 })
    s3.on(HeadObjectCommand).resolves({})
    logs.on(DescribeLogStreamsCommand).resolves({ logStreams: [] })
    sm.on(CreateTrainingJobCommand).resolves({ TrainingJobArn: 'arn:x' })
    sm.on(CreateHyperParameterTuningJobCommand).resolves({ HyperParameterTuningJobArn: 'arn:y' })
  })

  it('train: exit 1 (not 2), the job is still running, and the line that re-attaches', async () => {
    sm.on(DescribeTrainingJobCommand).resolvesOnce({ TrainingJobName: JOB, TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training' }).rejects(expired())
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: ${ROLE}\n`))
    const r = await runMlops(['train', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(`Training job ${JOB} is still running on AWS, but the AWS credentials expired while waiting for it.`)
    expect(r.stderr).toContain(`re-attach with \`mlops logs ${JOB}\``)
    expect(r.stderr).not.toContain('nothing was changed')
  })

  it('tune: the same for the tuning job', async () => {
    sm.on(DescribeHyperParameterTuningJobCommand).rejects(expired())
    const dir = await tempProject(
      minimalConfig(
        `training:\n  roleArn: ${ROLE}\n  tuning:\n    objective: { metric: val_accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.001, max: 0.1 }\n`,
      ),
    )
    const r = await runMlops(['tune', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), clock: fastClock() })
    expect(r.code, r.stderr).toBe(1)
    const name = /Tuning job (\S+) is still running on AWS, but the AWS credentials expired while waiting for it\./.exec(r.stderr)?.[1]
    expect(name).toBe('dogs-23bcd2-261122-1000')
    expect(r.stderr).toContain(`re-attach with \`mlops logs ${name}\``)
  })
})
