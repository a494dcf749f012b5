import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { extract as extractTar } from 'tar'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { parseConfigText } from '../../src/config/load.js'
import type { ConfigError } from '../../src/shared/errors.js'
import { collectInferenceCode, makeWorkDir, repackModelArchive } from '../../src/features/deploy/model-package.js'
import { extraRequirements, rayServeConfig, serveAppOf, serveConfigFor } from '../../src/features/deploy/ray-serve.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { tinyModelTarGz } from '../fixtures/deploy.js'

const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts')
const endpointOf = (extra = '') => parseConfigText(minimalConfig(extra), 'mlops.config.yaml').endpoint

describe('the Ray Serve model archive (issue 25 item 2)', () => {
  it('config.yaml imports deployment:app on route / with replicas, GPUs and batching from endpoint.*', () => {
    const app = { module: 'deployment', deployment: 'Predictor' }
    const cpu = parse(serveConfigFor(endpointOf(), { kind: 'instance', instanceType: 'ml.m5.large' }, app))
    expect(cpu).toEqual({
      applications: [
        {
          name: 'mlops',
          route_prefix: '/',
          import_path: 'deployment:app',
          deployments: [{ name: 'Predictor', num_replicas: 1, max_ongoing_requests: 16, user_config: { max_batch_size: 8, batch_wait_timeout_s: 0.01 } }],
        },
      ],
    })
    const gpu = parse(
      serveConfigFor(
        endpointOf('endpoint:\n  replicas: 4\n  batching:\n    maxBatchSize: 32\n    batchWaitTimeoutMs: 25\n'),
        { kind: 'instance', instanceType: 'ml.g5.12xlarge' },
        app,
      ),
    )
    expect(gpu.applications[0].deployments[0]).toEqual({
      name: 'Predictor',
      num_replicas: 4,
      max_ongoing_requests: 64,
      ray_actor_options: { num_gpus: 1 },
      user_config: { max_batch_size: 32, batch_wait_timeout_s: 0.025 },
    })
    const serverless = parse(serveConfigFor(endpointOf(), { kind: 'serverless' }, app))
    expect(serverless.applications[0].deployments[0].ray_actor_options).toBeUndefined()
    expect(rayServeConfig({ app, replicas: 1, gpusPerReplica: 0, maxBatchSize: 1, batchWaitTimeoutMs: 0 })).toMatch(/^# Written by mlops deploy/)
  })

  it('endpoint.batching and endpoint.replicas are validated with the field named', () => {
    const issues = (extra: string) => {
      try {
        endpointOf(extra)
      } catch (e) {
        return (e as ConfigError).issues.join('\n')
      }
      return ''
    }
    expect(issues('endpoint:\n  batching:\n    maxBatchSize: 0\n')).toMatch(/endpoint\.batching\.maxBatchSize: must be at least 1/)
    expect(issues('endpoint:\n  batching:\n    batchWaitTimeoutMs: -1\n')).toMatch(/endpoint\.batching\.batchWaitTimeoutMs: must be 0 or more/)
    expect(issues('endpoint:\n  replicas: 0\n')).toMatch(/endpoint\.replicas: must be at least 1/)
    expect(issues('endpoint:\n  entryPoint: my-app.py\n')).toMatch(/endpoint\.entryPoint: expected a Python module file name/)
  })

  it('reads the deployment name and refuses a module that is not a Ray Serve app', () => {
    expect(serveAppOf('app_x.py', '@serve.deployment\nclass Dogs:\n    pass\n\napp = Dogs.bind()\n')).toEqual({ module: 'app_x', deployment: 'Dogs' })
    expect(serveAppOf('d.py', '@serve.deployment(num_replicas=2, name="Breeds")\nclass Dogs:\n    pass\napp = Dogs.bind()\n').deployment).toBe('Breeds')
    expect(() => serveAppOf('inference.py', 'def model_fn(model_dir):\n    pass\n')).toThrow(
      expect.objectContaining({ code: 'NotARayServeApp', message: expect.stringContaining('endpoint.entryPoint inference.py is not a Ray Serve application') }),
    )
  })

  it('ships code/requirements.txt only with what the image lacks', async () => {
    expect(extraRequirements('torch==2.10\nPillow>=10  # in the image\n\nray[serve]\nnumpy\n')).toBeUndefined()
    expect(extraRequirements('--index-url https://pypi.example/simple\ntorch\ntimm==1.0.9\nopencv_python\n')).toBe(
      '--index-url https://pypi.example/simple\ntimm==1.0.9\n',
    )
    const dir = await tempProject(undefined, {
      'scripts/deployment.py': '@serve.deployment\nclass P:\n    pass\napp = P.bind()\n',
      'scripts/requirements.txt': 'torch\ntimm==1.0.9\n',
    })
    const code = await collectInferenceCode(path.join(dir, 'scripts'), 'deployment.py', SCRIPTS)
    expect(code).toMatchObject({ files: ['deployment.py'], bundled: false, requirements: 'timm==1.0.9\n' })
    const w = await makeWorkDir()
    const out = await mkdtemp(path.join(os.tmpdir(), 'mlops-ray-archive-'))
    try {
      const repacked = await repackModelArchive(Readable.from(await tinyModelTarGz()), code, 'applications: []\n', w.dir, 'test')
      expect(repacked.entries).toEqual(['classes.json', 'code/requirements.txt', 'config.yaml', 'deployment.py', 'model.pth'])
      await extractTar({ file: repacked.file, cwd: out })
      expect(await readFile(path.join(out, 'code/requirements.txt'), 'utf8')).toBe('timm==1.0.9\n')
      expect(await readFile(path.join(out, 'config.yaml'), 'utf8')).toBe('applications: []\n')
    } finally {
      await w.cleanup()
      await rm(out, { recursive: true, force: true })
    }
  })
})

describe('mlops serve runs the predictor with the endpoint batching (issue 25 item 3)', () => {
  it('passes endpoint.batching to serve.py', async () => {
    const dir = await tempProject(minimalConfig('endpoint:\n  batching:\n    maxBatchSize: 32\n    batchWaitTimeoutMs: 25\n'))
    const run = await runMlops(['serve', '--dry-run', '--json', '--model', 'm.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const command = run.json().operations[0].input.Command as string[]
    expect(command[1]).toMatch(/scripts[/\\]serve\.py$/)
    expect(command.slice(-4)).toEqual(['--max-batch-size', '32', '--batch-wait-ms', '25'])
  })
})
