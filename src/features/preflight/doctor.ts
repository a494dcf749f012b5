import type { CommandContext } from '../../context.js'
import type { MlopsConfig } from '../../config/schema.js'
import { regionRegistry } from '../../aws/regions.js'
import { bucketRegion } from '../../aws/s3/bucket-region.js'
import { runPreflightChecks } from '../../aws/quota-and-permission-checks.js'
import { done, type Outcome } from '../../shared/outcome.js'
import { resourceNames } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import {
  endpointQuotaNeeds,
  ec2QuotaNeeds,
  needVerb,
  permissionChecks,
  provenDenials,
  trainingQuotaNeeds,
  unprovenDenials,
  type QuotaNeed,
} from '../../shared/preflight.js'

/**
 * `mlops doctor` (issue 26): every preflight check for the whole config, without planning a
 * command: credentials, region, the quotas of the configured instance types, the caller's
 * permissions for the pipeline, the bucket's region, and Python with torch for local mode.
 */

export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip'

export interface DoctorCheck {
  readonly name: string
  readonly status: CheckStatus
  readonly detail: string
  /** The command or change that fixes a failure. */
  readonly fix?: string
}

export interface DoctorResult {
  readonly region: string
  readonly caller?: string
  readonly checks: readonly DoctorCheck[]
  /** false when any check failed (exit 1). */
  readonly ok: boolean
}

export interface DoctorOptions {
  /** Local mode's Python: where it is and whether torch imports (features/local/python.ts, passed in by the command). */
  readonly python: () => { readonly ok: boolean; readonly detail: string; readonly fix?: string }
}

export async function runDoctor(ctx: CommandContext, opts: DoctorOptions): Promise<Outcome<DoctorResult>> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const checks: DoctorCheck[] = []
  const registry = regionRegistry(region)
  checks.push(
    registry
      ? { name: 'region', status: 'ok', detail: `${region} (${registry.partition})` }
      : {
          name: 'region',
          status: 'fail',
          detail: `${region} is not a region mlops knows`,
          fix: 'Set aws.region in mlops.config.yaml or pass --region, e.g. --region eu-west-1',
        },
  )
  const clients = await ctx.clients(['sts', 'iam', 'serviceQuotas', 's3'], cfg)
  const quotas = configuredQuotas(cfg)
  const report = await runPreflightChecks(clients, { region, quotas, checks: (scope) => permissionChecks(pipelineOperations(cfg), scope) })
  const caller = report.callerArn
  const callerUnknown = report.skipped.find((s) => s.startsWith('who is calling'))
  checks.push(
    callerUnknown ? { name: 'credentials', status: 'fail', detail: callerUnknown } : { name: 'credentials', status: 'ok', detail: caller ?? 'unknown' },
  )
  const quotaSkipped = report.skipped.find((s) => s.startsWith('Service Quotas'))
  for (const q of report.quotasChecked) {
    const short = q.applied !== undefined && q.applied < q.need.needed
    checks.push({
      name: `quota: ${q.name ?? q.need.quotaName ?? q.need.quotaCode}`,
      status: q.applied === undefined ? 'skip' : short ? 'fail' : 'ok',
      detail:
        q.applied === undefined
          ? `no such quota in ${region}`
          : `${q.applied} in ${region}${q.code ? ` (${q.code})` : ''}; ${q.need.why} ${needVerb(q.need)} ${q.need.needed}`,
      ...(short && q.code
        ? {
            fix: `aws service-quotas request-service-quota-increase --service-code ${q.need.serviceCode} --quota-code ${q.code} --desired-value ${q.need.needed} --region ${region}`,
          }
        : {}),
    })
  }
  if (quotaSkipped) checks.push({ name: 'quotas', status: 'warn', detail: `could not be read: ${quotaSkipped.replace(/^Service Quotas: /, '')}` })
  const permSkipped = report.skipped.find((s) => s.startsWith('permissions'))
  if (permSkipped) checks.push({ name: 'permissions', status: 'warn', detail: `could not be simulated: ${permSkipped}` })
  else if (!callerUnknown) {
    const denials = provenDenials(report)
    const unproven = unprovenDenials(report)
    if (unproven.length)
      checks.push({
        name: 'permissions',
        status: 'warn',
        detail: `${unproven.join(', ')}: not allowed on "*" (a policy scoped to the project's resources may still allow them)`,
      })
    checks.push(
      denials.length
        ? {
            name: 'permissions',
            status: 'fail',
            detail: denials.map((d) => `${d.action} on ${d.resource} (${d.decision})`).join('; '),
            fix: `add to the policy of ${report.principalArn}: ${JSON.stringify({ Effect: 'Allow', Action: [...new Set(denials.map((d) => d.action))], Resource: [...new Set(denials.map((d) => d.resource))] })}`,
          }
        : { name: 'permissions', status: 'ok', detail: `${report.principalArn} may run the pipeline's requests` },
    )
  }
  checks.push(await bucketCheck(clients.s3, cfg.data.bucket, region))
  const py = opts.python()
  checks.push({ name: 'local python', status: py.ok ? 'ok' : 'warn', detail: py.detail, ...(py.fix ? { fix: py.fix } : {}) })
  return done({ region, ...(caller ? { caller } : {}), checks, ok: !checks.some((c) => c.status === 'fail') })
}

