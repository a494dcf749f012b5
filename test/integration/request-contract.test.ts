import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { noAwsFactory } from '../helpers/aws.js'
import { OFFLINE_ENV, runMlops } from '../helpers/cli.js'
import { formLabel, ROOT, variantProject, VARIANTS, type Variant } from '../helpers/command-forms.js'

/**
 * The request contract: every request in every --dry-run plan, over several config variants, is
 * checked against botocore's model of its operation (test/harness/validate_requests.py). moto
 * accepts requests that AWS rejects; this is where a request a real endpoint would refuse fails.
 */

const VALIDATOR = path.join(ROOT, 'test/harness/validate_requests.py')

interface PlannedRequest {
  readonly label: string
  readonly service: string
  readonly operation: string
  readonly input: unknown
}
interface Verdict {
  readonly checked: number
  readonly operations: string[]
  readonly violations: { label: string; service: string; operation: string; path: string; message: string }[]
}

function validate(requests: readonly PlannedRequest[]): Verdict {
  return JSON.parse(execFileSync('python3', [VALIDATOR], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }))
}

async function planned(variant: Variant): Promise<PlannedRequest[]> {
  const dir = await variantProject(variant)
  const requests: PlannedRequest[] = []
  for (const args of variant.commands) {
    const run = await runMlops([...args, '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory('a --dry-run asked for AWS clients') })
    expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0)
    const label = formLabel(variant, args)
    for (const op of run.json().operations) requests.push({ label, ...op })
  }
  return requests
}

describe('request contract: every planned request is valid against the AWS API models (botocore)', () => {
  const byVariant = new Map<string, PlannedRequest[]>()
  beforeAll(async () => {
    for (const v of VARIANTS) byVariant.set(v.name, await planned(v))
  }, 120_000)

  it.each(VARIANTS.map((v) => v.name))('%s', (name) => {
    const requests = byVariant.get(name)!
    expect(requests.length).toBeGreaterThan(0)
    const verdict = validate(requests)
    expect(verdict.checked).toBe(requests.length)
    const report = verdict.violations.map((v) => `${v.label}\n    ${v.service} ${v.operation} ${v.path}: ${v.message}`).join('\n')
    expect(report, 'requests a real AWS endpoint would reject').toBe('')
  })

  it('covers every operation any command plans, and each operation exists in the model', () => {
    const all = [...byVariant.values()].flat()
    const verdict = validate(all)
    const planned = new Set(all.map((r) => `${r.service}:${r.operation}`))
    expect(new Set(verdict.operations)).toEqual(planned)
    // The pipeline's core calls are among them (a plan that silently lost one would shrink this set).
    for (const op of [
      'sagemaker:CreateTrainingJob',
      'sagemaker:CreateHyperParameterTuningJob',
      'sagemaker:CreateModel',
      'sagemaker:CreateEndpointConfig',
      'sagemaker:CreateEndpoint',
      'ec2:RunInstances',
      'ssm:SendCommand',
      'lambda:CreateFunction',
      'lambda:CreateFunctionUrlConfig',
      'iam:CreateRole',
      'iam:PutRolePolicy',
      's3:CreateBucket',
      's3:PutBucketPolicy',
      'application-autoscaling:PutScalingPolicy',
    ]) {
      expect(planned, op).toContain(op)
    }
  })
})

describe('the contract checker itself', () => {
  it('rejects what AWS rejects: missing and unknown members, types, lengths, patterns, enums, ranges, list sizes', () => {
    const bad: PlannedRequest[] = [
      { label: 'missing', service: 'sagemaker', operation: 'CreateEndpoint', input: { EndpointName: 'e' } },
      { label: 'unknown', service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: 'e', Endpoint: 'e' } },
      { label: 'type', service: 'sagemaker', operation: 'CreateEndpoint', input: { EndpointName: 'e', EndpointConfigName: 42 } },
      { label: 'length', service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: 'e'.repeat(64) } },
      { label: 'pattern', service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName: 'bad_name' } },
      {
        label: 'enum',
        service: 'lambda',
        operation: 'CreateFunction',
        input: { FunctionName: 'f', Role: 'arn:aws:iam::123456789012:role/r', Code: {}, Runtime: 'nodejs99.x' },
      },
      { label: 'range', service: 'lambda', operation: 'PutFunctionConcurrency', input: { FunctionName: 'f', ReservedConcurrentExecutions: -1 } },
      { label: 'list', service: 'ec2', operation: 'TerminateInstances', input: { InstanceIds: 'i-1' } },
      { label: 'placeholder', service: 'sts', operation: 'GetCallerIdentity', input: { Bogus: '<made-up-thing>' } },
    ]
    const messages: Record<string, string[]> = {}
    for (const v of validate(bad).violations) (messages[v.label] ??= []).push(`${v.path}: ${v.message}`)
    expect(messages.missing).toEqual(['input.EndpointConfigName: required member is missing'])
    expect(messages.unknown).toEqual([expect.stringMatching(/^input\.Endpoint: unknown member of DescribeEndpointInput/)])
    expect(messages.type).toEqual(['input.EndpointConfigName: expected a string, got int'])
    expect(messages.length).toContain('input.EndpointName: 64 characters is more than the maximum 63')
    expect(messages.pattern).toEqual([expect.stringMatching(/^input\.EndpointName: 'bad_name' does not match the pattern/)])
    expect(messages.enum).toContainEqual(expect.stringMatching(/^input\.Runtime: 'nodejs99\.x' is not one of .*nodejs22\.x/))
    expect(messages.range).toEqual(['input.ReservedConcurrentExecutions: -1 is below the minimum 0'])
    expect(messages.list).toEqual(['input.InstanceIds: expected a list, got str'])
    expect(messages.placeholder).toContain(': unknown placeholder <made-up-thing>: give it a realistic stand-in in PLACEHOLDERS')
  })
})
