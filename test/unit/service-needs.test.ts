import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate'
import { describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/aws/arn.js'
import { parseConfigText } from '../../src/config/load.js'
import { ssmCorePolicyArn } from '../../src/shared/roles/ec2-role.js'
import type { RoleSpec } from '../../src/shared/roles/policy.js'
import {
  ACCOUNT,
  debuggerNeeds,
  ec2Needs,
  executionNeeds,
  kmsNeeds,
  lambdaNeeds,
  notifierNeeds,
  reaperNeeds,
  rolePolicies,
  roleSpecs,
  serviceNeeds,
  type RoleKey,
  type Scenario,
  type ServiceNeed,
} from '../fixtures/service-needs.js'
import { minimalConfig } from '../helpers/cli.js'

// Issue 26 item 3: every row of the service-needs table (test/fixtures/service-needs.ts) evaluated
// offline by @cloud-copilot/iam-simulate against the role documents mlops really generates. moto
// enforces none of this; a real account refuses the first request a role lacks, mid-job.

function scenario(extra = '', region = 'us-east-1'): Scenario {
  return { cfg: parseConfigText(minimalConfig(extra), 'mlops.config.yaml'), region, partition: partitionOf(region) }
}

/** The decision for one row: identity policies for a request by the role, the trust policy for an AssumeRole by the service. */
async function decide(row: ServiceNeed, spec: RoleSpec): Promise<string> {
  const roleArn = `arn:${row.resource.split(':')[1]}:iam::${ACCOUNT}:role/${spec.name}`
  const account = row.resource.split(':')[4] || ACCOUNT
  const simulation: Simulation = {
    identityPolicies: row.principal ? [] : rolePolicies(spec),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(row.principal ? { resourcePolicy: spec.trustPolicy } : row.resourcePolicy ? { resourcePolicy: row.resourcePolicy } : {}),
    request: {
      action: row.action,
      principal: row.principal ?? roleArn,
      resource: { accountId: account, resource: row.resource },
      contextVariables: { ...row.context },
    },
  }
  if (row.beyondIamData) return runUnsafeSimulation(simulation, {})
  const r = await runSimulation(simulation, {})
  if (r.resultType === 'error') throw new Error(`${row.action} on ${row.resource}: the simulation could not run: ${JSON.stringify(r.errors)}`)
  // A context key IAM does not know for this action would be dropped silently and decide nothing.
  const ignored = r.resultType === 'single' ? (r.result.ignoredContextKeys ?? []) : r.results.flatMap((x) => x.ignoredContextKeys ?? [])
  if (ignored.length > 0) throw new Error(`${row.action}: context keys ${ignored.join(', ')} do not apply to it`)
  return r.overallResult
}

/** Every row whose decision differs from what it expects, as one readable line each. */
async function wrongRows(rows: readonly ServiceNeed[], specs: Record<RoleKey, RoleSpec>): Promise<string[]> {
  const wrong: string[] = []
  for (const row of rows) {
    const result = await decide(row, specs[row.role])
    const ok = row.expect === 'Allowed' ? result === 'Allowed' : result !== 'Allowed'
    if (!ok) wrong.push(`${row.role}: ${row.service}, ${row.need}: ${row.action} on ${row.resource} is ${result}, expected ${row.expect} (${row.source})`)
  }
  return wrong
}

describe('service needs: what AWS services do with the roles mlops creates', () => {
  const base = scenario()
  const specs = roleSpecs(base)

  it.each<[RoleKey, (s: Scenario) => ServiceNeed[]]>([
    ['execution', executionNeeds],
    ['ec2', ec2Needs],
    ['lambda', lambdaNeeds],
    ['reaper', reaperNeeds],
    ['notifier', notifierNeeds],
  ])('%s role: every need allowed, every near miss denied', async (_role, needs) => {
    expect(await wrongRows(needs(base), specs)).toEqual([])
  })

  it('covers every role mlops creates, each with needs and near misses', () => {
    // Each role builder in src sets `trustPolicy: serviceTrustPolicy(...)`; a new one needs rows here.
    const builders: Record<string, RoleKey> = {
      'src/shared/roles/execution-role.ts': 'execution',
      'src/shared/roles/ec2-role.ts': 'ec2',
      'src/shared/roles/lambda-role.ts': 'lambda',
      'src/features/deploy/arm-idle-stop.ts': 'reaper',
      'src/shared/notify-spec.ts': 'notifier',
    }
    const root = path.resolve(import.meta.dirname, '../..')
    const files = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join('src', f).split(path.sep).join('/'))
      .filter((f) => /\btrustPolicy:\s*\w+\(/.test(readFileSync(path.join(root, f), 'utf8')))
    expect(files.sort()).toEqual(Object.keys(builders).sort())
    const rows = serviceNeeds(base)
    for (const role of Object.values(builders)) {
      expect(
        rows.some((r) => r.role === role && r.expect === 'Allowed'),
        role,
      ).toBe(true)
      expect(
        rows.some((r) => r.role === role && r.expect === 'Denied'),
        role,
      ).toBe(true)
      expect(
        rows.some((r) => r.role === role && r.action === 'sts:AssumeRole' && r.expect === 'Allowed'),
        `${role} trust`,
      ).toBe(true)
    }
    // The only managed policy is the SSM core one, evaluated from its fixture copy.
    expect(Object.values(specs).flatMap((s) => s.managedPolicyArns ?? [])).toEqual([ssmCorePolicyArn('aws')])
    expect(rows.every((r) => r.source.length > 0)).toBe(true)
  })

  it('the reaper can log: CreateLogGroup is authorised on `<group>:log-stream:`, which the bare group ARN does not match', async () => {
    const group = `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/dogs-endpoint-idle-stop`
    const row: ServiceNeed = {
      role: 'reaper',
      service: 'the idle-stop reaper',
      need: 'create its log group',
      action: 'logs:CreateLogGroup',
      resource: `${group}:log-stream:`,
      expect: 'Allowed',
      source: 'shared/reference/aws-images-2026.md',
    }
    expect(await decide(row, specs.reaper)).toBe('Allowed')
    // The document before issue 26 (bare ARN) would not have let it: the simulator agrees.
    const bare: RoleSpec = {
      ...specs.reaper,
      inlinePolicies: {
        old: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: group }],
        },
      },
    }
    expect(await decide(row, bare)).toBe('ImplicitlyDenied')
  })
})

