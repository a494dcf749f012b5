import type { StateRecord } from '../../shared/state.js'
import type { ResourceNames } from '../../shared/naming.js'
import { idleStopNames } from '../../shared/idle-stop-spec.js'

/**
 * What the project has in other regions (issue 27). `status --region eu-west-1` said "$0.00/hour"
 * while the project's endpoint billed in us-east-1, and `teardown` in eu-west-1 offered to delete
 * the global IAM roles that endpoint and its Lambda use. The state file records the region of
 * every resource: from it, status says what runs elsewhere, and teardown keeps each role or
 * instance profile that a resource in another region still uses, naming that resource.
 */

/** Regional resources the state file records in one other region. */
export interface RegionUse {
  readonly region: string
  /** "endpoint dogs-endpoint", "Lambda function dogs-invoke", ... */
  readonly resources: readonly string[]
}

/** Record kinds that live in one region (roles and instance profiles are global; S3 objects are the bucket's). */
const REGIONAL: Partial<Record<StateRecord['kind'], string>> = {
  endpoint: 'endpoint',
  'endpoint-config': 'endpoint config',
  model: 'model',
  'scaling-target': 'scaling target',
  function: 'Lambda function',
  instance: 'EC2 instance',
  'security-group': 'security group',
  'training-job': 'training job',
  'tuning-job': 'tuning job',
}

/** Job states that no longer use the execution role. */
const FINISHED = new Set(['Completed', 'Failed', 'Stopped'])

function label(r: StateRecord): string {
  return `${REGIONAL[r.kind] ?? r.kind} ${r.name}`
}

/** Records of regional resources outside `region`. */
function elsewhere(records: readonly StateRecord[], region: string): StateRecord[] {
  return records.filter((r) => REGIONAL[r.kind] !== undefined && r.region !== region)
}

/** The project's regional resources in other regions, by region (sorted), as the state file records them. */
export function otherRegions(records: readonly StateRecord[], region: string): RegionUse[] {
  const byRegion = new Map<string, string[]>()
  for (const r of elsewhere(records, region)) byRegion.set(r.region, [...(byRegion.get(r.region) ?? []), label(r)])
  return [...byRegion.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([r, resources]) => ({ region: r, resources }))
}

/**
 * The global IAM resources (roles and instance profiles, by name) that a resource in another
 * region uses, each with those users: "endpoint dogs-endpoint in us-east-1".
 */
export function globalsInUseElsewhere(names: ResourceNames, records: readonly StateRecord[], region: string): Record<string, string[]> {
  const uses: Record<string, string[]> = {}
  const add = (iamName: string, r: StateRecord) => {
    uses[iamName] = [...(uses[iamName] ?? []), `${label(r)} in ${r.region}`]
  }
  for (const r of elsewhere(records, region)) {
    const status = (r.details as { status?: unknown } | undefined)?.status
    switch (r.kind) {
      case 'endpoint':
        // Its model runs as the execution role; its idle stop's reaper (if any) has a role of its own.
        add(names.trainingRole, r)
        add(idleStopNames(r.name).role, r)
        break
      case 'model':
      case 'endpoint-config':
        add(names.trainingRole, r)
        break
      case 'training-job':
      case 'tuning-job':
        if (typeof status !== 'string' || !FINISHED.has(status)) add(names.trainingRole, r)
        break
      case 'function':
        // A function records the role it runs as (lambda-setup, the notifier); older records do not.
        if (typeof (r.details as { roleName?: unknown } | undefined)?.roleName === 'string') add((r.details as { roleName: string }).roleName, r)
        else if (r.name === names.lambdaFunction) add(names.lambdaRole, r)
        else if (r.name.endsWith('-idle-stop'))
          add(r.name, r) // a reaper's role has its name
        else add(names.lambdaRole, r)
        break
      case 'instance':
        add(names.ec2Role, r)
        add(names.ec2InstanceProfile, r)
        break
      default:
        break
    }
  }
  return uses
}

/** "endpoint dogs-endpoint in us-east-1 uses it" / "... and 2 more use it". */
export function describeUsers(users: readonly string[]): string {
  return users.length === 1 ? `${users[0]} uses it` : `${users.slice(0, 2).join(', ')}${users.length > 2 ? ` and ${users.length - 2} more` : ''} use it`
}
