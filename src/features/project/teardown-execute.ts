import { DeleteScalingPolicyCommand, DeregisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { DeleteSecurityGroupCommand, DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2'
import {
  DeleteInstanceProfileCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  RemoveRoleFromInstanceProfileCommand,
} from '@aws-sdk/client-iam'
import { DeleteFunctionCommand, DeleteFunctionUrlConfigCommand, DeleteProvisionedConcurrencyConfigCommand } from '@aws-sdk/client-lambda'
import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import {
  DeleteEndpointCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  StopHyperParameterTuningJobCommand,
  StopTrainingJobCommand,
} from '@aws-sdk/client-sagemaker'
import type { MlopsConfig } from '../../config/schema.js'
import { resourceNames } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateRecord } from '../../shared/state.js'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, isNotFound } from '../../aws/errors.js'
import type { Inventory, InventoryClients } from './inventory.js'
import { planRemoveIdleStop, removeIdleStop } from './idle-stop.js'

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
}

export interface TeardownItem {
  /** Human label: "endpoint dogs-endpoint". */
  readonly label: string
  readonly ops: readonly PlannedOperation[]
}

export interface TeardownResult {
  readonly deleted: readonly string[]
  readonly failed: readonly { label: string; error: string }[]
  /** Kept on purpose (data without --delete-data, roles with --keep-roles). */
  readonly kept: readonly string[]
}

const op = (service: string, operation: string, input: unknown): PlannedOperation => ({ service, operation, input })

/** The ordered deletion plan. Pure: used for the confirmation list, --dry-run and execution. */
export function planTeardown(inv: Inventory, cfg: MlopsConfig, opts: TeardownOptions): TeardownItem[] {
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
    for (const r of inv.roles) {
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
    for (const p of inv.instanceProfiles) items.push({ label: `instance profile ${p}`, ops: [op('iam', 'DeleteInstanceProfile', { InstanceProfileName: p })] })
  }
  if (inv.instances.length) {
    items.push({
      label: `EC2 instance${inv.instances.length > 1 ? 's' : ''} ${inv.instances.map((i) => i.id).join(', ')}`,
      ops: [op('ec2', 'TerminateInstances', { InstanceIds: inv.instances.map((i) => i.id) })],
    })
  }
  for (const g of inv.securityGroups) items.push({ label: `security group ${g.name} (${g.id})`, ops: [op('ec2', 'DeleteSecurityGroup', { GroupId: g.id })] })
  if (opts.deleteData && inv.data) {
    for (const prefix of dataPrefixes(cfg)) {
      items.push({
        label: `s3://${inv.data.bucket}/${prefix}`,
        ops: [
          op('s3', 'ListObjectsV2', { Bucket: inv.data.bucket, Prefix: prefix }),
          op('s3', 'DeleteObjects', { Bucket: inv.data.bucket, Delete: { Objects: '<each listed key>' } }),
        ],
      })
    }
    if (inv.data.bucketManagedByMlops)
      items.push({ label: `bucket ${inv.data.bucket} (if empty)`, ops: [op('s3', 'DeleteBucket', { Bucket: inv.data.bucket })] })
  }
  return items
}

/** The S3 prefixes --delete-data removes: dataset, job outputs, and the project's code, models and checkpoints. */
export function dataPrefixes(cfg: MlopsConfig): string[] {
  return [`${cfg.data.prefix}/`, `${cfg.training.outputPrefix}/`, `${cfg.project.name}/`]
}

/**
 * What teardown would remove when it cannot ask AWS (--dry-run without credentials): the fixed
 * names of the project plus what the state file records.
 */