describe('service needs: variants that add grants', () => {
  it('SSE-KMS data by key id: the execution role and the EC2 box use that key only', async () => {
    const s = scenario('  kmsKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab\n')
    const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
    const specs = roleSpecs(s)
    expect(await wrongRows([...kmsNeeds(s, key, [], 'execution'), ...kmsNeeds(s, key, [], 'ec2')], specs)).toEqual([])
    // Without the key in the config, neither role may use it.
    const plain = roleSpecs(scenario())
    const rows = kmsNeeds(s, key, [], 'execution').filter((r) => r.expect === 'Allowed')
    for (const row of rows) expect(await decide(row, plain.execution), row.action).toBe('ImplicitlyDenied')
  })

  it('SSE-KMS data by alias: the key behind alias/dogs-data, through kms:ResourceAliases', async () => {
    const s = scenario('  kmsKeyId: alias/dogs-data\n')
    const key = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`
    expect(await wrongRows([...kmsNeeds(s, key, ['alias/dogs-data'], 'execution'), ...kmsNeeds(s, key, ['alias/dogs-data'], 'ec2')], roleSpecs(s))).toEqual([])
  })

  it('training.debugger: the rule jobs pull the region’s rule image and write their logs', async () => {
    const s = scenario('training:\n  debugger:\n    rules: [VanishingGradient]\n', 'eu-west-1')
    const specs = roleSpecs(s)
    expect(await wrongRows([...debuggerNeeds(s), ...executionNeeds(s)], specs)).toEqual([])
  })

  it('GovCloud and an upper-case endpoint name: the same needs in the aws-us-gov partition', async () => {
    const s = scenario('endpoint:\n  name: Dogs-Prod\n', 'us-gov-west-1')
    expect(await wrongRows(serviceNeeds(s), roleSpecs(s))).toEqual([])
  })
})
