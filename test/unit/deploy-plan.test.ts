import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { list as listTar, create as createTar } from 'tar'
import { describe, expect, it } from 'vitest'
import { parseLambdaAnswer, parseInferenceAnswer } from '../../src/aws/sagemaker/invoke-model.js'
import { collectInferenceCode, makeWorkDir, pythonImports, repackModelArchive } from '../../src/features/deploy/model-package.js'
import { parseConfigText } from '../../src/config/load.js'
import { endpointRequest, lambdaEvent, readImageInput, sniffImageType } from '../../src/features/deploy/invoke.js'
import { buildCreateModelInput, buildUpdateEndpointInput, resolveDeploySettings, scalingBlocksUpdate } from '../../src/features/deploy/plan.js'
import { variantFromConfig } from '../../src/shared/endpoint-variant.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { tinyModelTarGz } from '../fixtures/deploy.js'

const NOW = new Date('2026-11-22T10:00:00Z')
const cfgOf = (extra = '') => parseConfigText(minimalConfig(extra), 'x.yaml')
const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts')
const SERVE_YAML = 'applications: []\n'

async function entriesOf(file: string): Promise<string[]> {
  const names: string[] = []
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .pipe(
        listTar({
          onReadEntry: (e) => {
            names.push(e.path)
          },
        }) as unknown as NodeJS.WritableStream,
      )
      .on('finish', resolve)
      .on('error', reject)
  })
  return names
}

