import { describe, expect, it } from 'vitest'
import { ec2RoleFor } from '../../src/features/ec2/role.js'
import { parseTrainEc2Flags } from '../../src/commands/train-ec2.js'
import { parseConfigText } from '../../src/config/load.js'
import { resolveEc2Settings } from '../../src/features/ec2/plan.js'
import {
  buildRunInstancesInput,
  buildSecurityGroupInput,
  buildSendCommandInput,
  runOutputUris,
  terminateCommandLine,
  userDataScript,
  type LaunchSpec,
} from '../../src/features/ec2/requests.js'
import { minimalConfig } from '../helpers/cli.js'
import { commandLogStreams } from '../../src/aws/ssm/run-command.js'

const NOW = new Date('2026-11-22T10:00:00Z')
const spec: LaunchSpec = {
  project: 'dogs',
  runName: 'dogs-ec2-2026-11-22-10-00-00-000',
  instanceType: 'g4dn.xlarge',
  spot: false,
  amiId: 'ami-0abc',
  rootDeviceName: '/dev/sda1',
  volumeSizeGb: 100,
  securityGroupId: 'sg-1',
  instanceProfileName: 'dogs-ec2',
  maxHours: 4,
}
const cfg = (extra = '') => parseConfigText(minimalConfig(extra), 'mlops.config.yaml')

describe('RunInstances input', () => {
  it('has no key pair, IMDSv2 only, an encrypted root volume, terminate on shutdown and the dead-man switch', () => {
    const input = buildRunInstancesInput(spec)
    expect(input).not.toHaveProperty('KeyName')
    expect(input.MetadataOptions).toEqual({ HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 })
    expect(input.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/sda1', Ebs: { VolumeSize: 100, VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true } },
    ])
    expect(input.InstanceInitiatedShutdownBehavior).toBe('terminate')
    expect(Buffer.from(input.UserData!, 'base64').toString()).toBe('#!/bin/bash\nshutdown -h +240\n')
    expect(input.IamInstanceProfile).toEqual({ Name: 'dogs-ec2' })
    expect(input.SecurityGroupIds).toEqual(['sg-1'])
    expect(input).not.toHaveProperty('InstanceMarketOptions')
    expect(input).not.toHaveProperty('SubnetId')
    expect(input.TagSpecifications?.map((t) => t.ResourceType)).toEqual(['instance', 'volume'])
    expect(input.TagSpecifications?.[0].Tags).toEqual(
      expect.arrayContaining([
        { Key: 'mlops:project', Value: 'dogs' },
        { Key: 'mlops:managed-by', Value: 'mlops' },
        { Key: 'Name', Value: spec.runName },
      ]),
    )
    expect(input.ClientToken).toBe(spec.runName)
  })
  it('asks for one-time spot that terminates on interruption, and uses the configured subnet', () => {
    const input = buildRunInstancesInput({ ...spec, spot: true, subnetId: 'subnet-0abc' })
    expect(input.InstanceMarketOptions).toEqual({
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate' },
    })
    expect(input.SubnetId).toBe('subnet-0abc')
  })
  it('rounds the dead-man switch up to whole minutes', () => {
    expect(userDataScript(0.5)).toBe('#!/bin/bash\nshutdown -h +30\n')
    expect(userDataScript(1.01)).toBe('#!/bin/bash\nshutdown -h +61\n')
  })
})