async function bucketCheck(s3: Parameters<typeof bucketRegion>[0], bucket: string, region: string): Promise<DoctorCheck> {
  try {
    const where = await bucketRegion(s3, bucket)
    if (where === undefined) return { name: 'bucket', status: 'ok', detail: `s3://${bucket} does not exist yet (upload-data creates it in ${region})` }
    if (where === region) return { name: 'bucket', status: 'ok', detail: `s3://${bucket} is in ${region}` }
    return {
      name: 'bucket',
      status: 'fail',
      detail: `s3://${bucket} is in ${where}, the config's region is ${region}: SageMaker reads training data only from its own region`,
      fix: `Set aws.region: ${where} (or pass --region ${where}), or use a bucket in ${region}`,
    }
  } catch (err) {
    return { name: 'bucket', status: 'warn', detail: `s3://${bucket}: ${(err as Error).message.split('\n')[0]}` }
  }
}

/** The quotas of the configured instance types: training (spot or not, warm pool), the endpoint, the EC2 box. */
function configuredQuotas(cfg: MlopsConfig): QuotaNeed[] {
  const t = cfg.training
  const e = cfg.endpoint
  return [
    ...trainingQuotaNeeds({
      instanceType: t.instanceType,
      instanceCount: t.instanceCount,
      spot: t.spot,
      ...(t.keepAlive ? { keepAliveSeconds: t.keepAlive } : {}),
    }),
    ...(e.serverless ? [] : endpointQuotaNeeds(e.instanceType, e.instanceCount)),
    ...ec2QuotaNeeds(cfg.ec2.instanceType, 1, cfg.ec2.spot),
  ]
}

/**
 * The requests of the pipeline that decide whether it can run at all (upload, train, deploy, the
 * Lambda front, scaling), with the project's names so resources are scoped as the commands' plans
 * scope them. Not every read of every plan: `mlops <command> --dry-run` plus the command's own
 * preflight covers that.
 */
function pipelineOperations(cfg: MlopsConfig): PlannedOperation[] {
  const n = resourceNames(cfg)
  const bucket = cfg.data.bucket
  const p = cfg.project.name
  const op = (service: string, operation: string, input: Record<string, unknown>): PlannedOperation => ({ service, operation, input })
  return [
    op('s3', 'ListObjectsV2', { Bucket: bucket }),
    op('s3', 'PutObject', { Bucket: bucket, Key: `${p}/code/sourcedir.tar.gz` }),
    op('s3', 'GetObject', { Bucket: bucket, Key: `${p}/models/model.tar.gz` }),
    ...['GetRole', 'CreateRole', 'PutRolePolicy', 'PassRole'].map((o) => op('iam', o, { RoleName: n.trainingRole })),
    ...['GetRole', 'CreateRole', 'PutRolePolicy', 'PassRole'].map((o) => op('iam', o, { RoleName: n.lambdaRole })),
    op('sagemaker', 'CreateTrainingJob', { TrainingJobName: `${n.trainingJobBase}-doctor` }),
    op('sagemaker', 'DescribeTrainingJob', { TrainingJobName: `${n.trainingJobBase}-doctor` }),
    op('sagemaker', 'CreateModel', { ModelName: `${n.modelBase}-doctor` }),
    op('sagemaker', 'CreateEndpointConfig', { EndpointConfigName: `${n.endpointConfigBase}-doctor` }),
    ...['CreateEndpoint', 'UpdateEndpoint', 'DescribeEndpoint'].map((o) => op('sagemaker', o, { EndpointName: n.endpoint })),
    op('sagemaker-runtime', 'InvokeEndpoint', { EndpointName: n.endpoint }),
    ...['RegisterScalableTarget', 'PutScalingPolicy'].map((o) => op('application-autoscaling', o, {})),
    ...['GetFunction', 'CreateFunction', 'UpdateFunctionCode', 'PublishVersion'].map((o) => op('lambda', o, { FunctionName: n.lambdaFunction })),
    op('logs', 'CreateLogGroup', { logGroupName: `/aws/lambda/${n.lambdaFunction}` }),
  ]
}