describe('deploy settings', () => {
  it("merges flags over endpoint.* and picks the region's image", () => {
    const s = resolveDeploySettings(cfgOf(), {}, 'us-east-1', NOW)
    expect(s).toMatchObject({
      endpointName: 'dogs-endpoint',
      modelName: 'dogs-model-2026-11-22-10-00-00-000',
      configName: 'dogs-config-2026-11-22-10-00-00-000',
      variant: { kind: 'instance', instanceType: 'ml.m5.large', instanceCount: 1 },
      image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1',
      waitTimeoutSeconds: 1800,
      keepVersions: 2,
    })
    const gpu = resolveDeploySettings(cfgOf(), { instanceType: 'ml.g4dn.xlarge', instanceCount: 2, timeoutSeconds: 60 }, 'eu-west-1', NOW)
    expect(gpu.image).toBe('763104351884.dkr.ecr.eu-west-1.amazonaws.com/ray:serve-ml-sagemaker-cuda-v1')
    expect(gpu.variant).toEqual({ kind: 'instance', instanceType: 'ml.g4dn.xlarge', instanceCount: 2 })
    expect(gpu.waitTimeoutSeconds).toBe(60)
  })

  it('serverless is refused on the Ray Serve image, with why and the alternative', () => {
    const refuse = (yaml: string, flags: Parameters<typeof resolveDeploySettings>[1]) => () => resolveDeploySettings(cfgOf(yaml), flags, 'us-east-1', NOW)
    expect(refuse('endpoint:\n  instanceType: ml.g4dn.xlarge\n', { serverless: true, memoryMb: 4096 })).toThrow(
      /not offered on the Ray Serve image: AWS documents and tests it on real-time instances only/,
    )
    expect(refuse('endpoint:\n  serverless: {}\n', {})).toThrow(
      expect.objectContaining({ code: 'ServerlessUnsupported', hint: expect.stringContaining('endpoint.idleStop') }),
    )
    // endpoint.image naming the Ray image in any region's registry is refused the same way.
    expect(refuse('endpoint:\n  image: 772153158452.dkr.ecr.ap-south-2.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1.3\n', { serverless: true })).toThrow(
      /Ray Serve image/,
    )
  })

  it('serverless with an image of the user’s own takes config or flag sizes', () => {
    const own = 'endpoint:\n  image: 111122223333.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu\n'
    const s = resolveDeploySettings(cfgOf(`${own}  instanceType: ml.g4dn.xlarge\n`), { serverless: true, memoryMb: 4096 }, 'us-east-1', NOW)
    expect(s.variant).toEqual({ kind: 'serverless', memoryMb: 4096, maxConcurrency: 5 })
    expect(s.image).toBe('111122223333.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu')
    const fromCfg = resolveDeploySettings(cfgOf(`${own}  serverless: { memoryMb: 3072, maxConcurrency: 9 }\n`), {}, 'us-east-1', NOW)
    expect(fromCfg.variant).toEqual({ kind: 'serverless', memoryMb: 3072, maxConcurrency: 9 })
    // An instance flag overrides a serverless config.
    expect(resolveDeploySettings(cfgOf('endpoint:\n  serverless: {}\n'), { instanceType: 'ml.c5.xlarge' }, 'us-east-1', NOW).variant.kind).toBe('instance')
  })

  it('refuses contradictory flags and a GPU image for serverless', () => {
    expect(() => resolveDeploySettings(cfgOf(), { serverless: true, instanceType: 'ml.m5.large' }, 'us-east-1', NOW)).toThrow(/--serverless cannot be combined/)
    expect(() => resolveDeploySettings(cfgOf(), { memoryMb: 2048 }, 'us-east-1', NOW)).toThrow(/only apply to a serverless endpoint/)
    expect(() =>
      resolveDeploySettings(
        cfgOf('endpoint:\n  image: 1.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-gpu-py312\n'),
        { serverless: true },
        'us-east-1',
        NOW,
      ),
    ).toThrow(/Serverless endpoints run on CPU/)
  })

  it('CreateModel carries the Ray Serve environment (no TorchServe variables), the role and the project tags', () => {
    const s = resolveDeploySettings(cfgOf(), {}, 'us-west-2', NOW)
    expect(buildCreateModelInput(s, 's3://dogs-data/dogs/models/abc/model.tar.gz', 'arn:aws:iam::1:role/r')).toEqual({
      ModelName: 'dogs-model-2026-11-22-10-00-00-000',
      ExecutionRoleArn: 'arn:aws:iam::1:role/r',
      PrimaryContainer: {
        Image: '763104351884.dkr.ecr.us-west-2.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1',
        ModelDataUrl: 's3://dogs-data/dogs/models/abc/model.tar.gz',
        Environment: { SAGEMAKER_REGION: 'us-west-2' },
      },
      Tags: [
        { Key: 'mlops:project', Value: 'dogs' },
        { Key: 'mlops:managed-by', Value: 'mlops' },
      ],
    })
  })

  it('UpdateEndpoint: alarms give a blue/green config with auto-rollback; autoscaled count is retained', () => {
    const s = resolveDeploySettings(cfgOf('endpoint:\n  autoRollbackAlarms: [dogs-5xx]\n  bakeTime: 10m\n'), {}, 'us-east-1', NOW)
    expect(buildUpdateEndpointInput(s, 'c2', { retainInstanceCount: true })).toEqual({
      EndpointName: 'dogs-endpoint',
      EndpointConfigName: 'c2',
      RetainAllVariantProperties: true,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: { TrafficRoutingConfiguration: { Type: 'ALL_AT_ONCE', WaitIntervalInSeconds: 0 }, TerminationWaitInSeconds: 600 },
        AutoRollbackConfiguration: { Alarms: [{ AlarmName: 'dogs-5xx' }] },
      },
    })
    expect(buildUpdateEndpointInput(resolveDeploySettings(cfgOf(), {}, 'us-east-1', NOW), 'c2')).toEqual({
      EndpointName: 'dogs-endpoint',
      EndpointConfigName: 'c2',
    })
  })

  it('autoscaling blocks an update only when the instance type changes or the variant goes serverless', () => {
    const m5 = { kind: 'instance', instanceType: 'ml.m5.large', instanceCount: 1 } as const
    expect(scalingBlocksUpdate(m5, { ...m5, instanceCount: 3 })).toBe(false)
    expect(scalingBlocksUpdate(m5, { ...m5, instanceType: 'ml.c5.xlarge' })).toBe(true)
    expect(scalingBlocksUpdate(m5, { kind: 'serverless', memoryMb: 2048, maxConcurrency: 5 })).toBe(true)
    expect(scalingBlocksUpdate(undefined, m5)).toBe(false)
    expect(variantFromConfig({ VariantName: 'AllTraffic', ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 4 } })).toEqual({
      kind: 'serverless',
      memoryMb: 2048,
      maxConcurrency: 4,
    })
  })
})

