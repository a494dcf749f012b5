import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'
import { configuredImageUris } from '../../src/aws/sagemaker/images.js'
import { executionRoleSpec } from '../../src/shared/roles/execution-role.js'
import { kmsAliasName, kmsStatement } from '../../src/shared/roles/policy.js'
import { severityRank } from '../../src/features/audit/types.js'
import { auditRoles, inline, role } from '../fixtures/audit/helpers.js'

/**
 * KMS evaluates a key policy grant against the key ARN, never an alias ARN (issue 14 item 6): an
 * alias, given as `alias/x` or as `arn:...:alias/x`, must be granted on key/* with the
 * kms:ResourceAliases condition.
 */

const ACCOUNT = '123456789012'
const ACTIONS = ['kms:Decrypt', 'kms:GenerateDataKey']

describe('kmsStatement', () => {
  it.each([
    ['a key id', '1234abcd-12ab-34cd-56ef-1234567890ab', { Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab` }],
    ['a key ARN', `arn:aws:kms:eu-west-1:${ACCOUNT}:key/abcd`, { Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/abcd` }],
    [
      'an alias name',
      'alias/dogs-data',
      { Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/*`, Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/dogs-data' } } },
    ],
    [
      'an alias ARN: the key/* of its own account and region, with the alias as condition',
      'arn:aws:kms:us-west-2:111122223333:alias/shared/dogs',
      { Resource: 'arn:aws:kms:us-west-2:111122223333:key/*', Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/shared/dogs' } } },
    ],
    [
      'an alias ARN in another partition',
      'arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/x',
      { Resource: 'arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/*', Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/x' } } },
    ],
  ])('%s', (_name, keyId, expected) => {
    expect(kmsStatement(keyId, 'aws', 'eu-west-1', ACCOUNT)).toEqual({ Sid: 'DataKey', Effect: 'Allow', Action: ACTIONS, ...expected })
  })

  it('none without a key', () => {
    expect(kmsStatement(undefined, 'aws', 'eu-west-1', ACCOUNT)).toBeUndefined()
  })

  it('kmsAliasName reads alias names and alias ARNs only', () => {
    expect(kmsAliasName('alias/a')).toBe('alias/a')
    expect(kmsAliasName('arn:aws:kms:eu-west-1:123456789012:alias/a/b')).toBe('alias/a/b')
    expect(kmsAliasName('arn:aws:kms:eu-west-1:123456789012:key/abcd')).toBeUndefined()
    expect(kmsAliasName('abcd-1234')).toBeUndefined()
  })
})

describe('SageMaker execution role with data.kmsKeyId as an alias ARN', () => {
  const cfg = parseConfigText(
    'project:\n  name: dogs\ndata:\n  bucket: dogs-data\n  kmsKeyId: arn:aws:kms:eu-west-1:123456789012:alias/dogs-data\n',
    'mlops.config.yaml',
  )
  const spec = executionRoleSpec(cfg, roleTarget(ACCOUNT, 'eu-west-1', configuredImageUris('eu-west-1', cfg)))

  it('grants the key through the alias condition, never on the alias ARN', () => {
    const statements = spec.inlinePolicies['mlops-execution'].Statement
    expect(statements.at(-1)).toEqual({
      Sid: 'DataKey',
      Effect: 'Allow',
      Action: ACTIONS,
      Resource: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/*`,
      Condition: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': 'alias/dogs-data' } },
    })
    expect(JSON.stringify(statements)).not.toContain(':alias/')
  })

  it('still audits at most low', async () => {
    const result = await auditRoles([
      role('dogs-sagemaker', { trust: spec.trustPolicy as never, policies: Object.entries(spec.inlinePolicies).map(([n, d]) => inline(n, d as never)) }),
    ])
    expect(Math.min(...result.findings.map((f) => severityRank(f.severity)))).toBeGreaterThanOrEqual(severityRank('low'))
  })
})
