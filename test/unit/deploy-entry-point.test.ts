import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { buildCreateModelInput, resolveDeploySettings } from '../../src/features/deploy/plan.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

// Issue 14 item 2: SAGEMAKER_PROGRAM was hard-coded to inference.py while code/<entryPoint> was shipped.
// Issue 25: the entry point is the Ray Serve predictor module (deployment.py by default).

const RAY_APP = '@serve.deployment\nclass Dogs:\n    pass\n\napp = Dogs.bind()\n'

describe('SAGEMAKER_PROGRAM', () => {
  it('is endpoint.entryPoint (deployment.py by default)', () => {
    const env = (extra: string) =>
      buildCreateModelInput(resolveDeploySettings(parseConfigText(minimalConfig(extra), 'x.yaml'), {}, 'us-east-1', new Date(0)), 's3://b/m.tar.gz', 'arn:role')
        .PrimaryContainer?.Environment
    expect(env('')).toMatchObject({ SAGEMAKER_PROGRAM: 'deployment.py', SAGEMAKER_SUBMIT_DIRECTORY: '/opt/ml/model/code' })
    expect(env('endpoint:\n  entryPoint: serve.py\n')).toMatchObject({ SAGEMAKER_PROGRAM: 'serve.py' })
  })

  it('a custom entry point reaches CreateModel in the --dry-run plan, next to the code/ it ships', async () => {
    const dir = await tempProject(minimalConfig('training:\n  sourceDir: scripts\nendpoint:\n  entryPoint: serve.py\n'), {
      'scripts/serve.py': `import json\n${RAY_APP}`,
    })
    const run = await runMlops(['deploy', '--dry-run', '--json', '--model', 's3://dogs-data/output/job/output/model.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(run.code, run.stderr).toBe(0)
    const ops = run.json().operations as { operation: string; input: { PrimaryContainer?: { Environment?: Record<string, string> } } }[]
    expect(ops.find((o) => o.operation === 'CreateModel')?.input.PrimaryContainer?.Environment?.SAGEMAKER_PROGRAM).toBe('serve.py')
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
