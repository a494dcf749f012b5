import { iamActionsOf } from './iam-actions.js'
import { UserError } from './errors.js'
import { PLACEHOLDER, type PlannedOperation } from './plan.js'

/**
 * The preflight (issue 26): before its first write, a command checks the Service Quotas its request
 * needs and simulates the caller's permissions for every operation of its own plan. This file is the
 * pure half: what to check, the reads that checking sends (for plans), and the verdict. The calls
 * are in src/aws/quota-and-permission-checks.ts; CommandContext.preflight joins them.
 */

/** A quota the request needs: by exact name (SageMaker's per-instance-type quotas) or by code (EC2's vCPU quotas). */
export interface QuotaNeed {
  /** Service Quotas service code: sagemaker, ec2, ... */
  readonly serviceCode: string
  readonly quotaName?: string
  readonly quotaCode?: string
  /** The value the request needs (instances, vCPUs). */
  readonly needed: number
  /** What needs it, for people: "1 × ml.g5.xlarge training instance". */
  readonly why: string
}

/** What a command hands the preflight: its quotas and its plan's operations. */
export interface PreflightInput {
  readonly quotas: readonly QuotaNeed[]
  readonly operations: readonly PlannedOperation[]
}

/** A quota whose value is below the need. */
export interface QuotaShortfall {
  readonly need: QuotaNeed
  readonly code: string
  readonly name: string
  readonly applied: number
}

/** What the checks found. `skipped`: checks that could not run (AccessDenied, not implemented), one reason each. */
export interface PreflightReport {
  readonly region: string
  readonly principalArn?: string
  readonly quotaShortfalls: readonly QuotaShortfall[]
  readonly denials: readonly { readonly action: string; readonly resource: string; readonly decision: string }[]
  readonly skipped: readonly string[]
  /** Every quota looked at, for `mlops doctor`. */
  readonly quotasChecked: readonly { readonly need: QuotaNeed; readonly code?: string; readonly name?: string; readonly applied?: number }[]
}

/** `--no-preflight` or MLOPS_PREFLIGHT=off: the checks are skipped (and their reads are not planned). */
export function preflightEnabled(flag: boolean | undefined, env: Readonly<Record<string, string | undefined>>): boolean {
  if (flag === false) return false
  return !/^(off|0|false|no)$/i.test(env.MLOPS_PREFLIGHT ?? '')
}

/** The quotas of SageMaker training on `count` × `instanceType` (spot uses the spot quota; a warm pool its own). */
export function trainingQuotaNeeds(o: {
  readonly instanceType: string
  readonly instanceCount: number
  readonly spot: boolean
  readonly keepAliveSeconds?: number
  /** Training jobs at once (a tuning job's MaxParallelTrainingJobs). @default 1 */
  readonly parallel?: number
}): QuotaNeed[] {
  const parallel = o.parallel ?? 1
  const needed = o.instanceCount * parallel
  const many = parallel > 1 ? ` (${parallel} jobs at once × ${o.instanceCount})` : ''
  const needs: QuotaNeed[] = [
    {
      serviceCode: 'sagemaker',
      quotaName: `${o.instanceType} for ${o.spot ? 'spot ' : ''}training job usage`,
      needed,
      why: `${needed} × ${o.instanceType}${o.spot ? ' spot' : ''} training instance${needed === 1 ? '' : 's'}${many}`,
    },
  ]
  if (o.keepAliveSeconds)
    needs.push({
      serviceCode: 'sagemaker',
      quotaName: `${o.instanceType} for training warm pool usage`,
      needed,
      why: `a warm pool of ${needed} × ${o.instanceType} (training.keepAlive)`,
    })
  return needs
}

/** The endpoint quota for `count` × `instanceType`. */
export function endpointQuotaNeeds(instanceType: string, count: number): QuotaNeed[] {
  return [
    {
      serviceCode: 'sagemaker',
      quotaName: `${instanceType} for endpoint usage`,
      needed: count,
      why: `${count} × ${instanceType} endpoint instance${count === 1 ? '' : 's'}`,
    },
  ]
}