describe('repacking the model', () => {
  it('finds the handler and the local modules it imports, not the training scripts', async () => {
    expect(pythonImports('import os, sys\nimport model_def as md\nfrom url_fetch import fetch\n  import torch.nn\n# import nope\nfrom . import x\n')).toEqual([
      'os',
      'sys',
      'model_def',
      'url_fetch',
      'torch',
    ])
    const code = await collectInferenceCode(SCRIPTS, 'deployment.py')
    expect(code.files).toEqual(['deployment.py', 'inference.py', 'model_def.py', 'serve_compat.py', 'url_fetch.py'])
    expect(code.bundled).toBe(false)
    expect(code.app).toEqual({ module: 'deployment', deployment: 'Predictor' })
    expect(code.requirements).toBeUndefined()
    // A project without its own handler gets the one bundled with mlops.
    const empty = await tempProject(undefined, { 'scripts/train.py': 'x' })
    const fallback = await collectInferenceCode(path.join(empty, 'scripts'), 'deployment.py', SCRIPTS)
    expect(fallback).toMatchObject({ dir: SCRIPTS, bundled: true })
    await expect(collectInferenceCode(path.join(empty, 'scripts'), 'no_such_handler.py', SCRIPTS)).rejects.toMatchObject({ code: 'InferenceHandlerMissing' })
  })

  it('replaces code/ with the Ray Serve layout, keeps the weights, and is byte-for-byte reproducible', async () => {
    const archive = await tinyModelTarGz()
    const code = await collectInferenceCode(SCRIPTS, 'deployment.py')
    const a = await makeWorkDir()
    const b = await makeWorkDir()
    try {
      const first = await repackModelArchive(Readable.from(archive), code, SERVE_YAML, a.dir, 'test')
      const second = await repackModelArchive(Readable.from(archive), code, SERVE_YAML, b.dir, 'test')
      expect(first.sha256).toBe(second.sha256)
      expect(first.entries).toEqual([
        'classes.json',
        'config.yaml',
        'deployment.py',
        'inference.py',
        'model.pth',
        'model_def.py',
        'serve_compat.py',
        'url_fetch.py',
      ])
      expect((await entriesOf(first.file)).sort()).toEqual(first.entries)
      expect((await readFile(first.file)).length).toBe(first.bytes)
    } finally {
      await a.cleanup()
      await b.cleanup()
    }
  })

  it('refuses an archive that is not a tarball, or holds only code', async () => {
    const code = await collectInferenceCode(SCRIPTS, 'deployment.py')
    const w = await makeWorkDir()
    try {
      await expect(repackModelArchive(Readable.from(Buffer.from('not a tarball at all')), code, SERVE_YAML, w.dir, 's3://b/k')).rejects.toMatchObject({
        code: expect.stringMatching(/ModelArchive(Unreadable|Empty)/),
      })
      const dir = await tempProject(undefined, { 'code/x.py': '1' })
      const chunks: Buffer[] = []
      for await (const c of createTar({ cwd: dir, gzip: true }, ['code/x.py']) as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(c))
      await expect(repackModelArchive(Readable.from(Buffer.concat(chunks)), code, SERVE_YAML, w.dir, 's3://b/k')).rejects.toMatchObject({
        code: 'ModelArchiveEmpty',
      })
    } finally {
      await w.cleanup()
    }
  })
})