export function presumedInventory(cfg: MlopsConfig, region: string, records: readonly StateRecord[]): Inventory {
  const names = resourceNames(cfg)
  const of = (kind: StateRecord['kind']) => records.filter((r) => r.kind === kind).map((r) => r.name)
  const uniq = (xs: string[]) => [...new Set(xs)]
  return {
    project: cfg.project.name,
    region,
    jobs: [],
    endpoints: uniq([names.endpoint, ...of('endpoint')]).map((name) => ({ name, status: 'unknown' })),
    endpointConfigs: of('endpoint-config'),
    models: of('model'),
    scalingTargets: uniq([`endpoint/${names.endpoint}/variant/AllTraffic`, ...of('scaling-target')]).map((resourceId) => ({
      resourceId,
      min: 0,
      max: 0,
      policies: [names.scalingPolicy],
    })),
    functions: uniq([names.lambdaFunction, ...of('function')]).map((name) => ({ name, memoryMb: cfg.lambda.memoryMb, hourly: 0 })),
    roles: uniq([names.trainingRole, names.lambdaRole, names.ec2Role, ...of('role')])
      .filter((r) => !cfg.training.roleArn?.endsWith(`/${r}`))
      .map((name) => ({ name, arn: `arn:aws:iam::<account-id>:role/${name}`, instanceProfiles: name === names.ec2Role ? [names.ec2InstanceProfile] : [] })),
    instanceProfiles: uniq([names.ec2InstanceProfile, ...of('instance-profile')]),
    instances: of('instance').map((id) => ({ id, state: 'unknown', instanceType: 'unknown' })),
    securityGroups: of('security-group').map((id) => ({ id, name: names.ec2SecurityGroup })),
    data: { bucket: cfg.data.bucket, prefix: cfg.data.prefix, objects: 0, bytes: 0, monthly: 0, bucketManagedByMlops: false },
  }
}

