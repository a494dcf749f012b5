import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { list as listTar } from 'tar'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { buildCodePackage, codePackageLocation } from '../../src/shared/code-package.js'
import { ensureCodePackage } from '../../src/aws/s3/code-upload.js'
import { ensureInstanceProfile, ensureRole, isIamPropagationError, retryWhileIamPropagates } from '../../src/aws/iam/roles.js'
import { serviceTrustPolicy, type RoleSpec } from '../../src/shared/roles/policy.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'
import { processorFor, servingImageUri, trainingImageUri } from '../../src/aws/sagemaker/images.js'
import { formatMetrics, latestMetrics, metricDefinitions, objectiveDirection, parseMetricLine } from '../../src/shared/metrics.js'
import { fastClock, tempProject } from '../helpers/cli.js'
import { motoClientConfig, startMoto, type MotoServer } from '../helpers/moto.js'

describe('metric lines', () => {
  it('parses the epoch and final lines', () => {
    expect(parseMetricLine('epoch=3 train_loss=0.912 val_loss=0.805 val_accuracy=0.771 images_per_sec=412.5')).toEqual({
      epoch: 3,
      train_loss: 0.912,
      val_loss: 0.805,
      val_accuracy: 0.771,
      images_per_sec: 412.5,
    })
    expect(parseMetricLine('test_accuracy=0.802 test_loss=1e-3')).toEqual({ test_accuracy: 0.802, test_loss: 0.001 })
    expect(parseMetricLine('Downloading data...')).toBeUndefined()
    expect(latestMetrics(['epoch=1 val_accuracy=0.5', 'noise', 'epoch=2 val_accuracy=0.7'])).toEqual({ epoch: 2, val_accuracy: 0.7 })
    expect(formatMetrics({ epoch: 2, val_accuracy: 0.7 })).toBe('epoch 2  val_accuracy 0.7')
  })
  it('regexes work the way SageMaker applies them (first group) and do not confuse similar names', () => {
    const defs = metricDefinitions()
    const val = defs.find((d) => d.Name === 'val_loss')!
    const m = new RegExp(val.Regex).exec('epoch=1 train_loss=2.5 val_loss=1.25 val_accuracy=0.1')
    expect(m?.[1]).toBe('1.25')
    expect(objectiveDirection('val_loss')).toBe('Minimize')
    expect(objectiveDirection('val_accuracy')).toBe('Maximize')
  })
})

describe('image URIs', () => {
  it('resolves region, processor and tag from the lifecycle and registry tables', () => {
    expect(trainingImageUri({ region: 'us-east-1', frameworkVersion: '2.8.0', pyVersion: 'py312', instanceType: 'ml.g5.xlarge' })).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.8.0-gpu-py312',
    )
    expect(servingImageUri('ap-east-1', 'ml.m5.large')).toBe('871362719292.dkr.ecr.ap-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1')
    expect(servingImageUri('cn-north-1', 'ml.p3.2xlarge')).toBe('727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/ray:serve-ml-sagemaker-cuda-v1')
    expect(processorFor('ml.c5.xlarge')).toBe('cpu')
  })
  it('refuses unknown versions and mismatched Python tags with the fix', () => {
    expect(() => trainingImageUri({ region: 'us-east-1', frameworkVersion: '2.5.1', instanceType: 'ml.m5.large' })).toThrow(
      /PyTorch 2.5.1 has no SageMaker training image/,
    )
    expect(() => trainingImageUri({ region: 'us-east-1', frameworkVersion: '2.8.0', pyVersion: 'py311', instanceType: 'ml.m5.large' })).toThrow(
      /built for py312/,
    )
  })
})

describe('code package', () => {
  it('is reproducible, excludes caches and requires the entry point', async () => {
    const dir = await tempProject(undefined, {
      'src/train.py': 'print(1)\n',
      'src/model_def.py': 'x=1\n',
      'src/__pycache__/a.pyc': 'junk',
      'src/.DS_Store': 'x',
    })
    const a = await buildCodePackage(path.join(dir, 'src'), 'train.py')
    await new Promise((r) => setTimeout(r, 20))
    await writeFile(path.join(dir, 'src/model_def.py'), 'x=1\n') // same content, new mtime
    const b = await buildCodePackage(path.join(dir, 'src'), 'train.py')
    expect(a.sha256).toBe(b.sha256)
    expect(a.files).toEqual(['model_def.py', 'train.py'])
    const names: string[] = []
    await new Promise<void>((resolve, reject) => {
      Readable.from(a.body)
        .pipe(
          listTar({
            onReadEntry: (e) => {
              names.push(e.path)
            },
          }),
        )
        .on('finish', resolve)
        .on('error', reject)
    })
    expect(names.sort()).toEqual(['model_def.py', 'train.py'])
    await expect(buildCodePackage(path.join(dir, 'src'), 'hpo.py')).rejects.toMatchObject({ code: 'EntryPointMissing' })
    await expect(buildCodePackage(path.join(dir, 'nope'), 'train.py')).rejects.toMatchObject({ code: 'SourceDirMissing' })
  })
})