describe('other requests', () => {
  it('security group: tagged, in the VPC, and nothing about ingress', () => {
    expect(buildSecurityGroupInput('dogs', 'dogs-train-ec2', 'vpc-1')).toEqual({
      GroupName: 'dogs-train-ec2',
      Description: 'mlops train-ec2 for dogs: no inbound rules (SSM only)',
      VpcId: 'vpc-1',
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: [
            { Key: 'mlops:project', Value: 'dogs' },
            { Key: 'mlops:managed-by', Value: 'mlops' },
            { Key: 'Name', Value: 'dogs-train-ec2' },
          ],
        },
      ],
    })
  })
  it('SendCommand: AWS-RunShellScript, executionTimeout as a string array, CloudWatch output on', () => {
    expect(
      buildSendCommandInput({ instanceId: 'i-1', runName: 'r', commands: ['echo hi'], timeoutSeconds: 7200, logGroupName: '/mlops/dogs/train-ec2' }),
    ).toEqual({
      InstanceIds: ['i-1'],
      DocumentName: 'AWS-RunShellScript',
      Comment: 'mlops train-ec2 r',
      TimeoutSeconds: 600,
      Parameters: { commands: ['echo hi'], executionTimeout: ['7200'] },
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/mlops/dogs/train-ec2' },
    })
    expect(commandLogStreams('c-1', 'i-1')).toEqual({ stdout: 'c-1/i-1/aws-runShellScript/stdout', stderr: 'c-1/i-1/aws-runShellScript/stderr' })
  })
  it('output has the SageMaker shape, and the terminate command is exact', () => {
    expect(runOutputUris('b', 'output', 'run-1').model).toBe('s3://b/output/run-1/output/model.tar.gz')
    expect(terminateCommandLine('i-1', 'eu-west-1')).toBe('aws ec2 terminate-instances --instance-ids i-1 --region eu-west-1')
    expect(terminateCommandLine('i-1', 'eu-west-1', { profile: 'ml' })).toBe('aws ec2 terminate-instances --instance-ids i-1 --region eu-west-1 --profile ml')
  })
})

describe('instance role', () => {
  it('trusts EC2 with the standard instance-role trust (no source condition), attaches only SSM core, and scopes S3 and logs to the project', () => {
    const role = ec2RoleFor(cfg(), '123456789012', 'us-east-1')
    expect(role.name).toBe('dogs-ec2')
    expect(role.managedPolicyArns).toEqual(['arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore'])
    // The standard instance-role trust: EC2 sets no aws:SourceAccount when it assumes an
    // instance-profile role, so a condition on it would leave the box without credentials (issue 14 item 8).
    expect(role.trustPolicy).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    })
    // CreateRole sends this JSON text: the key order is part of the request too.
    expect(JSON.stringify(role.trustPolicy)).toBe(
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )
    const st = Object.fromEntries(role.inlinePolicies['mlops-train-ec2'].Statement.map((s) => [s.Sid, s]))
    expect(st.ListProjectPrefixes).toMatchObject({ Action: 's3:ListBucket', Resource: 'arn:aws:s3:::dogs-data' })
    expect(st.ListProjectPrefixes.Condition?.StringLike['s3:prefix']).toEqual(['data', 'data/*', 'dogs/code', 'dogs/code/*', 'output', 'output/*'])
    expect(st.ReadDataAndCode).toMatchObject({ Action: 's3:GetObject', Resource: ['arn:aws:s3:::dogs-data/data/*', 'arn:aws:s3:::dogs-data/dogs/code/*'] })
    expect(st.WriteRunOutput).toMatchObject({ Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: 'arn:aws:s3:::dogs-data/output/dogs-ec2-*' })
    expect(st.CommandOutputLogs.Resource).toEqual([
      'arn:aws:logs:us-east-1:123456789012:log-group:/mlops/dogs/train-ec2',
      'arn:aws:logs:us-east-1:123456789012:log-group:/mlops/dogs/train-ec2:*',
    ])
    // The whole policy: no other statement, and the only log-group:* grant is the list-only DescribeLogGroups.
    const all = role.inlinePolicies['mlops-train-ec2'].Statement
    expect(all.map((s) => s.Sid)).toEqual(['ListProjectPrefixes', 'ReadDataAndCode', 'WriteRunOutput', 'CommandOutputLogs', 'FindCommandOutputLogGroup'])
    expect(st.FindCommandOutputLogGroup).toEqual({
      Sid: 'FindCommandOutputLogGroup',
      Effect: 'Allow',
      Action: 'logs:DescribeLogGroups',
      Resource: 'arn:aws:logs:us-east-1:123456789012:log-group:*',
    })
    expect(all.every((s) => s.Effect === 'Allow' && !s.NotAction && !s.NotResource && ![s.Resource].flat().includes('*'))).toBe(true)
    expect(all.find((s) => s.Sid === 'DataKey')).toBeUndefined()
  })
  it('adds KMS only for the data key, and uses the partition of the region', () => {
    const withKey = parseConfigText(`project:\n  name: dogs\ndata:\n  bucket: dogs-data\n  kmsKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab\n`, 'x.yaml')
    const st = ec2RoleFor(withKey, '123456789012', 'us-east-1').inlinePolicies['mlops-train-ec2'].Statement.find((s) => s.Sid === 'DataKey')
    expect(st).toEqual({
      Sid: 'DataKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    })
    expect(ec2RoleFor(cfg(), '123456789012', 'cn-north-1').managedPolicyArns).toEqual(['arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore'])
  })
})