describe('inference answers', () => {
  it("accepts the handler's JSON, sorted by probability", () => {
    const a = parseInferenceAnswer(
      JSON.stringify({
        predictions: [
          { label: 'B', index: 1, probability: 0.1 },
          { label: 'A', index: 0, probability: 0.9 },
        ],
        top_k: 2,
        model: { arch: 'resnet50' },
      }),
      'x',
    )
    expect(a).toEqual({
      predictions: [
        { label: 'A', index: 0, probability: 0.9 },
        { label: 'B', index: 1, probability: 0.1 },
      ],
      model: { arch: 'resnet50' },
    })
  })

  it('rejects anything else with BadInferenceResponse', () => {
    for (const bad of [
      '<html>',
      '{}',
      '{"predictions": []}',
      '{"predictions": [{"label": "A", "probability": 93}]}',
      '{"predictions": [{"probability": 0.3}]}',
    ]) {
      expect(() => parseInferenceAnswer(bad, 'Endpoint e')).toThrow(expect.objectContaining({ code: 'BadInferenceResponse' }))
    }
  })

  it('reads proxy-style Lambda answers and their errors', () => {
    const body = JSON.stringify({ predictions: [{ label: 'A', probability: 0.5 }] })
    expect(parseLambdaAnswer(JSON.stringify({ statusCode: 200, body }), 'f').predictions[0].label).toBe('A')
    expect(parseLambdaAnswer(body, 'f').predictions[0].label).toBe('A')
    expect(() => parseLambdaAnswer(JSON.stringify({ statusCode: 400, body: JSON.stringify({ error: 'not an image' }) }), 'f')).toThrow(/HTTP 400: not an image/)
  })
})

describe('invoke requests', () => {
  it('reads a file with its type, refuses http, big files and non-images', async () => {
    const dir = await tempProject(undefined, {
      'dog.jpeg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2]),
      'dog.bin': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0]),
      'notes.txt': 'hello',
      'big.jpg': Buffer.alloc(6 * 1024 * 1024 + 1),
    })
    expect(await readImageInput('dog.jpeg', dir)).toMatchObject({ kind: 'file', contentType: 'image/jpeg' })
    expect(await readImageInput('dog.bin', dir)).toMatchObject({ contentType: 'image/png' })
    expect(sniffImageType(new Uint8Array([1, 2, 3, 4]))).toBeUndefined()
    await expect(readImageInput('notes.txt', dir)).rejects.toMatchObject({ code: 'UnsupportedImageType' })
    await expect(readImageInput('big.jpg', dir)).rejects.toMatchObject({ code: 'ImageTooLarge' })
    await expect(readImageInput('missing.jpg', dir)).rejects.toMatchObject({ code: 'ImageNotFound' })
    await expect(readImageInput('http://example.com/dog.jpg', dir)).rejects.toMatchObject({ code: 'InvalidImageUrl' })
  })

  it('sends raw bytes for the default top-5, JSON with top_k beyond it, and {"url"} for URLs', async () => {
    const dir = await tempProject(undefined, { 'dog.jpg': Buffer.from([0xff, 0xd8, 0xff, 7]) })
    const img = await readImageInput('dog.jpg', dir)
    expect(endpointRequest(img, 3)).toMatchObject({ contentType: 'image/jpeg', body: new Uint8Array([0xff, 0xd8, 0xff, 7]) })
    const big = endpointRequest(img, 10)
    expect(big.contentType).toBe('application/json')
    expect(JSON.parse(Buffer.from(big.body).toString())).toEqual({ image: Buffer.from([0xff, 0xd8, 0xff, 7]).toString('base64'), top_k: 10 })
    const url = await readImageInput('https://example.com/d.jpg', dir)
    expect(JSON.parse(Buffer.from(endpointRequest(url, 3).body).toString())).toEqual({ url: 'https://example.com/d.jpg', top_k: 3 })
    expect(lambdaEvent(url)).toEqual({ url: 'https://example.com/d.jpg' })
    expect(lambdaEvent(img, 4)).toEqual({ image: '/9j/Bw==', top_k: 4 })
  })
})

