import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeVolumesCommand,
  EC2Client,
  TerminateInstancesCommand,
  type Instance,
  type SecurityGroup,
  type Volume,
} from '@aws-sdk/client-ec2'
import { GetInstanceProfileCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam'
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm'
import { mockClient } from 'aws-sdk-client-mock'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsClientFactory, type AwsClientFactory, type AwsSettings } from '../../src/aws/clients.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

/**
 * `train-ec2` against moto: what the box looked like, that nothing is left running, and that the
 * command went out through AWS-RunShellScript. moto runs no script (SendCommand succeeds at once
 * with empty output), so the "command fails" case fakes SSM's answers while EC2, IAM, S3 and
 * CloudWatch Logs stay on moto.
 */

describe('train-ec2 on moto', () => {
  let moto: MotoServer
  let ec2: EC2Client, iam: IAMClient, s3: S3Client, ssm: SSMClient, logs: CloudWatchLogsClient
  beforeAll(async () => {
    moto = await startMoto()
    const cfg = motoClientConfig(moto.endpoint)
    ec2 = new EC2Client(cfg)
    iam = new IAMClient(cfg)
    s3 = new S3Client({ ...cfg, forcePathStyle: true })
    ssm = new SSMClient(cfg)
    logs = new CloudWatchLogsClient(cfg)
  })
  afterAll(async () => moto?.stop())
  beforeEach(async () => {
    await moto.reset()
    await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
    for (const k of ['data/train/001.Affenpinscher/a.jpg', 'data/valid/001.Affenpinscher/b.jpg', 'data/test/001.Affenpinscher/c.jpg']) {
      await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: k, Body: Buffer.alloc(100) }))
    }
  })

  const project = () => tempProject(minimalConfig('training:\n  hyperparameters:\n    epochs: 2\n'), { 'scripts/train.py': 'print("train")\n' })
  const projectInstances = async () =>
    (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:mlops:project', Values: ['dogs'] }] }))).Reservations?.flatMap(
      (r) => r.Instances ?? [],
    ) ?? []
  const readState = async (dir: string) =>
    JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')) as {
      resources: { kind: string; name: string; details?: Record<string, unknown> }[]
    }

  it('runs the command over SSM, leaves nothing running, and the box was locked down', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--json', '--timeout', '1h'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(res.code, res.stderr).toBe(0)
    const out = res.json()
    expect(out).toMatchObject({ status: 'Completed', instanceType: 'g4dn.xlarge', amiId: 'ami-999844e0', instance: { state: 'terminated', kept: false } })

    // Nothing tagged for the project is running any more.
    const instances = await projectInstances()
    expect(instances).toHaveLength(1)
    expect(instances.map((i) => i.State?.Name)).toEqual(['terminated'])
    const box = instances[0]
    expect(box.InstanceId).toBe(out.instanceId)
    expect(box.MetadataOptions?.HttpTokens).toBe('required')
    expect(box.KeyName).toBeUndefined()
    const shutdown = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: box.InstanceId, Attribute: 'instanceInitiatedShutdownBehavior' }))
    expect(shutdown.InstanceInitiatedShutdownBehavior?.Value).toBe('terminate')
    const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: box.InstanceId, Attribute: 'userData' }))
    expect(Buffer.from(userData.UserData!.Value!, 'base64').toString()).toBe('#!/bin/bash\nshutdown -h +240\n')

    // Its security group: the project's, no inbound rules, the default egress kept for SSM and S3.
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['dogs-train-ec2'] }] }))).SecurityGroups!
    expect(groups).toHaveLength(1)
    expect(box.SecurityGroups?.map((g) => g.GroupId)).toEqual([groups[0].GroupId])
    expect(groups[0].IpPermissions).toEqual([])
    expect(groups[0].IpPermissionsEgress?.[0]).toMatchObject({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] })
    expect(groups[0].Tags).toEqual(expect.arrayContaining([{ Key: 'mlops:project', Value: 'dogs' }]))

    // The command went to that box through AWS-RunShellScript.
    const commands = (await ssm.send(new ListCommandsCommand({}))).Commands!
    expect(commands).toHaveLength(1)
    expect(commands[0]).toMatchObject({ DocumentName: 'AWS-RunShellScript', InstanceIds: [box.InstanceId], CommandId: out.commandId })
    expect(commands[0].Parameters?.executionTimeout).toEqual(['3600'])
    const script = commands[0].Parameters!.commands!.join('\n')
    expect(script).toContain(`exec bash '/opt/mlops/${out.runName}.sh'`)
    expect(script).toContain(`'--epochs' '2'`)

    // The role: SSM core plus the scoped inline policy, in the profile the box used.
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'dogs-ec2' }))
    expect(attached.AttachedPolicies?.map((p) => p.PolicyName)).toEqual(['AmazonSSMManagedInstanceCore'])
    const inline = await iam.send(new GetRolePolicyCommand({ RoleName: 'dogs-ec2', PolicyName: 'mlops-train-ec2' }))
    expect(decodeURIComponent(inline.PolicyDocument!)).toContain('arn:aws:s3:::dogs-data/output/dogs-ec2-*')
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'dogs-ec2' }))
    expect(profile.InstanceProfile?.Roles?.map((r) => r.RoleName)).toEqual(['dogs-ec2'])

    // The same content-addressed code package `train` uses, and the output log group with a retention.
    const code = await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data', Prefix: 'dogs/code/' }))
    expect(code.Contents?.map((o) => o.Key)).toEqual([expect.stringMatching(/^dogs\/code\/[0-9a-f]{64}\/sourcedir\.tar\.gz$/)])
    expect(script).toContain(`s3://dogs-data/${code.Contents![0].Key}`)
    const group = (await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/mlops/dogs/train-ec2' }))).logGroups?.[0]
    expect(group).toMatchObject({ logGroupName: '/mlops/dogs/train-ec2', retentionInDays: 30 })

    // State: the model for `deploy`, the reusable resources for `teardown`, no live instance.
    const state = await readState(dir)
    expect(state.resources.find((r) => r.kind === 'model-artifact')).toMatchObject({
      name: out.modelArtifact,
      details: { source: 'ec2', jobName: out.runName },
    })
    expect(state.resources.find((r) => r.kind === 'security-group')).toMatchObject({ name: groups[0].GroupId, details: { groupName: 'dogs-train-ec2' } })
    expect(state.resources.filter((r) => r.kind === 'role' || r.kind === 'instance-profile').map((r) => r.name)).toEqual(['dogs-ec2', 'dogs-ec2'])
    expect(state.resources.some((r) => r.kind === 'instance')).toBe(false)

    // A second run reuses the group and the role, and again leaves nothing running.
    const again = await runMlops(['train-ec2', '--yes', '--json', '--timeout', '1h'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).not.toContain('(created)')
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['dogs-train-ec2'] }] }))).SecurityGroups).toHaveLength(
      1,
    )
    expect((await projectInstances()).map((i) => i.State?.Name)).toEqual(['terminated', 'terminated'])
  })

  it('--keep leaves the box (with its instance profile and encrypted volume) running, and says how to end it', async () => {
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes', '--json', '--keep', '--max-hours', '1', '--timeout', '30m'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(res.code, res.stderr).toBe(0)
    const out = res.json()
    expect(out.instance).toMatchObject({
      state: 'running',
      kept: true,
      terminateCommand: `aws ec2 terminate-instances --instance-ids ${out.instanceId} --region us-east-1 --endpoint-url ${moto.endpoint}`,
    })
    const [box] = await projectInstances()
    expect(box.State?.Name).toBe('running')
    expect(box.IamInstanceProfile?.Arn).toBe('arn:aws:iam::123456789012:instance-profile/dogs-ec2')
    const volumes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [box.InstanceId!] }] }))).Volumes!
    expect(volumes.map((v) => ({ encrypted: v.Encrypted, size: v.Size, type: v.VolumeType }))).toEqual([{ encrypted: true, size: 100, type: 'gp3' }])
    expect((await readState(dir)).resources.find((r) => r.kind === 'instance')).toMatchObject({ name: box.InstanceId, details: { kept: true } })
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [box.InstanceId!] }))
  })

  it('a command that fails still ends with the instance terminated and exit 1', async () => {
    const seen: { instance?: Instance; volumes?: Volume[]; group?: SecurityGroup } = {}
    // Real moto clients for everything; SSM's answers about the command are faked, the rest pass through.
    const factory = (settings: AwsSettings): AwsClientFactory => {
      const real = createAwsClientFactory({ ...settings, maxAttempts: 1 })
      return (async (names) => {
        const clients = await real(names)
        const realSsm = (await real(['ssm'])).ssm
        const fakeSsm = new SSMClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
        const m = mockClient(fakeSsm)
        m.on(GetParameterCommand).callsFake((i) => realSsm.send(new GetParameterCommand(i)))
        m.on(DescribeInstanceInformationCommand).callsFake((i) => realSsm.send(new DescribeInstanceInformationCommand(i)))
        m.on(SendCommandCommand).callsFake(async (i) => {
          // The box as it is while the command runs.
          const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: i.InstanceIds }))
          seen.instance = d.Reservations![0].Instances![0]
          seen.volumes = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: i.InstanceIds }] }))).Volumes
          seen.group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [seen.instance.SecurityGroups![0].GroupId!] }))).SecurityGroups![0]
          return realSsm.send(new SendCommandCommand(i))
        })
        m.on(GetCommandInvocationCommand).resolves({
          Status: 'Failed',
          ResponseCode: 1,
          StatusDetails: 'Failed',
          StandardOutputContent: 'mlops: training on 1 GPU(s)\nmlops: step "train" failed with exit code 1\n',
          StandardErrorContent: 'RuntimeError: CUDA out of memory\n',
        })
        return { ...clients, ...(names.includes('ssm' as never) ? { ssm: fakeSsm } : {}) }
      }) as AwsClientFactory
    }
    const dir = await project()
    const res = await runMlops(['train-ec2', '--yes'], { cwd: dir, env: motoEnv(moto.endpoint), awsFactory: factory })
    expect(res.code).toBe(1)
    expect(res.stderr).toContain('RuntimeError: CUDA out of memory')
    expect(res.stderr).toMatch(/✖ Training on i-\w+ failed with exit code 1 in step "train"\./)

    // While it ran: instance profile, IMDSv2, no key, encrypted volume, shutdown -> terminate, no inbound rules.
    expect(seen.instance).toMatchObject({ State: { Name: 'running' }, MetadataOptions: { HttpTokens: 'required' } })
    expect(seen.instance?.KeyName).toBeUndefined()
    expect(seen.instance?.IamInstanceProfile?.Arn).toBe('arn:aws:iam::123456789012:instance-profile/dogs-ec2')
    expect(seen.volumes?.map((v) => v.Encrypted)).toEqual([true])
    expect(seen.group).toMatchObject({ GroupName: 'dogs-train-ec2', IpPermissions: [] })

    // Afterwards: terminated, no model recorded.
    expect((await projectInstances()).map((i) => i.State?.Name)).toEqual(['terminated'])
    expect(res.stderr).toMatch(/✔ Instance i-\w+ terminated\./)
    expect((await readState(dir)).resources.map((r) => r.kind)).not.toContain('model-artifact')
  })
})