/**
 * EC2's vCPU quotas per instance family (On-Demand and Spot). Codes from the Service Quotas console:
 * L-DB2E81BA "Running On-Demand G and VT instances", L-3819A6DF "All G and VT Spot Instance Requests", ...
 */
const EC2_VCPU_QUOTAS: readonly { families: RegExp; onDemand: string; spot: string; label: string }[] = [
  { families: /^(g\d|vt\d)/, onDemand: 'L-DB2E81BA', spot: 'L-3819A6DF', label: 'G and VT' },
  { families: /^p\d/, onDemand: 'L-417A185B', spot: 'L-7212CCBC', label: 'P' },
  { families: /^[acdhimrtz]\d/, onDemand: 'L-1216C47A', spot: 'L-34B43A08', label: 'Standard (A, C, D, H, I, M, R, T, Z)' },
]

/** vCPUs of an EC2 size: large 2, xlarge 4, Nxlarge 4N (true of the g, p, m, c, r families mlops offers). */
export function ec2Vcpus(instanceType: string): number | undefined {
  const size = instanceType.split('.')[1] ?? ''
  if (size === 'large') return 2
  if (size === 'xlarge') return 4
  const m = /^(\d+)xlarge$/.exec(size)
  return m ? 4 * Number(m[1]) : undefined
}

/** The EC2 vCPU quota `count` × `instanceType` needs; none for families or sizes it does not know. */
export function ec2QuotaNeeds(instanceType: string, count: number, spot: boolean): QuotaNeed[] {
  const quota = EC2_VCPU_QUOTAS.find((q) => q.families.test(instanceType))
  const vcpus = ec2Vcpus(instanceType)
  if (!quota || vcpus === undefined) return []
  const needed = vcpus * count
  return [
    {
      serviceCode: 'ec2',
      quotaCode: spot ? quota.spot : quota.onDemand,
      needed,
      why: `${count} × ${instanceType} (${needed} vCPUs, ${spot ? 'Spot' : 'On-Demand'} ${quota.label})`,
    },
  ]
}

/** The reads the preflight sends, for plans (so the least-privilege policy and plan-vs-sent include them). */
export function preflightOperations(quotas: readonly QuotaNeed[]): PlannedOperation[] {
  const ops: PlannedOperation[] = [
    { service: 'sts', operation: 'GetCallerIdentity', input: {}, note: 'preflight: who is calling' },
    {
      service: 'iam',
      operation: 'GetRole',
      input: { RoleName: '<role-of-the-session>' },
      note: "preflight, for an assumed-role session: the role's ARN with its path",
    },
    {
      service: 'iam',
      operation: 'SimulatePrincipalPolicy',
      input: { PolicySourceArn: '<caller-arn>', ActionNames: ['<each action of this plan>'], ResourceArns: ['<its resource>'] },
      note: "preflight: the caller's permissions for every request below, one call per resource",
    },
  ]
  for (const code of [...new Set(quotas.filter((q) => q.quotaName).map((q) => q.serviceCode))]) {
    const names = quotas.filter((q) => q.serviceCode === code && q.quotaName).map((q) => q.quotaName)
    ops.push(
      {
        service: 'servicequotas',
        operation: 'ListServiceQuotas',
        input: { ServiceCode: code, MaxResults: 100 },
        note: `preflight: ${names.join(', ')} (every page)`,
      },
      {
        service: 'servicequotas',
        operation: 'ListAWSDefaultServiceQuotas',
        input: { ServiceCode: code, MaxResults: 100 },
        note: 'preflight: quotas never changed have only a default',
      },
    )
  }
  for (const q of quotas.filter((n) => n.quotaCode)) {
    const input = { ServiceCode: q.serviceCode, QuotaCode: q.quotaCode }
    ops.push(
      { service: 'servicequotas', operation: 'GetServiceQuota', input, note: `preflight: ${q.why}` },
      { service: 'servicequotas', operation: 'GetAWSDefaultServiceQuota', input, note: 'preflight: when the quota was never changed' },
    )
  }
  return ops
}

