import type { MlopsConfig } from '../../config/schema.js'
import { idleStopNames } from '../../shared/idle-stop-spec.js'
import { NOTIFY_KINDS, notifyNames } from '../../shared/notify-spec.js'
import { resourceNames, TAG_PROJECT } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateRecord } from '../../shared/state.js'
import type { Clock } from '../../shared/clock.js'
import { InterruptedError } from '../../shared/errors.js'
import { deleteSecurityGroup, terminateInstancesAndWait } from '../../aws/ec2/project-resources.js'
import { deleteInstanceProfile, deleteRoleCompletely } from '../../aws/iam/project-resources.js'
import { deleteFunction, deleteFunctionUrl, deleteProvisionedConcurrency } from '../../aws/lambda/project-resources.js'
import { probePrefix } from '../../aws/s3/prefix-probe.js'
import { deleteBucket } from '../../aws/s3/project-resources.js'
import { deleteObjects } from '../../aws/s3/upload.js'
import { deleteEndpointAndWait, deleteEndpointConfig, deleteModel } from '../../aws/sagemaker/endpoint-lifecycle.js'
import { stopJob } from '../../aws/sagemaker/project-resources.js'
import { candidateNames, regionsOf, type Inventory, type InventoryClients } from './inventory.js'
import { describeUsers } from './other-regions.js'
import { ownedPrefixes, type DataGroup, type OwnedData } from './owned-data.js'
import { formatBytes } from '../../shared/output.js'
import { planRemoveIdleStop, removeIdleStop } from './idle-stop-inventory.js'
import { planRemoveNotifications, removeNotifications } from './notify-inventory.js'

const NOTIFY_LABEL = 'run notifications (rules, topic and subscriptions, webhook parameter)'
import { removeScaling, scalingResourceId } from '../../aws/autoscaling/scaling.js'

/**
 * Deletes what `collectInventory` found, in dependency order: running jobs are stopped, scaling
 * comes off before the endpoint, the endpoint before its configs and models, the function URL and
 * provisioned concurrency before the function, role policies before roles, instances before their
 * security groups. Every delete treats "already gone" as done, so teardown is idempotent.
 */

export interface TeardownOptions {
  /** Also delete the dataset, outputs and code packages (and the bucket if mlops created it). */
  readonly deleteData: boolean
  /** Keep the IAM roles and instance profiles (they cost nothing). */
  readonly keepRoles: boolean
  /** List every S3 key --delete-data deletes, not only the counts by kind. @default false */
  readonly verbose?: boolean
}

export interface TeardownItem {
  /** Human label: "endpoint dogs-endpoint". */
  readonly label: string
  readonly ops: readonly PlannedOperation[]
  /** The exact S3 keys an item deletes (listed before the question with --verbose). */
  readonly keys?: readonly string[]
  /** The same keys by kind with sizes, shown before the question. */
  readonly groups?: readonly DataGroup[]
}

export interface TeardownResult {
  readonly deleted: readonly string[]
  readonly failed: readonly { label: string; error: string }[]
  /** Kept on purpose (data without --delete-data, roles with --keep-roles). */
  readonly kept: readonly string[]
}

const op = (service: string, operation: string, input: unknown): PlannedOperation => ({ service, operation, input })

