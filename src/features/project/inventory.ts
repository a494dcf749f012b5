import type { MlopsConfig } from '../../config/schema.js'
import { hasProjectTags, legacyTuningJobBase, resourceNames, TAG_PROJECT, type ResourceNames } from '../../shared/naming.js'
import { isProjectResource, matchProjectName, type GeneratedNameKind } from '../../shared/project-ownership.js'
import { hourlyPrice, lambdaProvisionedHourly, S3_GB_MONTH } from '../../shared/pricing.js'
import type { StateRecord, StateStore } from '../../shared/state.js'
import type { AwsClients } from '../../aws/clients.js'
import { groupByKind, isProjectOutput, ownedPrefixes, type DataGroup } from './owned-data.js'
import { collectIdleStops, idleStopResourceNames, type IdleStopInfo } from './idle-stop-inventory.js'
import { globalsInUseElsewhere, otherRegions, type RegionUse } from './other-regions.js'
import { collectNotifications, notifyResourceNames, type NotifyInfo } from './notify-inventory.js'
import { scalingResourceId } from '../../aws/autoscaling/scaling.js'
import { describeScalableTargets, listScalingPolicyNames } from '../../aws/autoscaling/project-resources.js'
import { describeTaggedInstances, describeTaggedSecurityGroups } from '../../aws/ec2/project-resources.js'
import { getInstanceProfileIfExists, getRoleIfExists, listInstanceProfileNamesForRole } from '../../aws/iam/project-resources.js'
import { provisionedConcurrency } from '../../aws/lambda/concurrency.js'
import { getFunctionIfExists, getFunctionUrlIfExists } from '../../aws/lambda/project-resources.js'
import { getBucketTagsIfAny, listObjectsIfBucketExists } from '../../aws/s3/project-resources.js'
import { describeEndpoint, describeEndpointConfig } from '../../aws/sagemaker/endpoint-lifecycle.js'
import {
  describeTrainingJobOnce,
  listEndpointConfigs,
  listModels,
  listRunningTrainingJobs,
  listRunningTuningJobs,
  listTags,
} from '../../aws/sagemaker/project-resources.js'

/**
 * Everything mlops manages for one project, found from tags, fixed names, the state file and
 * Describe calls (so it works when .mlops/state.json is missing). `status` renders it with costs;
 * `teardown` deletes it.
 */

export type InventoryClients = Pick<AwsClients, 'sagemaker' | 'lambda' | 'ec2' | 's3' | 'iam' | 'autoscaling' | 'cloudwatch' | 'sns' | 'events' | 'ssm'>

