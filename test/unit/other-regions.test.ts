import { describe, expect, it } from 'vitest'
import { globalsInUseElsewhere, otherRegions } from '../../src/features/project/other-regions.js'
import { resourceNames } from '../../src/shared/naming.js'
import { notifierStateRecord, notifySettings } from '../../src/shared/notify-spec.js'
import type { StateRecord } from '../../src/shared/state.js'

/**
 * Issue 27, regions: the global roles a resource in another region still uses. The notifier function
 * (`--notify`) runs as a role of its own; a teardown in another region must keep it.
 */
const names = resourceNames({ project: { name: 'dogs' } })
const at = '2026-12-07T10:00:00.000Z'
const notifier = notifierStateRecord(
  notifySettings(
    { project: { name: 'dogs' } },
    [{ kind: 'email', address: 'ops@example.com' }],
    { kind: 'training', match: 'dogs-train' },
    {
      region: 'us-east-1',
      accountId: '123456789012',
      partition: 'aws',
      runtime: 'nodejs24.x',
    },
  ),
  'arn:aws:lambda:us-east-1:123456789012:function:dogs-notify',
  Date.parse(at),
)

describe('global roles in use in another region', () => {
  it('the notifier records its region and role, and keeps dogs-notify from a teardown elsewhere', () => {
    expect(notifier).toEqual({
      kind: 'function',
      name: 'dogs-notify',
      arn: 'arn:aws:lambda:us-east-1:123456789012:function:dogs-notify',
      region: 'us-east-1',
      createdAt: at,
      details: { roleName: 'dogs-notify' },
    })
    const records: StateRecord[] = [
      notifier,
      { kind: 'function', name: names.lambdaFunction, region: 'us-east-1', createdAt: at },
      { kind: 'endpoint', name: names.endpoint, region: 'us-east-1', createdAt: at },
      { kind: 'endpoint', name: 'dogs-eu', region: 'eu-west-1', createdAt: at },
    ]
    expect(globalsInUseElsewhere(names, records, 'eu-west-1')).toEqual({
      'dogs-notify': ['Lambda function dogs-notify in us-east-1'],
      [names.lambdaRole]: [`Lambda function ${names.lambdaFunction} in us-east-1`],
      [names.trainingRole]: [`endpoint ${names.endpoint} in us-east-1`],
      [`${names.endpoint}-idle-stop`]: [`endpoint ${names.endpoint} in us-east-1`],
    })
    expect(otherRegions(records, 'eu-west-1')).toEqual([
      { region: 'us-east-1', resources: ['Lambda function dogs-notify', `Lambda function ${names.lambdaFunction}`, `endpoint ${names.endpoint}`] },
    ])
    // In its own region nothing is "elsewhere".
    expect(globalsInUseElsewhere(names, [notifier], 'us-east-1')).toEqual({})
  })
})