describe('flags and dry runs (offline, no credentials)', () => {
  it('bad deploy flags exit 2 naming the flag, before any AWS call', async () => {
    const dir = await tempProject(minimalConfig())
    // A flag that overrides an endpoint.* field is checked by that field: `--flag: <the field's message>, got "value".`
    const cases: [string[], RegExp | string][] = [
      [
        ['--instance-type', 'm5.large'],
        `--instance-type: expected a SageMaker instance type such as ml.m5.large or ml.g4dn.xlarge (note the 'ml.' prefix), got "m5.large".`,
      ],
      [['--instance-count', '0'], '--instance-count: must be at least 1 (endpoint instances), got "0".'],
      [['--instance-count', 'lots'], '--instance-count: expected a number (endpoint instances), got "lots".'],
      [['--serverless', '--memory', '1500'], '--memory: expected 1024, 2048, 3072, 4096, 5120 or 6144, got "1500".'],
      [['--serverless', '--max-concurrency', '500'], '--max-concurrency: must be at most 200 (concurrent invocations), got "500".'],
      [['--memory', '2048'], /only apply to a serverless endpoint/],
      [['--serverless', '--instance-type', 'ml.m5.large'], /--serverless cannot be combined/],
      [
        ['--model', 'not a job!'],
        '--model: must be an s3:// URI of a model.tar.gz, a training job name, or a local model.tar.gz or run folder (./model.tar.gz, .mlops/local/<job>), got "not a job!".',
      ],
      [['--timeout', 'soon'], /--timeout: "soon" is not a duration/],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(['deploy', ...args, '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
      expect(run.code, args.join(' ')).toBe(2)
      if (typeof message === 'string') expect(run.stderr).toContain(message)
      else expect(run.stderr).toMatch(message)
    }
  })

  it('deploy --dry-run --json prints every request with full inputs', async () => {
    const dir = await tempProject(minimalConfig(), {
      '.mlops/state.json': JSON.stringify({
        version: 1,
        resources: [
          {
            kind: 'model-artifact',
            name: 's3://dogs-data/output/dogs-train-1/output/model.tar.gz',
            region: 'us-east-1',
            createdAt: '2026-11-20T00:00:00Z',
            details: { source: 'sagemaker', jobName: 'dogs-train-1' },
          },
        ],
      }),
    })
    const run = await runMlops(['deploy', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc).toMatchObject({
      dryRun: true,
      endpoint: 'dogs-endpoint',
      source: { uri: 's3://dogs-data/output/dogs-train-1/output/model.tar.gz', foundIn: 'state' },
      hourlyUsd: 0.115,
    })
    const ops = doc.operations.map((o: { service: string; operation: string }) => `${o.service}:${o.operation}`)
    expect(ops).toEqual([
      'sagemaker:DescribeEndpoint',
      'sagemaker:DescribeEndpointConfig',
      'application-autoscaling:DescribeScalableTargets',
      'application-autoscaling:DescribeScalingPolicies',
      'pricing:GetProducts',
      's3:GetObject',
      's3:HeadObject',
      's3:PutObject',
      'sts:GetCallerIdentity',
      'iam:GetRole',
      'iam:CreateRole',
      'iam:UpdateAssumeRolePolicy',
      'iam:TagRole',
      'iam:ListRolePolicies',
      'iam:GetRolePolicy',
      'iam:PutRolePolicy',
      'iam:DeleteRolePolicy',
      'iam:ListAttachedRolePolicies',
      'iam:DetachRolePolicy',
      'sagemaker:CreateModel',
      'sagemaker:CreateEndpointConfig',
      'sagemaker:CreateEndpoint',
      'application-autoscaling:DeleteScalingPolicy',
      'application-autoscaling:DeregisterScalableTarget',
      'sagemaker:UpdateEndpoint',
      'sagemaker:DescribeEndpoint',
      'application-autoscaling:RegisterScalableTarget',
      'application-autoscaling:PutScalingPolicy',
      'sagemaker-runtime:InvokeEndpoint',
      'sagemaker:ListEndpointConfigs',
      'sagemaker:DeleteEndpointConfig',
      'sagemaker:ListModels',
      'sagemaker:DeleteModel',
    ])
    const createModel = doc.operations.find((o: { operation: string }) => o.operation === 'CreateModel').input
    expect(createModel.PrimaryContainer.ModelDataUrl).toBe('s3://dogs-data/dogs/models/<sha256-of-repacked-model>/model.tar.gz')
    expect(createModel.ExecutionRoleArn).toBe('arn:aws:iam::<account-id>:role/dogs-sagemaker')
    expect(doc.operations.find((o: { operation: string }) => o.operation === 'GetObject').input).toEqual({
      Bucket: 'dogs-data',
      Key: 'output/dogs-train-1/output/model.tar.gz',
    })
    expect(doc.operations.find((o: { operation: string }) => o.operation === 'CreateEndpointConfig').input.ProductionVariants).toEqual([
      {
        VariantName: 'AllTraffic',
        ModelName: 'dogs-model-2026-11-22-10-00-00-000',
        InitialInstanceCount: 1,
        InstanceType: 'ml.m5.large',
        InitialVariantWeight: 1,
      },
    ])
  })

  it('deploy --dry-run without state looks the model up in SageMaker; --no-smoke-test drops the invoke', async () => {
    // Serverless needs an image of the user's own (the Ray Serve image refuses it; see above).
    const ownImage = 'endpoint:\n  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu\n'
    const dir = await tempProject(minimalConfig(`training:\n  roleArn: arn:aws:iam::123456789012:role/mine\n${ownImage}`))
    const run = await runMlops(['deploy', '--dry-run', '--json', '--serverless', '--no-smoke-test'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations
    expect(ops.slice(0, 2).map((o: { operation: string }) => o.operation)).toEqual(['ListTrainingJobs', 'DescribeTrainingJob'])
    expect(ops.some((o: { service: string }) => o.service === 'iam')).toBe(false)
    expect(ops.some((o: { operation: string }) => o.operation === 'InvokeEndpoint')).toBe(false)
    expect(ops.find((o: { operation: string }) => o.operation === 'CreateEndpointConfig').input.ProductionVariants[0].ServerlessConfig).toEqual({
      MemorySizeInMB: 2048,
      MaxConcurrency: 5,
    })
    const human = await runMlops(['deploy', '--dry-run', '--model', 'dogs-train-7'], { cwd: dir, env: OFFLINE_ENV })
    expect(human.code).toBe(0)
    expect(human.stdout).toContain('Dry run: deploy dogs-endpoint')
    expect(human.stdout).toContain('DescribeTrainingJob')
    expect(human.stdout).toContain('dogs-train-7')
  })

  it('invoke --dry-run shows the request for the endpoint and for the Lambda', async () => {
    const dir = await tempProject(minimalConfig(), { 'dog.jpg': Buffer.from([0xff, 0xd8, 0xff, 1]) })
    const ep = await runMlops(['invoke', 'dog.jpg', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(ep.code, ep.stderr).toBe(0)
    expect(ep.json().operations).toEqual([
      {
        service: 'sagemaker-runtime',
        operation: 'InvokeEndpoint',
        input: { EndpointName: 'dogs-endpoint', ContentType: 'image/jpeg', Accept: 'application/json', Body: '<4 bytes: dog.jpg (4 B)>' },
      },
    ])
    const la = await runMlops(['invoke', 'https://example.com/d.jpg', '--lambda', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(la.json().operations[0]).toEqual({
      service: 'lambda',
      operation: 'Invoke',
      input: { FunctionName: 'dogs-invoke', Qualifier: 'live', Payload: { url: 'https://example.com/d.jpg' } },
    })
    const bad = await runMlops(['invoke', 'dog.jpg', '--top', '0'], { cwd: dir, env: OFFLINE_ENV })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--top: must be at least 1 (breeds), got "0".')
  })
})