export interface RunningJob {
  readonly name: string
  readonly kind: 'training' | 'tuning'
  readonly status: string
  readonly instanceType?: string
  readonly instanceCount?: number
  readonly hourly?: number
  /** Its page in the AWS console (status adds it). */
  readonly consoleUrl?: string
}
export interface EndpointInfo {
  readonly name: string
  readonly status: string
  readonly configName?: string
  readonly instanceType?: string
  readonly instanceCount?: number
  readonly serverless?: { memoryMb: number; maxConcurrency: number }
  /** undefined for serverless (billed per request) or an unknown instance type. */
  readonly hourly?: number
  /** Its page in the AWS console (status adds it). */
  readonly consoleUrl?: string
}
export interface ScalingTargetInfo {
  readonly resourceId: string
  readonly min: number
  readonly max: number
  readonly policies: readonly string[]
}
export interface FunctionInfo {
  readonly name: string
  readonly memoryMb: number
  readonly provisioned?: { qualifier: string; executions: number; status: string }
  /** Reserved concurrency (GetFunction's Concurrency); absent: none, the function uses the unreserved pool. */
  readonly reserved?: number
  readonly url?: { qualifier?: string; authType: string }
  readonly hourly: number
  /** Its page in the AWS console (status adds it). */
  readonly consoleUrl?: string
}
export interface RoleInfo {
  readonly name: string
  readonly arn: string
  readonly instanceProfiles: readonly string[]
}
export interface InstanceInfo {
  readonly id: string
  readonly state: string
  readonly instanceType: string
  readonly launchedAt?: string
  readonly ageSeconds?: number
  readonly hourly?: number
}
export interface Inventory {
  readonly project: string
  readonly region: string
  readonly jobs: readonly RunningJob[]
  readonly endpoints: readonly EndpointInfo[]
  readonly endpointConfigs: readonly string[]
  readonly models: readonly string[]
  readonly scalingTargets: readonly ScalingTargetInfo[]
  readonly functions: readonly FunctionInfo[]
  readonly roles: readonly RoleInfo[]
  /** Instance profiles mlops created, including one left without a role. */
  readonly instanceProfiles: readonly string[]
  readonly instances: readonly InstanceInfo[]
  readonly securityGroups: readonly { id: string; name: string }[]
  /**
   * What the bucket holds under the prefixes mlops writes to: totals, and the same by kind
   * (dataset, job outputs, model archives, code packages), so nothing left there goes unseen.
   */
  readonly data:
    | {
        bucket: string
        prefix: string
        objects: number
        bytes: number
        monthly: number
        bucketManagedByMlops: boolean
        groups: readonly DataGroup[]
      }
    | undefined
  /** Idle stops (`deploy --idle-stop`): alarm and topic; their reaper functions and roles are in functions and roles. */
  readonly idleStops?: readonly IdleStopInfo[]
  /** The project's resources in other regions, as the state file records them (not counted here). */
  readonly elsewhere?: readonly RegionUse[]
  /** Roles and instance profiles (by name) a resource in another region uses: teardown keeps them. */
  readonly inUseElsewhere?: Readonly<Record<string, readonly string[]>>
  /** Run notifications (`--notify`): rules, topic and subscriptions, webhook parameter; the notifier function and role are in functions and roles. */
  readonly notifications?: NotifyInfo
}

export const LIVE_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down']

/**
 * True when a listed SageMaker resource is this project's: named exactly as mlops names it (of one
 * of `kinds`) and tagged for the project (shared/project-ownership.ts; issue 27). The name is
 * checked first, so another project's resources cost no ListTags.
 */
async function sagemakerOwned(c: InventoryClients, r: { name: string; arn?: string }, project: string, kinds: readonly GeneratedNameKind[]): Promise<boolean> {
  if (!r.arn || !matchProjectName(project, r.name, kinds)) return false
  return isProjectResource(project, { name: r.name, tags: await listTags(c.sagemaker, r.arn) }, kinds)
}

/** True when the SageMaker resource carries this project's tag (fixed names: the endpoint). */
async function sagemakerTagged(c: InventoryClients, arn: string | undefined, project: string): Promise<boolean> {
  return arn ? hasProjectTags(await listTags(c.sagemaker, arn), project) : false
}

/**
 * The names of the resources looked up one by one: the project's fixed names (the idle stop's
 * reaper function and role among them, one per endpoint) plus those recorded in .mlops/state.json.
 * collectInventory describes each; teardown --dry-run, which cannot ask AWS, presumes each exists.
 * One list for both, so the dry run names everything a real teardown may delete.
 */
export interface CandidateNames {
  readonly endpoints: readonly string[]
  readonly functions: readonly string[]
  readonly roles: readonly string[]
  readonly instanceProfiles: readonly string[]
}

export function candidateNames(names: ResourceNames, records: readonly StateRecord[], project: string): CandidateNames {
  const fromState = (kind: StateRecord['kind']) => records.filter((r) => r.kind === kind).map((r) => r.name)
  const endpoints = unique([names.endpoint, ...fromState('endpoint')])
  const idle = idleStopResourceNames(endpoints)
  const notify = notifyResourceNames(project)
  return {
    endpoints,
    functions: unique([names.lambdaFunction, ...idle.functions, ...notify.functions, ...fromState('function')]),
    roles: unique([names.trainingRole, names.lambdaRole, names.ec2Role, ...idle.roles, ...notify.roles, ...fromState('role')]),
    instanceProfiles: unique([names.ec2InstanceProfile, ...fromState('instance-profile')]),
  }
}

