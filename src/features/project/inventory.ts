import { DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling'
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2'
import { GetInstanceProfileCommand, GetRoleCommand, ListInstanceProfilesForRoleCommand } from '@aws-sdk/client-iam'
import { GetFunctionCommand, GetFunctionUrlConfigCommand, GetProvisionedConcurrencyConfigCommand } from '@aws-sdk/client-lambda'
import { GetBucketTaggingCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import {
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListHyperParameterTuningJobsCommand,
  ListModelsCommand,
  ListTagsCommand,
  ListTrainingJobsCommand,
  DescribeTrainingJobCommand,
} from '@aws-sdk/client-sagemaker'
import type { MlopsConfig } from '../../config/schema.js'
import { hasProjectTags, resourceNames, TAG_PROJECT } from '../../shared/naming.js'
import { hourlyPrice, lambdaProvisionedHourly, S3_GB_MONTH } from '../../shared/pricing.js'
import type { StateStore } from '../../shared/state.js'
import type { AwsClients } from '../../aws/clients.js'
import { callAws, callAwsOrUndefined, isNotFound } from '../../aws/errors.js'
import { collectIdleStops, idleStopResourceNames, type IdleStopInfo } from './idle-stop.js'

/**
 * Everything mlops manages for one project, found from tags, fixed names, the state file and
 * Describe calls (so it works when .mlops/state.json is missing). `status` renders it with costs;
 * `teardown` deletes it.
 */

export type InventoryClients = Pick<AwsClients, 'sagemaker' | 'lambda' | 'ec2' | 's3' | 'iam' | 'autoscaling' | 'cloudwatch' | 'sns'>

export interface RunningJob {
  readonly name: string
  readonly kind: 'training' | 'tuning'
  readonly status: string
  readonly instanceType?: string
  readonly instanceCount?: number
  readonly hourly?: number
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
  readonly url?: { qualifier?: string; authType: string }
  readonly hourly: number
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
  readonly data: { bucket: string; prefix: string; objects: number; bytes: number; monthly: number; bucketManagedByMlops: boolean } | undefined
  /** Idle stops (`deploy --idle-stop`): alarm and topic; their reaper functions and roles are in functions and roles. */
  readonly idleStops?: readonly IdleStopInfo[]
}

const LIVE_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down']

/** True when the SageMaker resource carries this project's tag. */
async function sagemakerTagged(c: InventoryClients, arn: string | undefined, project: string): Promise<boolean> {
  if (!arn) return false
  const tags = await callAws({ service: 'sagemaker', operation: 'ListTags', resource: arn }, () => c.sagemaker.send(new ListTagsCommand({ ResourceArn: arn })))
  return hasProjectTags(tags.Tags, project)
}

export async function collectInventory(c: InventoryClients, cfg: MlopsConfig, region: string, state: StateStore, now: number): Promise<Inventory> {
  const project = cfg.project.name
  const names = resourceNames(cfg)
  const records = await state.all()
  const fromState = (kind: string) => records.filter((r) => r.kind === kind).map((r) => r.name)
  const sm = (operation: string, resource?: string) => ({ service: 'sagemaker', operation, resource })

  // Jobs still running (they bill until they end).
  const jobs: RunningJob[] = []
  const training = await callAws(sm('ListTrainingJobs'), () =>
    c.sagemaker.send(new ListTrainingJobsCommand({ StatusEquals: 'InProgress', NameContains: project, MaxResults: 100 })),
  )
  for (const j of training.TrainingJobSummaries ?? []) {
    const d = await callAws(sm('DescribeTrainingJob', j.TrainingJobName), () =>
      c.sagemaker.send(new DescribeTrainingJobCommand({ TrainingJobName: j.TrainingJobName })),
    )
    if (!(await sagemakerTagged(c, d.TrainingJobArn, project))) continue
    const type = d.ResourceConfig?.InstanceType
    const count = d.ResourceConfig?.InstanceCount ?? 1
    jobs.push({
      name: j.TrainingJobName!,
      kind: 'training',
      status: d.SecondaryStatus ?? 'InProgress',
      instanceType: type,
      instanceCount: count,
      hourly: type ? mul(hourlyPrice(type), count) : undefined,
    })
  }
  const tuning = await callAws(sm('ListHyperParameterTuningJobs'), () =>
    c.sagemaker.send(new ListHyperParameterTuningJobsCommand({ StatusEquals: 'InProgress', NameContains: names.tuningJobBase, MaxResults: 100 })),
  )
  for (const t of tuning.HyperParameterTuningJobSummaries ?? []) {
    if (await sagemakerTagged(c, t.HyperParameterTuningJobArn, project))
      jobs.push({ name: t.HyperParameterTuningJobName!, kind: 'tuning', status: 'InProgress' })
  }

  // Endpoints: the configured name, plus any recorded in state.
  const endpoints: EndpointInfo[] = []
  for (const name of unique([names.endpoint, ...fromState('endpoint')])) {
    const ep = await callAwsOrUndefined(sm('DescribeEndpoint', name), () => c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: name })))
    if (!ep || !(await sagemakerTagged(c, ep.EndpointArn, project))) continue
    const conf = ep.EndpointConfigName
      ? await callAwsOrUndefined(sm('DescribeEndpointConfig', ep.EndpointConfigName), () =>
          c.sagemaker.send(new DescribeEndpointConfigCommand({ EndpointConfigName: ep.EndpointConfigName })),
        )
      : undefined
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

  // Endpoint configs and models: ours by name prefix and tag.
  const configs = await callAws(sm('ListEndpointConfigs'), () =>
    c.sagemaker.send(new ListEndpointConfigsCommand({ NameContains: names.endpointConfigBase, MaxResults: 100 })),
  )
  const endpointConfigs: string[] = []
  for (const ec of configs.EndpointConfigs ?? []) if (await sagemakerTagged(c, ec.EndpointConfigArn, project)) endpointConfigs.push(ec.EndpointConfigName!)
  const modelList = await callAws(sm('ListModels'), () => c.sagemaker.send(new ListModelsCommand({ NameContains: names.modelBase, MaxResults: 100 })))
  const models: string[] = []
  for (const m of modelList.Models ?? []) if (await sagemakerTagged(c, m.ModelArn, project)) models.push(m.ModelName!)

  // Scaling targets on our endpoints' variants.
  const scalingTargets: ScalingTargetInfo[] = []
  const resourceIds = unique([names.endpoint, ...fromState('endpoint')]).map((e) => `endpoint/${e}/variant/AllTraffic`)
  const targets = await callAws({ service: 'application-autoscaling', operation: 'DescribeScalableTargets' }, () =>
    c.autoscaling.send(new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', ResourceIds: resourceIds })),
  )
  for (const t of targets.ScalableTargets ?? []) {
    const pol = await callAws({ service: 'application-autoscaling', operation: 'DescribeScalingPolicies' }, () =>
      c.autoscaling.send(new DescribeScalingPoliciesCommand({ ServiceNamespace: 'sagemaker', ResourceId: t.ResourceId })),
    )
    scalingTargets.push({
      resourceId: t.ResourceId!,
      min: t.MinCapacity ?? 0,
      max: t.MaxCapacity ?? 0,
      policies: (pol.ScalingPolicies ?? []).map((p) => p.PolicyName!),
    })
  }

  // Lambda functions with provisioned concurrency (which bills while idle) and URLs.
  const functions: FunctionInfo[] = []
  const idle = idleStopResourceNames(unique([names.endpoint, ...fromState('endpoint')]))
  for (const name of unique([names.lambdaFunction, ...idle.functions, ...fromState('function')])) {
    const fn = await callAwsOrUndefined({ service: 'lambda', operation: 'GetFunction', resource: name }, () =>
      c.lambda.send(new GetFunctionCommand({ FunctionName: name })),
    )
    if (!fn || fn.Tags?.[TAG_PROJECT] !== project) continue
    const memoryMb = fn.Configuration?.MemorySize ?? 128
    const pcc = await callAwsOrUndefined({ service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', resource: name }, () =>
      c.lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: name, Qualifier: names.lambdaAlias })),
    )
    const url = await callAwsOrUndefined({ service: 'lambda', operation: 'GetFunctionUrlConfig', resource: name }, () =>
      c.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name, Qualifier: names.lambdaAlias })),
    ).catch(() => undefined) // function URLs are optional and not every emulator knows them
    const executions = pcc?.AllocatedProvisionedConcurrentExecutions ?? pcc?.RequestedProvisionedConcurrentExecutions ?? 0
    functions.push({
      name,
      memoryMb,
      ...(pcc ? { provisioned: { qualifier: names.lambdaAlias, executions, status: pcc.Status ?? 'Unknown' } } : {}),
      ...(url ? { url: { qualifier: names.lambdaAlias, authType: url.AuthType ?? 'AWS_IAM' } } : {}),
      hourly: executions > 0 ? lambdaProvisionedHourly(memoryMb, executions) : 0,
    })
  }

  // Roles mlops created (tagged for this project; a user-supplied training.roleArn is never ours).
  const roles: RoleInfo[] = []
  for (const name of unique([names.trainingRole, names.lambdaRole, names.ec2Role, ...idle.roles, ...fromState('role')])) {
    const role = await callAwsOrUndefined({ service: 'iam', operation: 'GetRole', resource: name }, () => c.iam.send(new GetRoleCommand({ RoleName: name })))
    if (!role?.Role || !hasProjectTags(role.Role.Tags, project)) continue
    const profiles = await callAws({ service: 'iam', operation: 'ListInstanceProfilesForRole', resource: name }, () =>
      c.iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: name })),
    )
    roles.push({ name, arn: role.Role.Arn!, instanceProfiles: (profiles.InstanceProfiles ?? []).map((p) => p.InstanceProfileName!) })
  }

  const instanceProfiles = new Set(roles.flatMap((r) => r.instanceProfiles))
  for (const name of unique([names.ec2InstanceProfile, ...fromState('instance-profile')])) {
    const profile = await callAwsOrUndefined({ service: 'iam', operation: 'GetInstanceProfile', resource: name }, () =>
      c.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })),
    )
    if (profile?.InstanceProfile && (hasProjectTags(profile.InstanceProfile.Tags, project) || instanceProfiles.has(name))) instanceProfiles.add(name)
  }

  // EC2 boxes and their security groups, by tag.
  const tagFilter = { Name: `tag:${TAG_PROJECT}`, Values: [project] }
  const reservations = await callAws({ service: 'ec2', operation: 'DescribeInstances' }, () =>
    c.ec2.send(new DescribeInstancesCommand({ Filters: [tagFilter, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }] })),
  )
  const instances: InstanceInfo[] = (reservations.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .map((i) => {
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
  const groups = await callAws({ service: 'ec2', operation: 'DescribeSecurityGroups' }, () =>
    c.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [tagFilter] })),
  )
  const securityGroups = (groups.SecurityGroups ?? []).map((g) => ({ id: g.GroupId!, name: g.GroupName! }))

  // The dataset in S3 (kept by teardown unless --delete-data).
  let data: Inventory['data']
  const bucket = cfg.data.bucket
  try {
    let objects = 0
    let bytes = 0
    let token: string | undefined
    do {
      const page = await c.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${cfg.data.prefix}/`, ContinuationToken: token }))
      for (const o of page.Contents ?? []) {
        objects++
        bytes += o.Size ?? 0
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
    const tagging = await callAwsOrUndefined({ service: 's3', operation: 'GetBucketTagging', resource: bucket }, () =>
      c.s3.send(new GetBucketTaggingCommand({ Bucket: bucket })),
    ).catch(() => undefined)
    data = {
      bucket,
      prefix: cfg.data.prefix,
      objects,
      bytes,
      monthly: (bytes / 1024 ** 3) * S3_GB_MONTH,
      bucketManagedByMlops: hasProjectTags(tagging?.TagSet, project),
    }
  } catch (e) {
    if (!isNotFound(e) && (e as { name?: string }).name !== 'NoSuchBucket') throw e
    data = undefined
  }

  return {
    project,
    region,
    jobs,
    endpoints,
    endpointConfigs,
    models,
    scalingTargets,
    functions,
    roles,
    instanceProfiles: [...instanceProfiles],
    instances,
    securityGroups,
    data,
    idleStops: await collectIdleStops(c, unique([names.endpoint, ...fromState('endpoint')])),
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
      inv.securityGroups.length ===
    0
  )
}

function mul(a: number | undefined, n: number): number | undefined {
  return a === undefined ? undefined : a * n
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)]
}
