import {
  ApplicationAutoScalingClient,
  DescribeScalableTargetsCommand,
  PutScalingPolicyCommand,
  RegisterScalableTargetCommand,
} from '@aws-sdk/client-application-auto-scaling'
import { CreateSecurityGroupCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2'
import {
  CreateInstanceProfileCommand,
  AddRoleToInstanceProfileCommand,
  CreateRoleCommand,
  IAMClient,
  ListRolesCommand,
  PutRolePolicyCommand,
  ListInstanceProfilesCommand,
} from '@aws-sdk/client-iam'
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  LambdaClient,
  ListFunctionsCommand,
  PublishVersionCommand,
  PutProvisionedConcurrencyConfigCommand,
} from '@aws-sdk/client-lambda'
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  ListEndpointConfigsCommand,
  ListEndpointsCommand,
  ListModelsCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker'
import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

const TAGS = [
  { Key: 'mlops:project', Value: 'dogs' },
  { Key: 'mlops:managed-by', Value: 'mlops' },
]
const trust = (service: string) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] })
const tinyZip = () =>
  execFileSync('python3', [
    '-c',
    `
import io, zipfile, sys
b = io.BytesIO()
with zipfile.ZipFile(b, 'w') as z: z.writestr('handler.js', 'exports.handler = async () => ({})')
sys.stdout.buffer.write(b.getvalue())`,
  ])

/** sha256 of 1,000 zero bytes, as upload-data records it. */
const SHA_1000_ZEROS = '541b3e9daa09b20bf85fa273e5cbd3e80185aa4ec298e765db87742b70138a53'