/** What one phase of the inventory needs. */
interface Scan {
  readonly c: InventoryClients
  readonly cfg: MlopsConfig
  readonly project: string
  readonly names: ResourceNames
  readonly candidates: CandidateNames
}

/**
 * Finds the project's resources. Each lookup treats "not found" as "not there"; any other error
 * (AccessDenied above all) propagates, so a partial inventory is never shown as the whole truth.
 */
export async function collectInventory(c: InventoryClients, cfg: MlopsConfig, region: string, state: StateStore, now: number): Promise<Inventory> {
  const names = resourceNames(cfg)
  const records = await state.all()
  const scan: Scan = { c, cfg, project: cfg.project.name, names, candidates: candidateNames(names, records, cfg.project.name) }
  // One phase after another, in this order, so a fake or a log reads like the old single pass.
  const jobs = await collectJobs(scan)
  const endpoints = await collectEndpoints(scan)
  const configsAndModels = await collectConfigsAndModels(scan)
  const scalingTargets = await collectScaling(scan)
  const functions = await collectFunctions(scan)
  const roles = await collectRoles(scan)
  const instanceProfiles = await collectInstanceProfiles(scan, roles)
  const ec2 = await collectEc2(scan, now)
  const data = await collectData(scan)
  const idleStops = await collectIdleStops(c, scan.candidates.endpoints)
  const notifications = await collectNotifications(c, scan.project)
  return {
    project: scan.project,
    region,
    jobs,
    endpoints,
    ...configsAndModels,
    scalingTargets,
    functions,
    roles,
    instanceProfiles,
    ...ec2,
    data,
    idleStops,
    ...(notifications ? { notifications } : {}),
    ...regionsOf(names, records, region),
  }
}

/** What the state file records in other regions, for status and teardown. */
export function regionsOf(names: ResourceNames, records: readonly StateRecord[], region: string): Pick<Inventory, 'elsewhere' | 'inUseElsewhere'> {
  const elsewhere = otherRegions(records, region)
  return elsewhere.length ? { elsewhere, inUseElsewhere: globalsInUseElsewhere(names, records, region) } : {}
}

/** Jobs still running (they bill until they end). */
async function collectJobs({ c, project, names }: Scan): Promise<RunningJob[]> {
  const jobs: RunningJob[] = []
  for (const name of await listRunningTrainingJobs(c.sagemaker, project)) {
    if (!matchProjectName(project, name, ['training-job', 'tuning-child'])) continue
    const d = await describeTrainingJobOnce(c.sagemaker, name)
    if (!(await sagemakerOwned(c, { name, arn: d.TrainingJobArn }, project, ['training-job', 'tuning-child']))) continue
    const type = d.ResourceConfig?.InstanceType
    const count = d.ResourceConfig?.InstanceCount ?? 1
    jobs.push({
      name,
      kind: 'training',
      status: d.SecondaryStatus ?? 'InProgress',
      instanceType: type,
      instanceCount: count,
      hourly: type ? mul(hourlyPrice(type), count) : undefined,
    })
  }
  // Tuning jobs of an older mlops are named from the first 19 characters of the project: listed too, ours when tagged.
  const tuning = new Map<string, { name: string; arn?: string }>()
  for (const base of tuningBases(names, project)) for (const t of await listRunningTuningJobs(c.sagemaker, base)) tuning.set(t.name, t)
  for (const t of tuning.values()) {
    if (await sagemakerOwned(c, t, project, ['tuning-job'])) jobs.push({ name: t.name, kind: 'tuning', status: 'InProgress' })
  }
  return jobs
}

