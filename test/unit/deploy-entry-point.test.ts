import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { buildCreateModelInput, resolveDeploySettings } from '../../src/features/deploy/plan.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

// Issue 14 item 2: SAGEMAKER_PROGRAM was hard-coded to inference.py while code/<entryPoint> was shipped.
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
    const dir = await tempProject(minimalConfig('endpoint:\n  entryPoint: serve.py\n'), { 'scripts/serve.py': 'import json\n' })
    const run = await runMlops(['deploy', '--dry-run', '--json', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations as { operation: string; input: { PrimaryContainer?: { Image?: string; Environment?: Record<string, string> } } }[]
    const container = ops.find((o) => o.operation === 'CreateModel')?.input.PrimaryContainer
    expect(container?.Image).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1')
    expect(container?.Environment).toEqual({ SAGEMAKER_REGION: 'us-east-1' })
  })
})