/** The preflight's own reads and the calls every identity may make are not simulated; the Price List falls back to a table. */
const NOT_SIMULATED = /^(sts:|servicequotas:|pricing:|iam:SimulatePrincipalPolicy$)/

/** Where an ARN is built: the caller's account and the command's region. */
export interface ArnScope {
  readonly partition: string
  readonly region: string
  readonly accountId: string
}

/** The IAM actions and resources a plan needs, each once, resources from the inputs where derivable (else "*"). */
export function permissionChecks(ops: readonly PlannedOperation[], scope: ArnScope): { action: string; resource: string }[] {
  const seen = new Set<string>()
  const out: { action: string; resource: string }[] = []
  const add = (action: string, resource: string) => {
    if (seen.has(`${action} ${resource}`)) return
    seen.add(`${action} ${resource}`)
    out.push({ action, resource })
  }
  for (const op of ops) {
    for (const action of iamActionsOf(op.service, op.operation)) {
      if (!NOT_SIMULATED.test(action)) add(action, resourceArnOf(action, op.input, scope))
    }
    if (NOT_SIMULATED.test(`${op.service}:${op.operation}`)) continue
    // A request that hands AWS a role (CreateTrainingJob's RoleArn, CreateModel's ExecutionRoleArn,
    // CreateFunction's Role, RunInstances' instance profile aside) needs iam:PassRole on that role.
    for (const role of passedRoles(op.input, scope)) add('iam:PassRole', role)
  }
  return out
}