/** Runs the plan. Failures are collected (and reported) rather than stopping the rest of the cleanup. */
export async function executeTeardown(
  c: InventoryClients,
  inv: Inventory,
  cfg: MlopsConfig,
  opts: TeardownOptions & { clock: Clock; signal?: AbortSignal; waitTimeoutMs?: number; onStep?: (label: string) => void },
): Promise<TeardownResult> {
  const deleted: string[] = []
  const failed: { label: string; error: string }[] = []
  const kept: string[] = []
  const timeoutMs = opts.waitTimeoutMs ?? 15 * 60_000
  const attempt = async (label: string, fn: () => Promise<void>) => {
    opts.onStep?.(label)
    try {
      await fn()
      deleted.push(label)
    } catch (e) {
      if (isNotFound(e)) deleted.push(`${label} (already gone)`)
      else failed.push({ label, error: e instanceof Error ? e.message : String(e) })
    }
  }
  const gone = async <T>(fn: () => Promise<T>) => {
    try {
      await fn()
    } catch (e) {
      if (!isNotFound(e)) throw e
    }
  }

  for (const j of inv.jobs) {
    await attempt(`${j.kind} job ${j.name} (stopped)`, async () => {
      if (j.kind === 'training') await c.sagemaker.send(new StopTrainingJobCommand({ TrainingJobName: j.name }))
      else await c.sagemaker.send(new StopHyperParameterTuningJobCommand({ HyperParameterTuningJobName: j.name }))
    })
  }
  for (const t of inv.scalingTargets) {
    await attempt(`autoscaling of ${t.resourceId}`, async () => {
      const base = { ServiceNamespace: 'sagemaker' as const, ResourceId: t.resourceId, ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' as const }
      for (const PolicyName of t.policies) await gone(() => c.autoscaling.send(new DeleteScalingPolicyCommand({ PolicyName, ...base })))
      await gone(() => c.autoscaling.send(new DeregisterScalableTargetCommand(base)))
    })
  }
  for (const i of inv.idleStops ?? []) await attempt(`idle stop of ${i.endpoint} (alarm, topic)`, () => removeIdleStop(c, i))
  for (const e of inv.endpoints) {
    await attempt(`endpoint ${e.name}`, async () => {
      await callAws({ service: 'sagemaker', operation: 'DeleteEndpoint', resource: e.name }, () =>
        c.sagemaker.send(new DeleteEndpointCommand({ EndpointName: e.name })),
      )
      // Deletion is asynchronous; wait until it is really gone so "nothing left running" is true.
      await pollUntil({
        what: `endpoint ${e.name} to be deleted`,
        check: async () => {
          try {
            const d = await c.sagemaker.send(new DescribeEndpointCommand({ EndpointName: e.name }))
            return { done: false, value: undefined, status: d.EndpointStatus }
          } catch (err) {
            if (isNotFound(err)) return { done: true, value: undefined, status: 'Deleted' }
            throw err
          }
        },
        timeoutMs,
        intervalMs: 15_000,
        clock: opts.clock,
        signal: opts.signal,
        rerunHint: 'Run `mlops teardown` again to finish.',
      })
    })
  }
  for (const name of inv.endpointConfigs)
    await attempt(`endpoint config ${name}`, async () => {
      await c.sagemaker.send(new DeleteEndpointConfigCommand({ EndpointConfigName: name }))
    })
  for (const name of inv.models)
    await attempt(`model ${name}`, async () => {
      await c.sagemaker.send(new DeleteModelCommand({ ModelName: name }))
    })
  for (const f of inv.functions) {
    if (f.url)
      await attempt(`function URL of ${f.name}`, async () => {
        await c.lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: f.name, Qualifier: f.url!.qualifier }))
      })
    if (f.provisioned) {
      await attempt(`provisioned concurrency of ${f.name}:${f.provisioned.qualifier}`, async () => {
        await c.lambda.send(new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: f.name, Qualifier: f.provisioned!.qualifier }))
      })
    }
    await attempt(`Lambda function ${f.name}`, async () => {
      await c.lambda.send(new DeleteFunctionCommand({ FunctionName: f.name }))
    })
  }
  if (opts.keepRoles) {
    kept.push(...inv.roles.map((r) => `IAM role ${r.name}`), ...inv.instanceProfiles.map((p) => `instance profile ${p}`))
  } else {
    for (const r of inv.roles) {
      await attempt(`IAM role ${r.name}`, async () => {
        const inline = await c.iam.send(new ListRolePoliciesCommand({ RoleName: r.name }))
        for (const PolicyName of inline.PolicyNames ?? []) await gone(() => c.iam.send(new DeleteRolePolicyCommand({ RoleName: r.name, PolicyName })))
        const attached = await c.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: r.name }))
        for (const p of attached.AttachedPolicies ?? []) await gone(() => c.iam.send(new DetachRolePolicyCommand({ RoleName: r.name, PolicyArn: p.PolicyArn })))
        for (const InstanceProfileName of r.instanceProfiles) {
          await gone(() => c.iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName, RoleName: r.name })))
        }
        await c.iam.send(new DeleteRoleCommand({ RoleName: r.name }))
      })
    }
    for (const p of inv.instanceProfiles)
      await attempt(`instance profile ${p}`, async () => {
        await c.iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: p }))
      })
  }
  if (inv.instances.length) {
    const ids = inv.instances.map((i) => i.id)
    await attempt(`EC2 instance${ids.length > 1 ? 's' : ''} ${ids.join(', ')}`, async () => {
      await callAws({ service: 'ec2', operation: 'TerminateInstances', resource: ids.join(',') }, () =>
        c.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids })),
      )
      // Security groups can only go once their instances are terminated.
      await pollUntil({
        what: `instances ${ids.join(', ')} to terminate`,
        check: async () => {
          const d = await c.ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }))
          const states = (d.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name ?? 'unknown')
          return { done: states.every((s) => s === 'terminated'), value: undefined, status: [...new Set(states)].join(', ') }
        },
        timeoutMs,
        intervalMs: 10_000,
        clock: opts.clock,
        signal: opts.signal,
        rerunHint: 'Run `mlops teardown` again to finish.',
      })
    })
  }
  for (const g of inv.securityGroups)
    await attempt(`security group ${g.name} (${g.id})`, async () => {
      await c.ec2.send(new DeleteSecurityGroupCommand({ GroupId: g.id }))
    })

  if (inv.data) {
    if (!opts.deleteData) kept.push(`data s3://${inv.data.bucket}/${inv.data.prefix}/ (${inv.data.objects} objects; --delete-data removes it)`)
    else {
      for (const prefix of dataPrefixes(cfg)) {
        await attempt(`s3://${inv.data.bucket}/${prefix}`, async () => {
          let token: string | undefined
          do {
            const page = await c.s3.send(new ListObjectsV2Command({ Bucket: inv.data!.bucket, Prefix: prefix, ContinuationToken: token }))
            const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key! }))
            if (keys.length) await c.s3.send(new DeleteObjectsCommand({ Bucket: inv.data!.bucket, Delete: { Objects: keys, Quiet: true } }))
            token = page.IsTruncated ? page.NextContinuationToken : undefined
          } while (token)
        })
      }
      if (inv.data.bucketManagedByMlops) {
        const rest = await c.s3.send(new ListObjectsV2Command({ Bucket: inv.data.bucket, MaxKeys: 1 }))
        if ((rest.KeyCount ?? 0) === 0)
          await attempt(`bucket ${inv.data.bucket}`, async () => {
            await c.s3.send(new DeleteBucketCommand({ Bucket: inv.data!.bucket }))
          })
        else kept.push(`bucket ${inv.data.bucket} (holds objects outside the project's prefixes)`)
      }
    }
  }
  return { deleted, failed, kept }
}
