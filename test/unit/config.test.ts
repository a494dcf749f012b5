import { describe, expect, it } from 'vitest'
import { parseConfigText, supportedKeysAt } from '../../src/config/load.js'
import { configTemplate } from '../../src/config/template.js'
import { ConfigError } from '../../src/shared/errors.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const base = (extra: string) => minimalConfig(extra)

function problems(text: string): string[] {
  try {
    parseConfigText(text, '/p/mlops.config.yaml')
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return [...(e as ConfigError).issues]
  }
  throw new Error('config was accepted')
}

describe('config loading', () => {
  it('fills every default from a minimal config', () => {
    const cfg = parseConfigText(minimalConfig(), 'x.yaml')
    // No schema default: the profile's region, else us-east-1, is resolveAwsSettings' (cli-aws-settings.test.ts).
    expect(cfg.aws.region).toBeUndefined()
    expect(cfg.data.prefix).toBe('data')
    expect(cfg.training.instanceType).toBe('ml.g4dn.xlarge')
    expect(cfg.training.maxRuntime).toBe(7200)
    expect(cfg.endpoint.instanceType).toBe('ml.m5.large')
    expect(cfg.lambda.memoryMb).toBe(256)
    expect(cfg.audit.failOn).toBe('high')
    expect(cfg.ec2.amiParameter).toMatch(/^\/aws\/service\/deeplearning\/ami\//)
  })

  it('accepts the template that `mlops init` writes, with every section', () => {
    const cfg = parseConfigText(configTemplate({ project: 'dog-breeds', bucket: 'dog-data', region: 'eu-west-1' }), 'x.yaml')
    expect(cfg.training.tuning?.ranges.lr).toEqual({ type: 'continuous', min: 0.0001, max: 0.1, scaling: 'Logarithmic' })
    expect(cfg.endpoint.autoscaling?.maxCapacity).toBe(4)
    expect(cfg.ec2.timeout).toBe(3 * 3600)
  })

  it('parses durations in several forms', () => {
    expect(parseConfigText(base('training:\n  maxRuntime: 1h30m\n'), 'x').training.maxRuntime).toBe(5400)
    expect(parseConfigText(base('training:\n  maxRuntime: 600\n'), 'x').training.maxRuntime).toBe(600)
  })

  it('lists the supported keys of a section', () => {
    expect(supportedKeysAt(['endpoint', 'autoscaling'])).toEqual([
      'minCapacity',
      'maxCapacity',
      'targetInvocationsPerInstance',
      'scaleInCooldown',
      'scaleOutCooldown',
    ])
    expect(supportedKeysAt([])).toContain('training')
  })

  // Each row: the config text, then what the single reported line must contain (file:line • path: message).
  const malformed: [string, string, RegExp][] = [
    ['bad YAML indentation', 'project:\n  name: dogs\n data:\n  bucket: x\n', /mlops\.config\.yaml:\d+ • /],
    ['bad YAML unclosed quote', 'project:\n  name: "dogs\ndata:\n  bucket: b-b\n', /mlops\.config\.yaml:\d+ • /],
    ['duplicate key', 'project:\n  name: dogs\nproject:\n  name: cats\ndata:\n  bucket: bbb\n', /:3 • .*[Mm]ap keys must be unique/],
    ['root is a list', '- a\n- b\n', /:1 • \(root\): expected a mapping/],
    [
      'unknown top-level key',
      base('trainng:\n  instanceCount: 2\n'),
      /:6 • trainng: unknown key "trainng"; supported keys here: project, aws, data, training, ec2, endpoint, lambda, audit/,
    ],
    [
      'unknown nested key',
      base('endpoint:\n  instanceTyp: ml.m5.large\n'),
      /:7 • endpoint.instanceTyp: unknown key "instanceTyp"; supported keys here: name, instanceType/,
    ],
    ['missing project', 'data:\n  bucket: abc\n', /:1 • project: required field is missing/],
    ['missing bucket', 'project:\n  name: dogs\ndata:\n  localDir: x\n', /:4 • data.bucket: required field is missing/],
    [
      'wrong type: count as string',
      base('training:\n  instanceCount: four\n'),
      /:7 • training.instanceCount: expected a number \(training instances\), got "four"/,
    ],
    ['wrong type: section as scalar', base('endpoint: yes\n'), /:6 • endpoint: expected object, got "yes"/],
    ['zero instances', base('training:\n  instanceCount: 0\n'), /:7 • training.instanceCount: must be at least 1/],
    ['negative count', base('endpoint:\n  instanceCount: -2\n'), /:7 • endpoint.instanceCount: must be at least 1/],
    ['fractional count', base('endpoint:\n  instanceCount: 1.5\n'), /:7 • endpoint.instanceCount: expected a whole number/],
    ['bad region', base('aws:\n  region: us-east-9x\n'), /:7 • aws.region: expected an AWS region such as us-east-1/],
    ['bad region casing', base('aws:\n  region: US-EAST-1\n'), /:7 • aws.region: expected an AWS region/],
    [
      'sagemaker type without ml.',
      base('training:\n  instanceType: g4dn.xlarge\n'),
      /:7 • training.instanceType: expected a SageMaker instance type .*'ml\.' prefix/,
    ],
    ['ec2 type with ml.', base('ec2:\n  instanceType: ml.g4dn.xlarge\n'), /:7 • ec2.instanceType: .*no ml\. prefix/],
    ['malformed role ARN', base('training:\n  roleArn: arn:aws:iam::12345:role/x\n'), /:7 • training.roleArn: expected an IAM role ARN/],
    ['role ARN of a user', base('training:\n  roleArn: arn:aws:iam::123456789012:user/bob\n'), /:7 • training.roleArn: expected an IAM role ARN/],
    [
      'min > max autoscaling',
      base('endpoint:\n  autoscaling:\n    minCapacity: 5\n    maxCapacity: 2\n'),
      /:8 • endpoint.autoscaling.minCapacity: minCapacity must not exceed maxCapacity/,
    ],
    ['bad bucket name', 'project:\n  name: dogs\ndata:\n  bucket: My_Bucket\n', /:4 • data.bucket: expected an S3 bucket name/],
    ['bad project name', 'project:\n  name: Dogs Project\ndata:\n  bucket: abc\n', /:2 • project.name: expected 2-32 lower-case letters/],
    ['bad duration', base('training:\n  maxRuntime: forever\n'), /:7 • training.maxRuntime: "forever" is not a duration/],
    [
      'bad enum',
      base('training:\n  distribution: horovod\n'),
      /:7 • training.distribution: .*"auto"\|"torch_distributed"\|"native"\|"none"|:7 • training.distribution: Invalid option/,
    ],
    [
      'tuning parallel > max',
      base(
        'training:\n  tuning:\n    objective: { metric: val_loss }\n    maxJobs: 2\n    maxParallelJobs: 3\n    ranges:\n      lr: { type: continuous, min: 0.1, max: 0.2 }\n',
      ),
      /:10 • training.tuning.maxParallelJobs: maxParallelJobs must not exceed maxJobs/,
    ],
    [
      'range min >= max',
      base('training:\n  tuning:\n    objective: { metric: val_loss }\n    ranges:\n      lr: { type: continuous, min: 0.5, max: 0.1 }\n'),
      /:10 • training.tuning.ranges.lr: min must be less than max/,
    ],
    [
      'unknown metric',
      base('training:\n  tuning:\n    objective: { metric: accuracy }\n    ranges:\n      lr: { type: continuous, min: 0.1, max: 0.5 }\n'),
      /:8 • training.tuning.objective.metric: expected one of the metrics train.py prints/,
    ],
    [
      'provisioned > reserved',
      base('lambda:\n  reservedConcurrency: 2\n  provisionedConcurrency: 5\n'),
      /:8 • lambda.provisionedConcurrency: provisionedConcurrency must not exceed reservedConcurrency/,
    ],
    ['serverless memory', base('endpoint:\n  serverless:\n    memoryMb: 1500\n'), /:8 • endpoint.serverless.memoryMb: expected 1024, 2048/],
    ['bad endpoint url', base('aws:\n  endpointUrl: not a url\n'), /:7 • aws.endpointUrl: expected a URL/],
    ['ec2 maxHours too large', base('ec2:\n  maxHours: 100\n'), /:7 • ec2.maxHours: at most 48 hours/],
    ['bad ami parameter', base('ec2:\n  amiParameter: ami-123\n'), /:7 • ec2.amiParameter: expected a public SSM parameter path/],
  ]

  it.each(malformed)('rejects %s with file, line and dotted path', (_name, text, expected) => {
    const lines = problems(text)
    expect(lines.join('\n')).toMatch(expected)
    for (const l of lines) expect(l).toMatch(/^\/p\/mlops\.config\.yaml:\d+ • |^.*mlops\.config\.yaml:\d+ • /)
  })

  it("names the file relative to the command's cwd, not the process's", () => {
    let issues: readonly string[] = []
    try {
      parseConfigText(base('training:\n  instanceCount: 0\n'), '/p/q/mlops.config.yaml', '/p')
    } catch (e) {
      issues = (e as ConfigError).issues
    }
    expect(issues).toEqual(['q/mlops.config.yaml:7 • training.instanceCount: must be at least 1 (training instances)'])
  })

  it('reports every problem at once, not just the first', () => {
    const lines = problems('project:\n  name: X\ndata:\n  bucket: B\ntraining:\n  instanceCount: 0\n')
    expect(lines).toHaveLength(3)
  })

  it('exits 2 through the CLI with the lines and a hint, and no stack trace', async () => {
    const dir = await tempProject(base('training:\n  instanceCount: 0\n'))
    // upload-data may not be built yet; any config-reading command works. status reads config first.
    const run = await runMlops(['train', '--dry-run'], { cwd: dir })
    expect(run.code).toBe(2)
    const lines = run.stderr.trimEnd().split('\n')
    expect(lines).toHaveLength(3)
    expect(lines[0]).toMatch(/^✖ \S*mlops\.config\.yaml has 1 problem:$/)
    expect(lines[1]).toMatch(/^ {2}\S*mlops\.config\.yaml:7 • training\.instanceCount: must be at least 1/)
    expect(lines[2]).toBe(
      'hint: Fix the fields listed above. `mlops init --example mlops.config.example.yaml` writes a commented example of every section to a new file (it changes nothing else).',
    )
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('the example mlops.config.yaml in the repository', () => {
  it('is exactly what `mlops init` writes for the dog-breeds project, so the two never drift', async () => {
    const { readFile } = await import('node:fs/promises')
    const path = await import('node:path')
    const text = await readFile(path.resolve(import.meta.dirname, '../../mlops.config.yaml'), 'utf8')
    expect(text).toBe(configTemplate({ project: 'dog-breeds', bucket: 'dog-breeds-mlops-data', region: 'us-east-1' }))
    expect(parseConfigText(text, 'mlops.config.yaml').project.name).toBe('dog-breeds')
  })
})

describe('absurd autoscaling targets in the config', () => {
  it('endpoint.autoscaling.targetInvocationsPerInstance: 1e308 is refused with its limit', async () => {
    const { parseConfigText } = await import('../../src/config/load.js')
    expect(() =>
      parseConfigText(
        'project:\n  name: dogs\ndata:\n  bucket: dogs-data\nendpoint:\n  autoscaling:\n    targetInvocationsPerInstance: 1e308\n',
        'mlops.config.yaml',
      ),
    ).toThrow(
      expect.objectContaining({
        issues: expect.arrayContaining([
          expect.stringContaining('endpoint.autoscaling.targetInvocationsPerInstance: must be at most 1000000 invocations per instance per minute'),
        ]),
      }),
    )
  })
})

describe('a section left empty (its keys all commented out) takes its defaults', () => {
  const defaults = parseConfigText(minimalConfig(), 'x.yaml')

  it('top-level sections: aws, training, ec2, endpoint, lambda, audit', () => {
    const empty = ['aws', 'training', 'ec2', 'endpoint', 'lambda', 'audit'].map((s) => `${s}:\n  # commented: out\n`).join('')
    const cfg = parseConfigText(minimalConfig(empty), 'x.yaml')
    expect(cfg).toEqual(defaults)
  })

  it('nested ones: endpoint.autoscaling, endpoint.serverless, lambda.url, training.debugger, training.hyperparameters', () => {
    const cfg = parseConfigText(
      minimalConfig('endpoint:\n  autoscaling:\n    # maxCapacity: 4\n  serverless:\nlambda:\n  url:\ntraining:\n  debugger:\n  hyperparameters:\n'),
      'x.yaml',
    )
    expect(cfg.endpoint.autoscaling).toEqual({ minCapacity: 1, maxCapacity: 2, targetInvocationsPerInstance: 70, scaleInCooldown: 300, scaleOutCooldown: 60 })
    expect(cfg.endpoint.serverless).toEqual({ memoryMb: 2048, maxConcurrency: 5 })
    expect(cfg.lambda.url).toEqual({ enabled: false, public: false })
    expect(cfg.training.debugger).toEqual({ rules: [], profilerReport: false })
    expect(cfg.training.hyperparameters).toEqual({})
  })

  it('through the CLI: `aws:` with nothing under it is accepted (exit 0), not "expected object, got null"', async () => {
    const dir = await tempProject(minimalConfig('aws:\n  # region: eu-west-1\n'))
    const run = await runMlops(['deploy', '--dry-run', '--model', 's3://dogs-data/m/model.tar.gz'], { cwd: dir })
    expect(run.stderr).not.toContain('expected object')
    expect(run.code).toBe(0)
  })

  it('a section with required fields says which field is missing; a scalar left empty is still an error', () => {
    expect(problems('project:\ndata:\n  bucket: dogs-data\n')).toEqual([
      '/p/mlops.config.yaml:1 • project.name: required field is missing (expected the project name, for example dog-breeds)',
    ])
    expect(problems(minimalConfig('endpoint:\n  instanceType:\n'))).toEqual([
      expect.stringMatching(/^\/p\/mlops\.config\.yaml:7 • endpoint\.instanceType: .*got null$/),
    ])
  })
})