/** Endpoints: the configured name, plus any recorded in state. */
async function collectEndpoints({ c, project, candidates }: Scan): Promise<EndpointInfo[]> {
  const endpoints: EndpointInfo[] = []
  for (const name of candidates.endpoints) {
    const ep = await describeEndpoint(c.sagemaker, name)
    if (!ep || !(await sagemakerTagged(c, ep.EndpointArn, project))) continue
    const conf = ep.EndpointConfigName ? await describeEndpointConfig(c.sagemaker, ep.EndpointConfigName) : undefined
    const variant = conf?.ProductionVariants?.[0]
    const live = ep.ProductionVariants?.[0]
    const serverless = variant?.ServerlessConfig
    const count = live?.CurrentInstanceCount ?? variant?.InitialInstanceCount
    endpoints.push({
      name,
      status: ep.EndpointStatus ?? 'Unknown',
      configName: ep.EndpointConfigName,
      ...(serverless
        ? { serverless: { memoryMb: serverless.MemorySizeInMB ?? 0, maxConcurrency: serverless.MaxConcurrency ?? 0 } }
        : {
            instanceType: variant?.InstanceType,
            instanceCount: count,
            hourly: variant?.InstanceType ? mul(hourlyPrice(variant.InstanceType), count ?? 1) : undefined,
          }),
    })
  }
  return endpoints
}

/** Endpoint configs and models: ours by name prefix and tag. */
async function collectConfigsAndModels({ c, project, names }: Scan): Promise<Pick<Inventory, 'endpointConfigs' | 'models'>> {
  const endpointConfigs: string[] = []
  for (const ec of await listEndpointConfigs(c.sagemaker, names.endpointConfigBase))
    if (await sagemakerOwned(c, ec, project, ['endpoint-config'])) endpointConfigs.push(ec.name)
  const models: string[] = []
  for (const m of await listModels(c.sagemaker, names.modelBase)) if (await sagemakerOwned(c, m, project, ['model'])) models.push(m.name)
  return { endpointConfigs, models }
}

/** Scaling targets on our endpoints' variants. */
async function collectScaling({ c, candidates }: Scan): Promise<ScalingTargetInfo[]> {
  const resourceIds = candidates.endpoints.map((e) => scalingResourceId(e))
  const scalingTargets: ScalingTargetInfo[] = []
  for (const t of await describeScalableTargets(c.autoscaling, resourceIds)) {
    scalingTargets.push({
      resourceId: t.ResourceId!,
      min: t.MinCapacity ?? 0,
      max: t.MaxCapacity ?? 0,
      policies: await listScalingPolicyNames(c.autoscaling, t.ResourceId!),
    })
  }
  return scalingTargets
}

/** Lambda functions with provisioned concurrency (which bills while idle) and URLs. */
async function collectFunctions({ c, project, names, candidates }: Scan): Promise<FunctionInfo[]> {
  const functions: FunctionInfo[] = []
  for (const name of candidates.functions) {
    const fn = await getFunctionIfExists(c.lambda, name)
    if (!fn || fn.Tags?.[TAG_PROJECT] !== project) continue
    const memoryMb = fn.Configuration?.MemorySize ?? 128
    const pcc = await provisionedConcurrency(c.lambda, name, names.lambdaAlias)
    const url = await getFunctionUrlIfExists(c.lambda, name, names.lambdaAlias)
    const executions = pcc?.AllocatedProvisionedConcurrentExecutions ?? pcc?.RequestedProvisionedConcurrentExecutions ?? 0
    const reserved = fn.Concurrency?.ReservedConcurrentExecutions
    functions.push({
      name,
      memoryMb,
      ...(reserved !== undefined ? { reserved } : {}),
      ...(pcc ? { provisioned: { qualifier: names.lambdaAlias, executions, status: pcc.Status ?? 'Unknown' } } : {}),
      ...(url ? { url: { qualifier: names.lambdaAlias, authType: url.AuthType ?? 'AWS_IAM' } } : {}),
      hourly: executions > 0 ? lambdaProvisionedHourly(memoryMb, executions) : 0,
    })
  }
  return functions
}

/** Roles mlops created (tagged for this project; a user-supplied training.roleArn is never ours). */
async function collectRoles({ c, project, candidates }: Scan): Promise<RoleInfo[]> {
  const roles: RoleInfo[] = []
  for (const name of candidates.roles) {
    const role = await getRoleIfExists(c.iam, name)
    if (!role || !hasProjectTags(role.Tags, project)) continue
    roles.push({ name, arn: role.Arn!, instanceProfiles: await listInstanceProfileNamesForRole(c.iam, name) })
  }
  return roles
}