describe('flags and settings', () => {
  it('validates each flag and names it', () => {
    // Checked by the ec2.* fields (Ec2Schema), in their words.
    expect(() => parseTrainEc2Flags({ instanceType: 'ml.g4dn.xlarge' })).toThrow(
      '--instance-type: expected an EC2 instance type such as g4dn.xlarge (no ml. prefix), got "ml.g4dn.xlarge".',
    )
    expect(() => parseTrainEc2Flags({ instanceType: 'huge' })).toThrow(
      '--instance-type: expected an EC2 instance type such as g4dn.xlarge (no ml. prefix), got "huge".',
    )
    expect(() => parseTrainEc2Flags({ maxHours: '0' })).toThrow('--max-hours: must be more than 0 hours, got "0".')
    expect(() => parseTrainEc2Flags({ maxHours: '49' })).toThrow('--max-hours: at most 48 hours (the SSM command limit), got "49".')
    expect(() => parseTrainEc2Flags({ maxHours: 'two' })).toThrow('--max-hours: expected a number of hours, got "two".')
    expect(() => parseTrainEc2Flags({ timeout: 'soon' })).toThrow(/--timeout: "soon" is not a duration/)
    expect(() => parseTrainEc2Flags({ timeout: '49h' })).toThrow('--timeout: at most 48h (the SSM Run Command executionTimeout limit), got "49h".')
    expect(parseTrainEc2Flags({ instanceType: 'g5.xlarge', spot: true, keep: true, maxHours: '1.5', timeout: '1h' })).toEqual({
      instanceType: 'g5.xlarge',
      spot: true,
      keep: true,
      maxHours: 1.5,
      timeoutSeconds: 3600,
    })
  })
  it('merges flags over the config, with prices and the cost ceiling', () => {
    const s = resolveEc2Settings(cfg('training:\n  hyperparameters:\n    epochs: 5\n'), { spot: true }, { region: 'us-east-1', now: NOW })
    expect(s).toMatchObject({
      runName: 'dogs-ec2-2026-11-22-10-00-00-000',
      instanceType: 'g4dn.xlarge',
      spot: true,
      keep: false,
      maxHours: 4,
      timeoutSeconds: 10800,
      hourlyUsd: 0.526,
      channels: { train: 's3://dogs-data/data/train', valid: 's3://dogs-data/data/valid', test: 's3://dogs-data/data/test' },
      hyperparameters: { epochs: 5 },
      logGroupName: '/mlops/dogs/train-ec2',
      securityGroupName: 'dogs-train-ec2',
      instanceProfileName: 'dogs-ec2',
    })
    expect(s.maxCostUsd).toBeCloseTo(0.526 * 4)
    expect(s.outputs.model).toBe('s3://dogs-data/output/dogs-ec2-2026-11-22-10-00-00-000/output/model.tar.gz')
  })
  it('refuses a --timeout beyond --max-hours, and fits the configured timeout inside it', () => {
    expect(() => resolveEc2Settings(cfg(), { maxHours: 1, timeoutSeconds: 7200 }, { region: 'us-east-1', now: NOW })).toThrow(
      /--timeout 2h is longer than --max-hours 1: the box would terminate itself first/,
    )
    const s = resolveEc2Settings(cfg(), { maxHours: 2 }, { region: 'us-east-1', now: NOW })
    expect(s.timeoutSeconds).toBe(7200 - 600)
    expect(s.timeoutNote).toMatch(/ec2.timeout 3h does not fit in --max-hours 2; using 1h50m/)
  })
  it('config: ec2.timeout over 48h and the new waits are validated', () => {
    expect(() => cfg('ec2:\n  timeout: 49h\n')).toThrow()
    expect(cfg('ec2:\n  agentTimeout: 5m\n').ec2).toMatchObject({ agentTimeout: 300, launchTimeout: 600 })
  })
})
