import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { buildCreateModelInput, resolveDeploySettings } from '../../src/features/deploy/plan.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

/** The smallest module Ray Serve's config.yaml can import an app from. */
const RAY_APP = '@serve.deployment\nclass Dogs:\n    pass\n\napp = Dogs.bind()\n'

// Issue 25: the Ray Serve image reads the module from the archive's config.yaml (import_path), so the
// environment names no module at all: there is no second place that could disagree with what was shipped.

describe('serving environment (Ray Serve contract)', () => {
  it('carries no TorchServe variables, whatever endpoint.entryPoint is', () => {
    const env = (extra: string) =>
      buildCreateModelInput(resolveDeploySettings(parseConfigText(minimalConfig(extra), 'x.yaml'), {}, 'us-east-1', new Date(0)), 's3://b/m.tar.gz', 'arn:role')
        .PrimaryContainer?.Environment
    expect(env('')).toEqual({ SAGEMAKER_REGION: 'us-east-1' })
    expect(env('endpoint:\n  entryPoint: serve.py\n')).toEqual({ SAGEMAKER_REGION: 'us-east-1' })
  })

  it('the --dry-run plan creates the model on the Ray Serve image with that environment', async () => {
    const dir = await tempProject(minimalConfig('training:\n  sourceDir: scripts\nendpoint:\n  entryPoint: serve.py\n'), {
      'scripts/serve.py': `import json\n${RAY_APP}`,
    })
    const run = await runMlops(['deploy', '--dry-run', '--json', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations as { operation: string; input: { PrimaryContainer?: { Image?: string; Environment?: Record<string, string> } } }[]
    const container = ops.find((o) => o.operation === 'CreateModel')?.input.PrimaryContainer
    expect(container?.Image).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1')
    expect(container?.Environment).toEqual({ SAGEMAKER_REGION: 'us-east-1' })
  })

  it('a custom entry point is the module config.yaml imports, shipped at the archive root', async () => {
    const dir = await tempProject(minimalConfig('training:\n  sourceDir: scripts\nendpoint:\n  entryPoint: serve.py\n'), {
      'scripts/serve.py': `import json\n${RAY_APP}`,
    })
    const run = await runMlops(['deploy', '--dry-run', '--json', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations as { operation: string; input: { PrimaryContainer?: { Environment?: Record<string, string> } } }[]
    expect(ops.find((o) => o.operation === 'CreateModel')?.input.PrimaryContainer?.Environment).toEqual({ SAGEMAKER_REGION: 'us-east-1' })
    const human = await runMlops(['deploy', '--dry-run', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(human.stdout).toContain('adds config.yaml (Ray Serve app serve:app), serve.py')
  })

  it('an entry point that is not a Ray Serve app is refused before any AWS call (exit 2, the field named)', async () => {
    const dir = await tempProject(minimalConfig('training:\n  sourceDir: scripts\nendpoint:\n  entryPoint: serve.py\n'), {
      'scripts/serve.py': 'import json\n',
    })
    const run = await runMlops(['deploy', '--dry-run', '--json', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('endpoint.entryPoint serve.py is not a Ray Serve application')
    expect(run.stderr).toContain('deployment.py')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})