/** The ordered deletion plan. Pure: used for the confirmation list, --dry-run and execution. */
export function planTeardown(inv: Inventory, cfg: MlopsConfig, opts: TeardownOptions, owned?: OwnedData): TeardownItem[] {
  const items: TeardownItem[] = []
  for (const j of inv.jobs) {
    items.push(
      j.kind === 'training'
        ? { label: `training job ${j.name} (stop)`, ops: [op('sagemaker', 'StopTrainingJob', { TrainingJobName: j.name })] }
        : { label: `tuning job ${j.name} (stop)`, ops: [op('sagemaker', 'StopHyperParameterTuningJob', { HyperParameterTuningJobName: j.name })] },
    )
  }
  for (const t of inv.scalingTargets) {
    const base = { ServiceNamespace: 'sagemaker', ResourceId: t.resourceId, ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' }
    items.push({
      label: `autoscaling of ${t.resourceId}`,
      ops: [
        ...t.policies.map((PolicyName) => op('application-autoscaling', 'DeleteScalingPolicy', { PolicyName, ...base })),
        op('application-autoscaling', 'DeregisterScalableTarget', base),
      ],
    })
  }
  for (const i of inv.idleStops ?? []) items.push({ label: `idle stop of ${i.endpoint} (alarm, topic)`, ops: planRemoveIdleStop(i) })
  if (inv.notifications) items.push({ label: NOTIFY_LABEL, ops: planRemoveNotifications(inv.notifications) })
  for (const e of inv.endpoints) items.push({ label: `endpoint ${e.name}`, ops: [op('sagemaker', 'DeleteEndpoint', { EndpointName: e.name })] })
  for (const c of inv.endpointConfigs) items.push({ label: `endpoint config ${c}`, ops: [op('sagemaker', 'DeleteEndpointConfig', { EndpointConfigName: c })] })
  for (const m of inv.models) items.push({ label: `model ${m}`, ops: [op('sagemaker', 'DeleteModel', { ModelName: m })] })
  for (const f of inv.functions) {
    if (f.url)
      items.push({ label: `function URL of ${f.name}`, ops: [op('lambda', 'DeleteFunctionUrlConfig', { FunctionName: f.name, Qualifier: f.url.qualifier })] })
    if (f.provisioned) {
      items.push({
        label: `provisioned concurrency of ${f.name}:${f.provisioned.qualifier}`,
        ops: [op('lambda', 'DeleteProvisionedConcurrencyConfig', { FunctionName: f.name, Qualifier: f.provisioned.qualifier })],
      })
    }
    items.push({ label: `Lambda function ${f.name}`, ops: [op('lambda', 'DeleteFunction', { FunctionName: f.name })] })
  }
  if (!opts.keepRoles) {
    // A role or instance profile that a resource in another region uses stays (issue 27): they are global.
    const inUse = inv.inUseElsewhere ?? {}
    for (const r of inv.roles.filter((x) => !inUse[x.name])) {
      items.push({
        label: `IAM role ${r.name}`,
        ops: [
          op('iam', 'ListRolePolicies', { RoleName: r.name }),
          op('iam', 'DeleteRolePolicy', { RoleName: r.name, PolicyName: '<each inline policy>' }),
          op('iam', 'ListAttachedRolePolicies', { RoleName: r.name }),
          op('iam', 'DetachRolePolicy', { RoleName: r.name, PolicyArn: '<each attached policy>' }),
          ...r.instanceProfiles.map((p) => op('iam', 'RemoveRoleFromInstanceProfile', { InstanceProfileName: p, RoleName: r.name })),
          op('iam', 'DeleteRole', { RoleName: r.name }),
        ],
      })
    }
    for (const p of inv.instanceProfiles.filter((x) => !inUse[x]))
      items.push({ label: `instance profile ${p}`, ops: [op('iam', 'DeleteInstanceProfile', { InstanceProfileName: p })] })
  }
  if (inv.instances.length) {
    items.push({
      label: `EC2 instance${inv.instances.length > 1 ? 's' : ''} ${inv.instances.map((i) => i.id).join(', ')}`,
      ops: [op('ec2', 'TerminateInstances', { InstanceIds: inv.instances.map((i) => i.id) })],
    })
  }
  for (const g of inv.securityGroups) items.push({ label: `security group ${g.name} (${g.id})`, ops: [op('ec2', 'DeleteSecurityGroup', { GroupId: g.id })] })
  if (opts.deleteData && inv.data) {
    const bucket = inv.data.bucket
    if (owned) {
      if (owned.keys.length) {
        items.push({
          label: `${owned.keys.length} object${owned.keys.length === 1 ? '' : 's'} mlops wrote in s3://${bucket}/`,
          ops: [op('s3', 'DeleteObjects', { Bucket: bucket, Delete: { Objects: owned.keys.map((Key) => ({ Key })), Quiet: true } })],
          keys: owned.keys,
          groups: owned.groups,
        })
      }
    } else {
      const { marked, byName, listed } = ownedPrefixes(cfg)
      items.push({
        label: `objects mlops wrote in s3://${bucket}/ (${[...marked, ...byName].join(', ')})`,
        ops: [
          ...listed.map((Prefix) => op('s3', 'ListObjectsV2', { Bucket: bucket, Prefix })),
          op('s3', 'HeadObject', {
            Bucket: bucket,
            Key: '<each listed key under the data, code and models prefixes: kept unless its x-amz-meta-sha256 is set>',
          }),
          {
            ...op('sagemaker', 'DescribeTrainingJob', { TrainingJobName: '<each job of an older tuning job output found>' }),
            note: 'named from the first 19 characters of the project: deleted only when the job is tagged for it',
          },
          op('sagemaker', 'ListTags', { ResourceArn: '<each such job found>' }),
          op('s3', 'DeleteObjects', { Bucket: bucket, Delete: { Objects: '<only the objects mlops wrote>' } }),
        ],
      })
    }
    if (inv.data.bucketManagedByMlops)
      items.push({ label: `bucket ${inv.data.bucket} (if empty)`, ops: [op('s3', 'DeleteBucket', { Bucket: inv.data.bucket })] })
  }
  return items
}

/**
 * What teardown would remove when it cannot ask AWS (--dry-run without credentials): the names
 * collectInventory looks up (candidateNames), each presumed to exist, plus what the state file records.
 */
export function presumedInventory(cfg: MlopsConfig, region: string, records: readonly StateRecord[]): Inventory {
  const names = resourceNames(cfg)
  const candidates = candidateNames(names, records, cfg.project.name)
  const of = (kind: StateRecord['kind']) => records.filter((r) => r.kind === kind).map((r) => r.name)
  const uniq = (xs: string[]) => [...new Set(xs)]
  const notify = notifyNames(cfg.project.name)
  return {
    project: cfg.project.name,
    region,
    // Running jobs and tagged EC2 resources are found by listing: one placeholder stands for each.
    jobs: [
      { name: '<each running training job>', kind: 'training', status: 'unknown' },
      { name: '<each running tuning job>', kind: 'tuning', status: 'unknown' },
    ],
    endpoints: candidates.endpoints.map((name) => ({ name, status: 'unknown' })),
    endpointConfigs: of('endpoint-config'),
    models: of('model'),
    scalingTargets: uniq([scalingResourceId(names.endpoint), ...of('scaling-target')]).map((resourceId) => ({
      resourceId,
      min: 0,
      max: 0,
      policies: [names.scalingPolicy],
    })),
    functions: candidates.functions.map((name) => ({
      name,
      memoryMb: cfg.lambda.memoryMb,
      hourly: 0,
      // The served function's URL and provisioned concurrency (the reapers have neither).
      ...(name === names.lambdaFunction
        ? { url: { qualifier: names.lambdaAlias, authType: 'unknown' }, provisioned: { qualifier: names.lambdaAlias, executions: 0, status: 'unknown' } }
        : {}),
    })),
    roles: candidates.roles
      .filter((r) => !cfg.training.roleArn?.endsWith(`/${r}`))
      .map((name) => ({ name, arn: `arn:aws:iam::<account-id>:role/${name}`, instanceProfiles: name === names.ec2Role ? [names.ec2InstanceProfile] : [] })),
    instanceProfiles: [...candidates.instanceProfiles],
    instances: uniq([...of('instance'), `<each instance tagged ${TAG_PROJECT}=${cfg.project.name}>`]).map((id) => ({
      id,
      state: 'unknown',
      instanceType: 'unknown',
    })),
    securityGroups: uniq([...of('security-group'), `<each security group tagged ${TAG_PROJECT}=${cfg.project.name}>`]).map((id) => ({
      id,
      name: names.ec2SecurityGroup,
    })),
    data: { bucket: cfg.data.bucket, prefix: cfg.data.prefix, objects: 0, bytes: 0, monthly: 0, bucketManagedByMlops: false, groups: [] },
    idleStops: candidates.endpoints.map((endpoint) => {
      const idle = idleStopNames(endpoint)
      return { endpoint, functionName: idle.function, alarm: idle.alarm, topicArn: `arn:aws:sns:${region}:<account-id>:${idle.topic}` }
    }),
    ...regionsOf(names, records, region),
    notifications: {
      rules: NOTIFY_KINDS.map((k) => notify.rule(k)),
      topicArn: `arn:aws:sns:${region}:<account-id>:${notify.topic}`,
      subscriptions: [],
      webhookParameter: notify.parameter,
    },
  }
}

export type ExecuteOptions = TeardownOptions & {
  clock: Clock
  signal?: AbortSignal
  waitTimeoutMs?: number
  onStep?: (label: string) => void
  /** With --delete-data: exactly the objects to delete (those mlops wrote, listed to the user first). */
  ownedData?: OwnedData
}

/** Runs each deletion, recording it as deleted, already gone, or failed (the rest still runs). */
class Run {
  readonly deleted: string[] = []
  readonly failed: { label: string; error: string }[] = []
  readonly kept: string[] = []
  readonly wait: { clock: Clock; signal?: AbortSignal; timeoutMs: number; rerunHint: string }

  constructor(
    readonly c: InventoryClients,
    readonly opts: ExecuteOptions,
  ) {
    this.wait = { clock: opts.clock, signal: opts.signal, timeoutMs: opts.waitTimeoutMs ?? 15 * 60_000, rerunHint: 'Run `mlops teardown` again to finish.' }
  }

  /** `fn` resolves false when the resource was already gone. Ctrl-C stops the whole run (exit 130), never counted as a failure. */
  async attempt(label: string, fn: () => Promise<boolean | void>): Promise<void> {
    this.checkInterrupt(label)
    this.opts.onStep?.(label)
    try {
      const existed = await fn()
      this.deleted.push(existed === false ? `${label} (already gone)` : label)
    } catch (e) {
      this.checkInterrupt(label, e)
      this.failed.push({ label, error: e instanceof Error ? e.message : String(e) })
    }
  }

  private checkInterrupt(label: string, cause?: unknown): void {
    if (!this.opts.signal?.aborted) return
    if (cause instanceof InterruptedError) throw cause
    const done = this.deleted.length ? ` Deleted so far: ${this.deleted.join(', ')}.` : ' Nothing was deleted yet.'
    throw new InterruptedError(`Interrupted during teardown (at ${label}).${done}`, {
      hint: 'Run `mlops teardown` again to finish: it only deletes what is still there.',
      ...(cause ? { cause } : {}),
    })
  }
}

/** Runs the plan. Failures are collected (and reported) rather than stopping the rest of the cleanup. */
export async function executeTeardown(c: InventoryClients, inv: Inventory, cfg: MlopsConfig, opts: ExecuteOptions): Promise<TeardownResult> {
  const run = new Run(c, opts)
  await removeSageMaker(run, inv)
  await removeFunctions(run, inv)
  await removeIam(run, inv)
  await removeEc2(run, inv)
  await removeData(run, inv)
  return { deleted: run.deleted, failed: run.failed, kept: run.kept }
}

/** Jobs stopped, scaling off, then the endpoint (waited for), its configs and models. */
async function removeSageMaker(run: Run, inv: Inventory): Promise<void> {
  const { sagemaker, autoscaling } = run.c
  for (const j of inv.jobs) await run.attempt(`${j.kind} job ${j.name} (stopped)`, () => stopJob(sagemaker, j.kind, j.name))
  for (const t of inv.scalingTargets) await run.attempt(`autoscaling of ${t.resourceId}`, () => removeScaling(autoscaling, t.resourceId, t.policies))
  // The idle stop goes first, so its alarm cannot fire (and its reaper act) in the middle of teardown.
  for (const i of inv.idleStops ?? []) await run.attempt(`idle stop of ${i.endpoint} (alarm, topic)`, () => removeIdleStop(run.c, i))
  // The notification rules go before the runs they watch, so teardown's own deletes notify nobody.
  const notifications = inv.notifications
  if (notifications) await run.attempt(NOTIFY_LABEL, () => removeNotifications(run.c, notifications))
  for (const e of inv.endpoints) await run.attempt(`endpoint ${e.name}`, () => deleteEndpointAndWait(sagemaker, e.name, run.wait))
  for (const name of inv.endpointConfigs) await run.attempt(`endpoint config ${name}`, () => deleteEndpointConfig(sagemaker, name))
  for (const name of inv.models) await run.attempt(`model ${name}`, () => deleteModel(sagemaker, name))
}

/** The function URL and provisioned concurrency before the function. */
async function removeFunctions(run: Run, inv: Inventory): Promise<void> {
  const { lambda } = run.c
  for (const f of inv.functions) {
    const url = f.url
    if (url) await run.attempt(`function URL of ${f.name}`, () => deleteFunctionUrl(lambda, f.name, url.qualifier))
    const pc = f.provisioned
    if (pc) await run.attempt(`provisioned concurrency of ${f.name}:${pc.qualifier}`, () => deleteProvisionedConcurrency(lambda, f.name, pc.qualifier))
    await run.attempt(`Lambda function ${f.name}`, () => deleteFunction(lambda, f.name))
  }
}

/** Roles (policies first) and instance profiles, unless --keep-roles. */
async function removeIam(run: Run, inv: Inventory): Promise<void> {
  if (run.opts.keepRoles) {
    run.kept.push(...inv.roles.map((r) => `IAM role ${r.name}`), ...inv.instanceProfiles.map((p) => `instance profile ${p}`))
    return
  }
  const inUse = inv.inUseElsewhere ?? {}
  for (const r of inv.roles) {
    const users = inUse[r.name]
    if (users) run.kept.push(`IAM role ${r.name} (${describeUsers(users)})`)
    else await run.attempt(`IAM role ${r.name}`, () => deleteRoleCompletely(run.c.iam, r.name, r.instanceProfiles))
  }
  for (const p of inv.instanceProfiles) {
    const users = inUse[p]
    if (users) run.kept.push(`instance profile ${p} (${describeUsers(users)})`)
    else await run.attempt(`instance profile ${p}`, () => deleteInstanceProfile(run.c.iam, p))
  }
}

/** Instances terminated (and waited for), then their security groups. */
async function removeEc2(run: Run, inv: Inventory): Promise<void> {
  if (inv.instances.length) {
    const ids = inv.instances.map((i) => i.id)
    await run.attempt(`EC2 instance${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`, () => terminateInstancesAndWait(run.c.ec2, ids, run.wait))
  }
  for (const g of inv.securityGroups) await run.attempt(`security group ${g.name} (${g.id})`, () => deleteSecurityGroup(run.c.ec2, g.id))
}

/** One kind of object in the bucket, for a person: `model archives s3://b/p/models/ (3 objects, 83.0 MB)`. */
export function describeGroup(bucket: string, g: DataGroup): string {
  const where = g.prefix
    .split(', ')
    .map((p) => `s3://${bucket}/${p}`)
    .join(', ')
  return `${g.kind} ${where} (${g.objects} object${g.objects === 1 ? '' : 's'}, ${formatBytes(g.bytes)})`
}

/** With --delete-data: the project's prefixes, then the bucket if mlops created it and it is empty. */
async function removeData(run: Run, inv: Inventory): Promise<void> {
  const data = inv.data
  if (!data) return
  if (!run.opts.deleteData) {
    for (const g of data.groups) run.kept.push(`${describeGroup(data.bucket, g)}; --delete-data removes it`)
    return
  }
  const { s3 } = run.c
  const owned = run.opts.ownedData
  if (owned?.keys.length) {
    await run.attempt(`${owned.keys.length} object${owned.keys.length === 1 ? '' : 's'} mlops wrote in s3://${data.bucket}/`, () =>
      deleteObjects(s3, data.bucket, owned.keys).then(() => undefined),
    )
  }
  if (owned?.kept) run.kept.push(`${owned.kept} object${owned.kept === 1 ? '' : 's'} under the project's prefixes that mlops did not write`)
  if (data.bucketManagedByMlops) {
    // The empty prefix: the whole bucket.
    if ((await probePrefix(s3, data.bucket, '')).empty) await run.attempt(`bucket ${data.bucket}`, () => deleteBucket(s3, data.bucket))
    else run.kept.push(`bucket ${data.bucket} (holds objects outside the project's prefixes)`)
  }
}