describe('against moto', () => {
  let moto: MotoServer
  let s3: S3Client
  let iam: IAMClient
  beforeAll(async () => {
    moto = await startMoto()
    s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
    iam = new IAMClient(motoClientConfig(moto.endpoint))
  })
  afterAll(async () => moto?.stop())
  beforeEach(async () => moto.reset())

  it('uploads code content-addressed, once', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'code-bucket' }))
    const dir = await tempProject(undefined, { 'train.py': 'print(1)\n' })
    const pkg = await buildCodePackage(dir, 'train.py')
    const first = await ensureCodePackage(s3, codePackageLocation('code-bucket', 'dogs', pkg.sha256), pkg)
    expect(first).toEqual({ uploaded: true, key: `dogs/code/${pkg.sha256}/sourcedir.tar.gz`, uri: codePackageLocation('code-bucket', 'dogs', pkg.sha256).uri })
    const second = await ensureCodePackage(s3, codePackageLocation('code-bucket', 'dogs', pkg.sha256), pkg)
    expect(second.uploaded).toBe(false)
    const obj = await s3.send(new GetObjectCommand({ Bucket: 'code-bucket', Key: first.key }))
    expect(Buffer.from(await obj.Body!.transformToByteArray()).equals(pkg.body)).toBe(true)
  })

  it('creates a role, then converges it: extra inline policies and attachments are removed', async () => {
    const spec: RoleSpec = {
      name: 'dogs-test',
      description: 'test',
      trustPolicy: serviceTrustPolicy('lambda.amazonaws.com', '123456789012'),
      inlinePolicies: {
        invoke: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'sagemaker:InvokeEndpoint', Resource: 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs' }],
        },
      },
      tags: [{ Key: 'mlops:project', Value: 'dogs' }],
    }
    const created = await ensureRole(iam, spec)
    expect(created.created).toBe(true)
    expect(created.arn).toBe('arn:aws:iam::123456789012:role/dogs-test')
    expect((await ensureRole(iam, spec)).changes).toEqual([])
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'dogs-test',
        PolicyName: 'extra',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    )
    const { AttachRolePolicyCommand } = await import('@aws-sdk/client-iam')
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'dogs-test', PolicyArn: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess' }))
    const converged = await ensureRole(iam, spec)
    expect(converged.changes).toEqual(['removed-inline:extra', 'detached:arn:aws:iam::aws:policy/AmazonSageMakerFullAccess'])
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'dogs-test' }))).AttachedPolicies).toEqual([])
    const doc = (await iam.send(new GetRolePolicyCommand({ RoleName: 'dogs-test', PolicyName: 'invoke' }))).PolicyDocument!
    expect(JSON.parse(decodeURIComponent(doc)).Statement[0].Action).toBe('sagemaker:InvokeEndpoint')
    const profile = await ensureInstanceProfile(iam, 'dogs-profile', 'dogs-test', [])
    expect(profile.created).toBe(true)
    expect((await ensureInstanceProfile(iam, 'dogs-profile', 'dogs-test', [])).created).toBe(false)
  })
})

describe('IAM propagation retry', () => {
  it('retries only propagation errors, bounded', async () => {
    let calls = 0
    const value = await retryWhileIamPropagates(
      async () => {
        calls++
        if (calls < 3)
          throw Object.assign(new Error('The role defined for the function cannot be assumed by Lambda.'), { name: 'InvalidParameterValueException' })
        return 'ok'
      },
      { clock: fastClock() },
    )
    expect(value).toBe('ok')
    expect(calls).toBe(3)
    const other = Object.assign(new Error('nope'), { name: 'ValidationException' })
    expect(isIamPropagationError(other)).toBe(false)
    await expect(
      retryWhileIamPropagates(
        async () => {
          throw other
        },
        { clock: fastClock() },
      ),
    ).rejects.toBe(other)
    let n = 0
    await expect(
      retryWhileIamPropagates(
        async () => {
          n++
          throw new Error('Invalid IAM Instance Profile name')
        },
        { clock: fastClock(), attempts: 3 },
      ),
    ).rejects.toThrow()
    expect(n).toBe(3)
  })
})

describe('execution role', () => {
  it('is scoped to the project prefixes, and gains exactly one KMS statement when the data is SSE-KMS encrypted', async () => {
    const { executionRoleSpec } = await import('../../src/shared/roles/execution-role.js')
    const { parseConfigText } = await import('../../src/config/load.js')
    const plain = executionRoleSpec(parseConfigText('project:\n  name: dogs\ndata:\n  bucket: dogs-data\n', 'x'), roleTarget('123456789012', 'us-east-1', []))
    const statements = plain.inlinePolicies['mlops-execution'].Statement
    expect(statements.some((s) => JSON.stringify(s).includes('kms:'))).toBe(false)
    expect(statements.find((s) => s.Sid === 'ReadDataCodeAndModels')?.Resource).toEqual([
      'arn:aws:s3:::dogs-data/data/*',
      'arn:aws:s3:::dogs-data/dogs/code/*',
      'arn:aws:s3:::dogs-data/output/*',
      'arn:aws:s3:::dogs-data/dogs/checkpoints/*',
      'arn:aws:s3:::dogs-data/dogs/models/*',
    ])
    expect(plain.managedPolicyArns).toEqual([])
    const kms = executionRoleSpec(
      parseConfigText('project:\n  name: dogs\ndata:\n  bucket: dogs-data\n  kmsKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab\n', 'x'),
      roleTarget('123456789012', 'eu-west-1', []),
    )
    expect(kms.inlinePolicies['mlops-execution'].Statement.at(-1)).toEqual({
      Sid: 'DataKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    })
  })
})