/** Role ARNs a request passes to a service, with the plan's account placeholder filled in. */
function passedRoles(input: unknown, scope: ArnScope): string[] {
  const i = (input ?? {}) as Record<string, unknown>
  return ['RoleArn', 'ExecutionRoleArn', 'Role']
    .map((k) => i[k])
    .filter((v): v is string => typeof v === 'string' && /^arn:[^:]+:iam::[^:]*:role\//.test(v))
    .map((v) => v.replaceAll(PLACEHOLDER.accountId, scope.accountId))
    .filter((v) => !v.includes('<'))
}

/** The resource ARN a request acts on, from its input; "*" where it cannot be told (or holds a placeholder). */
export function resourceArnOf(action: string, input: unknown, s: ArnScope): string {
  const i = (input ?? {}) as Record<string, unknown>
  const str = (k: string) => {
    const v = typeof i[k] === 'string' ? (i[k] as string).replaceAll(PLACEHOLDER.accountId, s.accountId) : undefined
    return v && !v.includes('<') ? v : undefined
  }
  const [service, operation = ''] = action.split(':')
  const regional = (svc: string, rest: string) => `arn:${s.partition}:${svc}:${s.region}:${s.accountId}:${rest}`
  if (service === 's3') {
    const bucket = str('Bucket')
    if (!bucket) return '*'
    const key = str('Key')
    return key && !/Bucket/.test(operation) && operation !== 'ListBucket' ? `arn:${s.partition}:s3:::${bucket}/${key}` : `arn:${s.partition}:s3:::${bucket}`
  }
  if (service === 'sagemaker') {
    // AddTags, ListTags, DeleteTags name the resource by ARN.
    const arn = str('ResourceArn')
    if (arn?.startsWith('arn:')) return arn
    const sm: [RegExp, string, string][] = [
      [/EndpointConfig/, 'EndpointConfigName', 'endpoint-config'],
      [/Endpoint/, 'EndpointName', 'endpoint'],
      [/Model/, 'ModelName', 'model'],
      [/HyperParameterTuningJob/, 'HyperParameterTuningJobName', 'hyper-parameter-tuning-job'],
      [/TrainingJob/, 'TrainingJobName', 'training-job'],
    ]
    for (const [re, field, type] of sm) {
      if (!re.test(operation)) continue
      const name = str(field)
      return name ? regional('sagemaker', `${type}/${name.toLowerCase()}`) : '*'
    }
    return '*'
  }
  if (service === 'iam') {
    const role = str('RoleName')
    return role ? `arn:${s.partition}:iam::${s.accountId}:role/${role}` : '*'
  }
  if (service === 'lambda') {
    const fn = str('FunctionName')
    if (!fn) return '*'
    return fn.startsWith('arn:') ? fn : regional('lambda', `function:${fn}`)
  }
  if (service === 'logs') {
    const group = str('logGroupName')
    return group ? regional('logs', `log-group:${group}:*`) : '*'
  }
  return '*'
}

/** "needs" after one thing ("1 × ml.g5.xlarge ...", "a warm pool ..."), "need" after several. */
export function needVerb(need: QuotaNeed): string {
  return /^(1 ×|a )/.test(need.why) ? 'needs' : 'need'
}

/** The refusal for what the preflight found, or undefined when nothing stands in the way. */
export function preflightRefusal(report: PreflightReport, command: string): UserError | undefined {
  const { quotaShortfalls: short } = report
  const denials = provenDenials(report)
  if (short.length === 0 && denials.length === 0) return undefined
  const lines: string[] = [`${command}: the preflight found what AWS would refuse; nothing was created.`]
  const fixes: string[] = []
  for (const s of short) {
    lines.push(`  • Service Quotas: "${s.name}" (${s.code}) is ${s.applied} in ${report.region}; ${s.need.why} ${needVerb(s.need)} ${s.need.needed}.`)
    fixes.push(
      `request an increase: aws service-quotas request-service-quota-increase --service-code ${s.need.serviceCode} --quota-code ${s.code} --desired-value ${s.need.needed} --region ${report.region}`,
    )
  }
  if (denials.length) {
    const who = report.principalArn ?? 'the caller'
    for (const d of denials) lines.push(`  • ${who} may not ${d.action} on ${d.resource} (${d.decision}).`)
    const byResource = new Map<string, string[]>()
    for (const d of denials) byResource.set(d.resource, [...(byResource.get(d.resource) ?? []), d.action])
    const statements = [...byResource].map(([resource, actions]) => JSON.stringify({ Effect: 'Allow', Action: actions, Resource: resource }))
    fixes.push(`add to the policy of ${who}: ${statements.join(', ')}`)
  }
  return new UserError('PreflightRefused', lines.join('\n'), {
    hint: `${fixes.join('\n  ')}\n  ${short.length ? '(or pick another instance type) ' : ''}--no-preflight skips these checks.`,
    details: { quotas: short.map((s) => ({ name: s.name, code: s.code, needed: s.need.needed, applied: s.applied })), denials },
  })
}

/**
 * Denials that prove a refusal. An implicitDeny on "*" (a request whose resource the plan cannot
 * name, e.g. a scalable target) proves nothing: a policy scoped to the real resource allows the
 * call and still does not match "*". An explicitDeny does match, so it counts.
 */
export function provenDenials(report: Pick<PreflightReport, 'denials'>): PreflightReport['denials'] {
  return report.denials.filter((d) => d.resource !== '*' || d.decision === 'explicitDeny')
}

/** Actions with no resource ARN that the simulation did not allow on "*": unproven either way. */
export function unprovenDenials(report: Pick<PreflightReport, 'denials'>): string[] {
  return [...new Set(report.denials.filter((d) => d.resource === '*' && d.decision !== 'explicitDeny').map((d) => d.action))]
}

/** One warning for the checks that could not run or prove anything: a check that cannot run is not a failure. */
export function preflightSkippedWarning(report: PreflightReport): string | undefined {
  const unproven = unprovenDenials(report)
  const reasons = [
    ...report.skipped,
    ...(unproven.length ? [`${unproven.join(', ')} not allowed on "*", and the plan names no resource to try (a scoped policy may allow them)`] : []),
  ]
  if (reasons.length === 0) return undefined
  return `Preflight could not check everything (${reasons.join('; ')}); going on without it.`
}