/** Instance profiles mlops created, including one left without a role. */
async function collectInstanceProfiles({ c, project, candidates }: Scan, roles: readonly RoleInfo[]): Promise<string[]> {
  const instanceProfiles = new Set(roles.flatMap((r) => r.instanceProfiles))
  for (const name of candidates.instanceProfiles) {
    const profile = await getInstanceProfileIfExists(c.iam, name)
    if (profile && (hasProjectTags(profile.Tags, project) || instanceProfiles.has(name))) instanceProfiles.add(name)
  }
  return [...instanceProfiles]
}

/** EC2 boxes and their security groups, by tag. */
async function collectEc2({ c, project }: Scan, now: number): Promise<Pick<Inventory, 'instances' | 'securityGroups'>> {
  const instances: InstanceInfo[] = (await describeTaggedInstances(c.ec2, TAG_PROJECT, project, LIVE_INSTANCE_STATES)).map((i) => {
    const launched = i.LaunchTime ? new Date(i.LaunchTime) : undefined
    const running = i.State?.Name === 'running' || i.State?.Name === 'pending'
    return {
      id: i.InstanceId!,
      state: i.State?.Name ?? 'unknown',
      instanceType: i.InstanceType ?? 'unknown',
      launchedAt: launched?.toISOString(),
      ageSeconds: launched ? Math.max(0, Math.round((now - launched.getTime()) / 1000)) : undefined,
      // Stopped boxes bill only their volumes; the hourly figure is the instance price while running.
      hourly: running ? hourlyPrice(i.InstanceType ?? '') : 0,
    }
  })
  return { instances, securityGroups: await describeTaggedSecurityGroups(c.ec2, TAG_PROJECT, project) }
}

/**
 * The project's objects in S3 (kept by teardown unless --delete-data): the data, output and project
 * prefixes, grouped by kind; undefined when the bucket does not exist.
 */
async function collectData({ c, cfg, project }: Scan): Promise<Inventory['data']> {
  const bucket = cfg.data.bucket
  const { listed, marked } = ownedPrefixes(cfg)
  // The output prefix may be shared with other projects: only this project's jobs count (by their exact names).
  const ours = [...marked, `${project}/`]
  const sizes = new Map<string, number>()
  for (const prefix of listed) {
    const objects = await listObjectsIfBucketExists(c.s3, bucket, prefix)
    if (!objects) return undefined
    for (const [key, o] of objects) if (ours.some((p) => key.startsWith(p)) || isProjectOutput(cfg, key)) sizes.set(key, o.size)
  }
  const bytes = [...sizes.values()].reduce((a, n) => a + n, 0)
  const tags = await getBucketTagsIfAny(c.s3, bucket)
  return {
    bucket,
    prefix: cfg.data.prefix,
    objects: sizes.size,
    bytes,
    groups: groupByKind(cfg, sizes),
    monthly: (bytes / 1024 ** 3) * S3_GB_MONTH,
    bucketManagedByMlops: hasProjectTags(tags, project),
  }
}

/** Hourly cost of what is running now (jobs, instance endpoints, provisioned concurrency, EC2). */
export function hourlyTotal(inv: Inventory): number {
  const sum = (xs: readonly { hourly?: number }[]) => xs.reduce((a, x) => a + (x.hourly ?? 0), 0)
  return sum(inv.jobs) + sum(inv.endpoints) + sum(inv.functions) + sum(inv.instances)
}

/** True when nothing mlops manages exists (data excluded). */
export function isEmpty(inv: Inventory): boolean {
  return (
    inv.jobs.length +
      inv.endpoints.length +
      inv.endpointConfigs.length +
      inv.models.length +
      inv.scalingTargets.length +
      inv.functions.length +
      inv.roles.length +
      inv.instanceProfiles.length +
      inv.instances.length +
      inv.securityGroups.length +
      (inv.notifications ? 1 : 0) ===
    0
  )
}

function mul(a: number | undefined, n: number): number | undefined {
  return a === undefined ? undefined : a * n
}

/** The names running tuning jobs are listed by: today's base, and an older mlops's when it differs. */
export function tuningBases(names: ResourceNames, project: string): string[] {
  return unique([names.tuningJobBase, legacyTuningJobBase(project)])
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)]
}