describe('status and teardown on moto', () => {
  let moto: MotoServer
  let sm: SageMakerClient, iam: IAMClient, lambda: LambdaClient, ec2: EC2Client, s3: S3Client, aas: ApplicationAutoScalingClient
  beforeAll(async () => {
    moto = await startMoto()
    const cfg = motoClientConfig(moto.endpoint)
    sm = new SageMakerClient(cfg)
    iam = new IAMClient(cfg)
    lambda = new LambdaClient(cfg)
    ec2 = new EC2Client(cfg)
    s3 = new S3Client({ ...cfg, forcePathStyle: true })
    aas = new ApplicationAutoScalingClient(cfg)
  })
  afterAll(async () => moto?.stop())
  beforeEach(async () => moto.reset())

  /** What the other commands leave behind, made directly with the SDK and tagged like mlops tags. */
  async function seedProject() {
    await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
    for (const k of ['data/train/001.A/a.jpg', 'data/valid/001.A/b.jpg', 'data/test/001.A/c.jpg']) {
      // upload-data marks what it writes with the content's sha256 (x-amz-meta-sha256).
      await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: k, Body: Buffer.alloc(1000), Metadata: { sha256: SHA_1000_ZEROS } }))
    }
    // A job mlops started (named <project>-train-...) wrote its model under the output prefix.
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: 'output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz', Body: 'm' }))
    for (const [name, svc] of [
      ['dogs-sagemaker', 'sagemaker.amazonaws.com'],
      ['dogs-lambda', 'lambda.amazonaws.com'],
      ['dogs-ec2', 'ec2.amazonaws.com'],
    ]) {
      await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust(svc), Tags: TAGS }))
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: name,
          PolicyName: 'p',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::dogs-data/data/*' }],
          }),
        }),
      )
    }
    // A role of someone else's in the same account must survive.
    await iam.send(new CreateRoleCommand({ RoleName: 'other-team-role', AssumeRolePolicyDocument: trust('lambda.amazonaws.com') }))
    await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: 'dogs-ec2', Tags: TAGS }))
    await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: 'dogs-ec2', RoleName: 'dogs-ec2' }))
    const roleArn = 'arn:aws:iam::123456789012:role/dogs-sagemaker'
    for (const v of ['1', '2']) {
      await sm.send(
        new CreateModelCommand({
          ModelName: `dogs-model-${v}`,
          ExecutionRoleArn: roleArn,
          PrimaryContainer: {
            Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312',
            ModelDataUrl: 's3://dogs-data/m.tar.gz',
          },
          Tags: TAGS,
        }),
      )
      await sm.send(
        new CreateEndpointConfigCommand({
          EndpointConfigName: `dogs-config-${v}`,
          ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: `dogs-model-${v}`, InstanceType: 'ml.m5.large', InitialInstanceCount: 2 }],
          Tags: TAGS,
        }),
      )
    }
    await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-2', Tags: TAGS }))
    const target = {
      ServiceNamespace: 'sagemaker' as const,
      ResourceId: 'endpoint/dogs-endpoint/variant/AllTraffic',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' as const,
    }
    await aas.send(new RegisterScalableTargetCommand({ ...target, MinCapacity: 1, MaxCapacity: 4 }))
    await aas.send(
      new PutScalingPolicyCommand({
        ...target,
        PolicyName: 'dogs-invocations-target',
        PolicyType: 'TargetTrackingScaling',
        TargetTrackingScalingPolicyConfiguration: {
          TargetValue: 70,
          PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        },
      }),
    )
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'dogs-invoke',
        Runtime: 'nodejs20.x',
        Handler: 'handler.handler',
        Role: 'arn:aws:iam::123456789012:role/dogs-lambda',
        Code: { ZipFile: tinyZip() },
        MemorySize: 1024,
        Tags: { 'mlops:project': 'dogs', 'mlops:managed-by': 'mlops' },
      }),
    )
    const version = await lambda.send(new PublishVersionCommand({ FunctionName: 'dogs-invoke' }))
    await lambda.send(new CreateAliasCommand({ FunctionName: 'dogs-invoke', Name: 'live', FunctionVersion: version.Version }))
    await lambda.send(new PutProvisionedConcurrencyConfigCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live', ProvisionedConcurrentExecutions: 2 }))
    const sg = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'dogs-train-ec2',
        Description: 'mlops',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: TAGS }],
      }),
    )
    await ec2.send(
      new RunInstancesCommand({
        ImageId: 'ami-999844e0',
        InstanceType: 'g4dn.xlarge',
        MinCount: 1,
        MaxCount: 1,
        SecurityGroupIds: [sg.GroupId!],
        TagSpecifications: [{ ResourceType: 'instance', Tags: TAGS }],
      }),
    )
    // Somebody else's instance must survive.
    await ec2.send(new RunInstancesCommand({ ImageId: 'ami-999844e0', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))
  }

  it('status lists every resource with its cost; teardown removes them, keeps the data, and is idempotent', async () => {
    await seedProject()
    const dir = await tempProject(minimalConfig())
    const env = motoEnv(moto.endpoint)

    const status = await runMlops(['status', '--json'], { cwd: dir, env })
    expect(status.code, status.stderr).toBe(0)
    const s = status.json()
    expect(s.endpoints).toEqual([
      {
        name: 'dogs-endpoint',
        status: 'InService',
        configName: 'dogs-config-2',
        instanceType: 'ml.m5.large',
        instanceCount: 2,
        hourly: 0.23,
        consoleUrl: 'https://console.aws.amazon.com/sagemaker/home?region=us-east-1#/endpoints/dogs-endpoint',
      },
    ])
    expect(s.endpointConfigs.sort()).toEqual(['dogs-config-1', 'dogs-config-2'])
    expect(s.models.sort()).toEqual(['dogs-model-1', 'dogs-model-2'])
    expect(s.scalingTargets).toEqual([{ resourceId: 'endpoint/dogs-endpoint/variant/AllTraffic', min: 1, max: 4, policies: ['dogs-invocations-target'] }])
    expect(s.functions[0]).toMatchObject({ name: 'dogs-invoke', memoryMb: 1024, provisioned: { qualifier: 'live', executions: 2, status: 'READY' } })
    expect(s.functions[0].hourly).toBeCloseTo(0.0000041667 * 2 * 3600, 6)
    expect(s.functions[0].consoleUrl).toBe('https://console.aws.amazon.com/lambda/home?region=us-east-1#/functions/dogs-invoke')
    expect(s.instances).toHaveLength(1)
    expect(s.instances[0]).toMatchObject({ state: 'running', instanceType: 'g4dn.xlarge', hourly: 0.526 })
    expect(s.roles.map((r: { name: string }) => r.name).sort()).toEqual(['dogs-ec2', 'dogs-lambda', 'dogs-sagemaker'])
    expect(s.instanceProfiles).toEqual(['dogs-ec2'])
    // The job's output counts too, by kind (issue 31 item 7): not only the dataset.
    expect(s.data).toMatchObject({ bucket: 'dogs-data', prefix: 'data', objects: 4, bytes: 3001 })
    expect(s.data.groups).toEqual([
      { kind: 'dataset', prefix: 'data/', objects: 3, bytes: 3000 },
      { kind: 'job outputs', prefix: 'output/, dogs/checkpoints/', objects: 1, bytes: 1 },
    ])
    expect(s.hourlyTotal).toBeCloseTo(0.23 + 0.526 + 0.0000041667 * 2 * 3600, 3)
    const human = await runMlops(['status'], { cwd: dir, env })
    expect(human.stdout).toContain('dogs-endpoint')
    expect(human.stdout).toMatch(/Running now: \$0\.79\/hour/)
    expect(human.stdout).toContain('mlops teardown')
    expect(human.stdout).toContain('  dogs-endpoint  https://console.aws.amazon.com/sagemaker/home?region=us-east-1#/endpoints/dogs-endpoint')
    expect(human.stdout).toMatch(/s3 dataset +s3:\/\/dogs-data\/data\/ +3 objects +2\.9 KB/)
    expect(human.stdout).toMatch(/s3 job outputs +s3:\/\/dogs-data\/output\/, s3:\/\/dogs-data\/dogs\/checkpoints\/ +1 objects +1 B/)

    const refused = await runMlops(['teardown'], { cwd: dir, env })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('--yes')
    expect((await sm.send(new ListEndpointsCommand({}))).Endpoints).toHaveLength(1)

    const down = await runMlops(['teardown', '--yes', '--json'], { cwd: dir, env })
    expect(down.code, down.stderr).toBe(0)
    const d = down.json()
    expect(d.failed).toEqual([])
    expect(d.left).toEqual([
      'dataset s3://dogs-data/data/ (3 objects, 2.9 KB)',
      'job outputs s3://dogs-data/output/, s3://dogs-data/dogs/checkpoints/ (1 object, 1 B)',
    ])
    // Dependency order as the user saw it.
    const order = [
      'autoscaling of',
      'endpoint dogs-endpoint',
      'endpoint config',
      'model dogs-model',
      'provisioned concurrency',
      'Lambda function',
      'IAM role',
      'instance profile',
      'EC2 instance',
      'security group',
    ]
    const positions = order.map((label) => down.stderr.indexOf(`Deleting ${label}`))
    expect(
      positions.every((p) => p >= 0),
      down.stderr,
    ).toBe(true)
    expect([...positions].sort((a, b) => a - b)).toEqual(positions)

    expect((await sm.send(new ListEndpointsCommand({}))).Endpoints).toEqual([])
    expect((await sm.send(new ListEndpointConfigsCommand({}))).EndpointConfigs).toEqual([])
    expect((await sm.send(new ListModelsCommand({}))).Models).toEqual([])
    expect((await aas.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker' }))).ScalableTargets).toEqual([])
    expect((await lambda.send(new ListFunctionsCommand({}))).Functions).toEqual([])
    expect((await iam.send(new ListRolesCommand({}))).Roles!.map((r) => r.RoleName).filter((n) => !n!.startsWith('AWSServiceRole'))).toEqual([
      'other-team-role',
    ])
    expect((await iam.send(new ListInstanceProfilesCommand({}))).InstanceProfiles).toEqual([])
    const instances = (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!)
    expect(instances.filter((i) => i.State?.Name === 'running').map((i) => i.InstanceType)).toEqual(['t3.micro'])
    expect((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['dogs-train-ec2'] }] }))).SecurityGroups).toEqual([])
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data', Prefix: 'data/' }))).KeyCount).toBe(3)

    const again = await runMlops(['teardown', '--yes'], { cwd: dir, env })
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Nothing to tear down for project dogs.')
  })

  it('--delete-data also removes the dataset and outputs', async () => {
    await seedProject()
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['teardown', '--yes', '--delete-data', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    // By kind with counts and sizes, not key by key (8,350 lines for the real dataset; issue 31 item 7).
    expect(run.stderr).toContain(
      '  - 4 objects mlops wrote in s3://dogs-data/\n      dataset s3://dogs-data/data/ (3 objects, 2.9 KB)\n      job outputs s3://dogs-data/output/, s3://dogs-data/dogs/checkpoints/ (1 object, 1 B)\n',
    )
    expect(run.stderr).not.toContain('output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz')
    expect(run.json().left).toEqual([])
    expect((await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data' }))).KeyCount).toBe(0)
  })

  it('--delete-data in a shared bucket deletes only what mlops wrote, lists it first, and keeps the rest (issue 19)', async () => {
    await seedProject()
    const others = ['output/other-team-model.tar.gz', 'data/train/001.A/not-uploaded-by-mlops.jpg', 'dogs/notes.txt', 'other-team/data.csv']
    for (const Key of others) await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key, Body: 'theirs' }))
    // Marked with something that is not a sha256: not mlops's mark either.
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: 'data/valid/001.A/fake.jpg', Body: 'x', Metadata: { sha256: 'yes' } }))
    const mine = [
      'data/test/001.A/c.jpg',
      'data/train/001.A/a.jpg',
      'data/valid/001.A/b.jpg',
      'dogs/code/abc/sourcedir.tar.gz',
      'dogs/models/abc/model.tar.gz',
      'output/dogs-train-2026-11-22-10-00-00-000/output/model.tar.gz',
    ]
    for (const Key of ['dogs/code/abc/sourcedir.tar.gz', 'dogs/models/abc/model.tar.gz']) {
      await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key, Body: 'pkg', Metadata: { sha256: 'a'.repeat(64) } }))
    }
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['teardown', '--yes', '--delete-data', '--verbose', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    // Exactly what goes is listed before the question, by kind, and with --verbose key by key.
    expect(run.stderr).toContain(
      [
        '  - 6 objects mlops wrote in s3://dogs-data/',
        '      dataset s3://dogs-data/data/ (3 objects, 2.9 KB)',
        '      job outputs s3://dogs-data/output/, s3://dogs-data/dogs/checkpoints/ (1 object, 1 B)',
        '      model archives s3://dogs-data/dogs/models/ (1 object, 3 B)',
        '      code packages s3://dogs-data/dogs/code/ (1 object, 3 B)',
        ...mine.map((k) => `      ${k}`),
      ].join('\n') + '\n',
    )
    expect(run.stderr).toContain("(keeping 4 objects under the project's prefixes that mlops did not write)")
    const left = ((await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data' }))).Contents ?? []).map((o) => o.Key).sort()
    expect(left).toEqual([...others, 'data/valid/001.A/fake.jpg'].sort())
    expect(run.json().deleted).toContain('6 objects mlops wrote in s3://dogs-data/')
  })

  it('--dry-run plans offline from names and state, without credentials', async () => {
    const dir = await tempProject(minimalConfig())
    const env = {
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_CONFIG_FILE: '/nonexistent',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
      AWS_ENDPOINT_URL: undefined,
    }
    const run = await runMlops(['teardown', '--dry-run', '--json'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations.map((o: { service: string; operation: string }) => `${o.service}:${o.operation}`)
    expect(ops.indexOf('application-autoscaling:DeregisterScalableTarget')).toBeLessThan(ops.indexOf('sagemaker:DeleteEndpoint'))
    expect(ops.indexOf('sagemaker:DeleteEndpoint')).toBeLessThan(ops.indexOf('lambda:DeleteFunction'))
    expect(ops.indexOf('lambda:DeleteFunction')).toBeLessThan(ops.indexOf('iam:DeleteRole'))
    expect(ops).not.toContain('s3:DeleteObjects')
    const status = await runMlops(['status', '--dry-run'], { cwd: dir, env })
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('DescribeEndpoint')
  })

  it('--dry-run names the idle stop (alarm, topic, reaper function and role) that a real teardown removes', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['teardown', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops: { service: string; operation: string; input: unknown }[] = run.json().operations
    const op = (operation: string, input: Record<string, unknown>) => expect.objectContaining({ operation, input: expect.objectContaining(input) })
    expect(ops).toContainEqual(op('DeleteAlarms', { AlarmNames: ['dogs-endpoint-idle-stop'] }))
    expect(ops).toContainEqual(op('DeleteTopic', { TopicArn: expect.stringMatching(/:dogs-endpoint-idle-stop$/) }))
    expect(ops).toContainEqual(op('DeleteFunction', { FunctionName: 'dogs-endpoint-idle-stop' }))
    expect(ops).toContainEqual(op('DeleteRole', { RoleName: 'dogs-endpoint-idle-stop' }))
    // The alarm goes before the endpoint it would delete.
    const index = (operation: string) => ops.findIndex((o) => o.operation === operation)
    expect(index('DeleteAlarms')).toBeLessThan(index('DeleteEndpoint'))
  })
})
