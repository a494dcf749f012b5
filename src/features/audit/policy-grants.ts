import { iamActionsOf } from '../../shared/iam-actions.js'
import { mlopsWritePrefixes, resourceNames, TAG_PROJECT } from '../../shared/naming.js'
import type { MlopsConfig } from '../../config/schema.js'

/**
 * From one planned request (`{service, operation, input}` of a --dry-run plan) to the IAM grants it
 * needs: the action(s), the resources scoped to the project's names and ARNs, and any condition.
 * SDK operation names are not IAM action names (sagemaker-runtime InvokeEndpoint is
 * sagemaker:InvokeEndpoint, ListObjectsV2 and HeadBucket are s3:ListBucket, HeadObject is
 * s3:GetObject, a multipart PutObject needs s3:AbortMultipartUpload), and some requests need more
 * than their own action (a Create* with Tags needs the service's tagging action, a role in a request
 * needs iam:PassRole, autoscaling a SageMaker variant needs the CloudWatch alarms and the
 * endpoint's weights). This table is the one place that knows.
 */

/** A planned request as --dry-run --json prints it. */
export interface PlanEntry {
  readonly service: string
  readonly operation: string
  readonly input?: unknown
}

/** One action on some resources, under an optional condition. */
export interface Grant {
  readonly action: string
  readonly resources: readonly string[]
  readonly condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>
}

/** What the resource patterns derive from: the config, region, account and partition. */
export interface GrantScope {
  readonly cfg: MlopsConfig
  readonly region: string
  /** 12 digits, or `*` when unknown (the account is then named by the caller's own identity). */
  readonly account: string
  readonly partition: string
}

type Input = Record<string, unknown>

/** Requests that need no permission at all (AWS: "No permissions are required to perform this operation"). */
export const NO_PERMISSION_NEEDED = new Set(['sts:GetCallerIdentity'])

const isPlaceholder = (v: unknown): boolean => typeof v !== 'string' || v.includes('<')

/** The S3 operations on objects (the rest are bucket-level); their action names come from shared/iam-actions.ts. */
const OBJECT_OPS = new Set(['HeadObject', 'GetObject', 'PutObject', 'DeleteObject', 'DeleteObjects', 'CopyObject'])

/** The sagemaker request fields that name a resource, and its ARN type. */
const SAGEMAKER_NAMES: readonly [string, string][] = [
  ['TrainingJobName', 'training-job'],
  ['HyperParameterTuningJobName', 'hyper-parameter-tuning-job'],
  ['ModelName', 'model'],
  ['EndpointConfigName', 'endpoint-config'],
  ['EndpointName', 'endpoint'],
]

/** Service principal that receives each role mlops passes, found in the request that passes it. */
const PASSED_TO = { sagemaker: 'sagemaker.amazonaws.com', lambda: 'lambda.amazonaws.com', ec2: 'ec2.amazonaws.com' } as const

export class GrantBuilder {
  private readonly names: ReturnType<typeof resourceNames>
  private readonly project: string
  private readonly bucket: string
  private readonly prefixes: string[]

  constructor(private readonly scope: GrantScope) {
    this.names = resourceNames(scope.cfg)
    this.project = scope.cfg.project.name
    this.bucket = scope.cfg.data.bucket
    const w = mlopsWritePrefixes(scope.cfg)
    this.prefixes = [...new Set([dataPrefix(scope.cfg), w.code, w.models, w.output, w.checkpoints])]
  }

  private arn(service: string, resource: string, { region = true, account = true } = {}): string {
    return `arn:${this.scope.partition}:${service}:${region ? this.scope.region : ''}:${account ? this.scope.account : ''}:${resource}`
  }

  private withAccount(arn: string): string {
    return arn.replaceAll('<account-id>', this.scope.account)
  }

  /** The grants one planned request needs. Throws on a service this table does not know (a test walks every plan). */
  grantsFor(op: PlanEntry): Grant[] {
    const key = `${op.service}:${op.operation}`
    if (NO_PERMISSION_NEEDED.has(key)) return []
    const input = (op.input ?? {}) as Input
    switch (op.service) {
      case 's3':
        return this.s3(op.operation, input)
      case 'sagemaker':
      case 'sagemaker-runtime':
        return this.sagemaker(op.operation, input)
      case 'iam':
        return this.iam(op.operation, input)
      case 'ec2':
        return this.ec2(op.operation, input)
      case 'ssm':
        return this.ssm(op.operation, input)
      case 'logs':
        return this.logs(op.operation, input)
      case 'lambda':
        return this.lambda(op.operation, input)
      case 'sns':
        return this.sns(op.operation, input)
      case 'events':
        return this.events(op.operation, input)
      case 'cloudwatch':
        return this.cloudwatch(op.operation, input)
      case 'application-autoscaling':
        return this.autoscaling(op.operation)
      case 'pricing':
        return [{ action: `pricing:${op.operation}`, resources: ['*'] }]
      case 'servicequotas':
        // The preflight's quota reads (List/Get[AWSDefault]ServiceQuota[s]): read-only, any quota.
        return [{ action: `servicequotas:${op.operation}`, resources: ['*'] }]
      default:
        throw new Error(`internal: no IAM mapping for ${key}`)
    }
  }

  private s3(operation: string, input: Input): Grant[] {
    const actions = iamActionsOf('s3', operation)
    const bucket = typeof input.Bucket === 'string' && !isPlaceholder(input.Bucket) ? input.Bucket : this.bucket
    let resources: string[]
    if (OBJECT_OPS.has(operation)) {
      const key = input.Key
      const keys = operation === 'DeleteObjects' || isPlaceholder(key) ? this.prefixes.map((p) => `${p}*`) : [this.keyPattern(key as string)]
      resources = keys.map((k) => this.arn('s3', `${bucket}/${k}`, { region: false, account: false }))
    } else resources = [this.arn('s3', bucket, { region: false, account: false })]
    const out: Grant[] = actions.map((action) => ({ action, resources }))
    out.push(...this.s3Kms(operation, input))
    // CreateBucket with ObjectOwnership sets the ownership controls in the same request.
    if (operation === 'CreateBucket' && input.ObjectOwnership) out.push({ action: 's3:PutBucketOwnershipControls', resources })
    return out
  }

  /**
   * With data.kmsKeyId, objects are written with SSE-KMS (and the bucket's default is that key): the
   * caller needs the key to write (GenerateDataKey, and Decrypt for multipart) and to read, through S3 only.
   */
  private s3Kms(operation: string, input: Input): Grant[] {
    const key = typeof input.SSEKMSKeyId === 'string' ? input.SSEKMSKeyId : this.scope.cfg.data.kmsKeyId
    if (!key || !OBJECT_OPS.has(operation) || operation === 'DeleteObjects') return []
    const keyArn = key.startsWith('arn:') ? key : this.arn('kms', key.startsWith('alias/') ? key : `key/${key}`)
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${this.scope.region}.amazonaws.com` } }
    const writes = operation === 'PutObject' || operation === 'CopyObject'
    return (writes ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:Decrypt']).map((action) => ({ action, resources: [keyArn], condition: viaS3 }))
  }

  /** A key under one of the project's prefixes becomes that prefix's wildcard; any other key stays exact. */
  private keyPattern(key: string): string {
    const prefix = this.prefixes.filter((p) => p !== '' && key.startsWith(p)).sort((a, b) => b.length - a.length)[0]
    if (prefix !== undefined) return `${prefix}*`
    // A dataset at the bucket's root: its keys have no prefix of their own.
    return this.prefixes.includes('') ? '*' : key
  }

  /** Every name pattern of a SageMaker resource type in this project. */
  private sagemakerPatterns(type: string): string[] {
    const n = this.names
    const tuning = `${n.tuningJobBase.replace(/-+$/, '')}-*`
    const byType: Record<string, string[]> = {
      'training-job': [...new Set([`${n.trainingJobBase}-*`, tuning])],
      'hyper-parameter-tuning-job': [tuning],
      model: [`${n.modelBase}-*`],
      'endpoint-config': [`${n.endpointConfigBase}-*`],
      endpoint: [n.endpoint],
    }
    // SageMaker ARNs carry names in lower case.
    return (byType[type] ?? []).map((name) => this.arn('sagemaker', `${type}/${name.toLowerCase()}`))
  }

  private sagemaker(operation: string, input: Input): Grant[] {
    const action = `sagemaker:${operation}`
    let resources: string[] = []
    if (operation === 'ListTags' || operation === 'AddTags') {
      resources = ['training-job', 'hyper-parameter-tuning-job', 'model', 'endpoint-config', 'endpoint'].flatMap((t) => this.sagemakerPatterns(t))
    } else if (!operation.startsWith('List')) {
      for (const [field, type] of SAGEMAKER_NAMES) if (field in input) resources.push(...this.sagemakerPatterns(type))
      // The name field of the operation's own type wins: CreateEndpoint names its config too, and is
      // authorised on both; CreateEndpointConfig names models it does not act on.
      if (operation.endsWith('EndpointConfig')) resources = this.sagemakerPatterns('endpoint-config')
      else if (operation.endsWith('Model')) resources = this.sagemakerPatterns('model')
      else if (operation.endsWith('TrainingJob')) resources = this.sagemakerPatterns('training-job')
      else if (operation.endsWith('HyperParameterTuningJob')) resources = this.sagemakerPatterns('hyper-parameter-tuning-job')
    }
    const out: Grant[] = [{ action, resources: resources.length > 0 ? resources : ['*'] }]
    // Tags on a Create* are authorised as sagemaker:AddTags on the new resource.
    if (operation.startsWith('Create') && Array.isArray(input.Tags) && input.Tags.length > 0)
      out.push({ action: 'sagemaker:AddTags', resources: out[0].resources })
    const def = input.TrainingJobDefinition as Input | undefined
    for (const role of [input.RoleArn, input.ExecutionRoleArn, def?.RoleArn]) if (typeof role === 'string') out.push(this.passRole(role, PASSED_TO.sagemaker))
    if (operation === 'DeleteEndpoint') {
      // Deleting an autoscaled endpoint deregisters its scalable target with the caller's permissions.
      out.push({ action: 'application-autoscaling:DeregisterScalableTarget', resources: ['*'] })
    }
    return out
  }

  private passRole(roleArn: string, service: string): Grant {
    return { action: 'iam:PassRole', resources: [this.withAccount(roleArn)], condition: { StringEquals: { 'iam:PassedToService': service } } }
  }

  private role(name: string): string {
    return this.arn('iam', `role/${name}`, { region: false })
  }

  private iam(operation: string, input: Input): Grant[] {
    const action = `iam:${operation}`
    if (operation === 'GetAccountAuthorizationDetails') return [{ action, resources: ['*'] }]
    // The preflight reads the caller itself: its own permissions, and for an assumed-role session its
    // role's path. Who runs mlops is not known here, so any user or role of the account (both reads).
    if (operation === 'SimulatePrincipalPolicy') return [{ action, resources: [this.arn('iam', 'user/*', { region: false }), this.role('*')] }]
    if (operation === 'GetRole' && input.RoleName === '<role-of-the-session>') return [{ action, resources: [this.role('*')] }]
    if (operation === 'GetPolicy' || operation === 'GetPolicyVersion') {
      // audit-iam reads the AWS managed policies attached to the project's roles.
      return [{ action, resources: [`arn:${this.scope.partition}:iam::aws:policy/*`] }]
    }
    const resources: string[] = []
    if ('RoleName' in input) resources.push(this.role(`${this.project}-*`))
    if ('InstanceProfileName' in input) resources.push(this.arn('iam', `instance-profile/${this.project}-*`, { region: false }))
    const out: Grant[] = [{ action, resources: resources.length > 0 ? resources : [this.role(`${this.project}-*`)] }]
    if (operation === 'AttachRolePolicy' && typeof input.PolicyArn === 'string' && !isPlaceholder(input.PolicyArn)) {
      // Only the managed policies mlops attaches.
      return [{ ...out[0], condition: { ArnEquals: { 'iam:PolicyARN': [input.PolicyArn] } } }]
    }
    if (operation === 'CreateInstanceProfile' && Array.isArray(input.Tags)) out.push({ action: 'iam:TagInstanceProfile', resources: out[0].resources })
    if (operation === 'CreateRole' && Array.isArray(input.Tags)) out.push({ action: 'iam:TagRole', resources: out[0].resources })
    return out
  }

  private ec2(operation: string, input: Input): Grant[] {
    const action = `ec2:${operation}`
    const ec2 = (r: string) => this.arn('ec2', r)
    const owned = { StringEquals: { [`aws:ResourceTag/${TAG_PROJECT}`]: this.project } }
    if (operation.startsWith('Describe')) return [{ action, resources: ['*'] }]
    if (operation === 'RunInstances') {
      const spot = input.InstanceMarketOptions !== undefined
      const created = [ec2('instance/*'), ec2('volume/*'), ec2('network-interface/*'), ...(spot ? [ec2('spot-instances-request/*')] : [])]
      const out: Grant[] = [
        { action, resources: [...created, ec2('security-group/*'), ec2('subnet/*'), this.arn('ec2', 'image/*', { account: false })] },
        { action: 'ec2:CreateTags', resources: created, condition: { StringEquals: { 'ec2:CreateAction': 'RunInstances' } } },
      ]
      const profile = (input.IamInstanceProfile as Input | undefined)?.Name
      if (typeof profile === 'string') out.push(this.passRole(this.role(this.names.ec2Role), PASSED_TO.ec2))
      return out
    }
    if (operation === 'CreateSecurityGroup') {
      return [
        { action, resources: [ec2('security-group/*'), ec2('vpc/*')] },
        { action: 'ec2:CreateTags', resources: [ec2('security-group/*')], condition: { StringEquals: { 'ec2:CreateAction': 'CreateSecurityGroup' } } },
      ]
    }
    if (operation === 'TerminateInstances') return [{ action, resources: [ec2('instance/*')], condition: owned }]
    if (operation === 'DeleteSecurityGroup') return [{ action, resources: [ec2('security-group/*')], condition: owned }]
    throw new Error(`internal: no IAM mapping for ec2:${operation}`)
  }

  private ssm(operation: string, input: Input): Grant[] {
    const action = `ssm:${operation}`
    if (operation === 'GetParameter' && typeof input.Name === 'string') {
      // The public Deep Learning AMI parameters live in no account.
      return [{ action, resources: [this.arn('ssm', `parameter${input.Name}`, { account: false })] }]
    }
    // The notification webhook's SecureString (`--notify https://...`): its one parameter.
    if (['PutParameter', 'DeleteParameter', 'AddTagsToResource'].includes(operation)) {
      const name = typeof input.Name === 'string' ? input.Name : typeof input.ResourceId === 'string' ? input.ResourceId : `/mlops/${this.project}/*`
      return [{ action, resources: [this.arn('ssm', `parameter${name.startsWith('/') ? '' : '/'}${name}`)] }]
    }
    if (operation === 'SendCommand') {
      const doc = typeof input.DocumentName === 'string' ? input.DocumentName : 'AWS-RunShellScript'
      return [
        { action, resources: [this.arn('ssm', `document/${doc}`, { account: false })] },
        // The box is the project's: the condition sits in its own grant, as the document has no tags.
        { action, resources: [this.arn('ec2', 'instance/*')], condition: { StringEquals: { [`ssm:resourceTag/${TAG_PROJECT}`]: this.project } } },
      ]
    }
    return [{ action, resources: ['*'] }]
  }

  private logGroup(name: string): string[] {
    // Log group ARNs end in `:*` where the action acts on the group; the bare form matches nothing for some.
    return [this.arn('logs', `log-group:${name}`), this.arn('logs', `log-group:${name}:*`)]
  }

  private logs(operation: string, input: Input): Grant[] {
    const action = `logs:${operation}`
    const group = typeof input.logGroupName === 'string' ? input.logGroupName : undefined
    if (operation === 'DescribeLogGroups' || !group) return [{ action, resources: ['*'] }]
    if (operation === 'GetLogEvents') return [{ action, resources: [this.arn('logs', `log-group:${group}:log-stream:*`)] }]
    // FilterLogEvents' resource type is the log group (the Service Authorization Reference); the
    // stream pattern is kept too, since CloudWatch Logs has authorised group actions against it.
    if (operation === 'FilterLogEvents')
      return [{ action, resources: [this.arn('logs', `log-group:${group}`), this.arn('logs', `log-group:${group}:log-stream:*`)] }]
    const resources = this.logGroup(group)
    const out: Grant[] = [{ action, resources }]
    if (operation === 'CreateLogGroup' && input.tags) out.push({ action: 'logs:TagResource', resources }, { action: 'logs:TagLogGroup', resources })
    return out
  }

  private lambdaFunction(name: string): string[] {
    const fn = name.startsWith('arn:') ? name.split(':')[6] : name
    return [this.arn('lambda', `function:${fn}`), this.arn('lambda', `function:${fn}:*`)]
  }

  private lambda(operation: string, input: Input): Grant[] {
    const [action] = iamActionsOf('lambda', operation)
    const name = typeof input.FunctionName === 'string' ? input.FunctionName : typeof input.Resource === 'string' ? input.Resource : undefined
    if (!name) return [{ action, resources: ['*'] }]
    const resources = this.lambdaFunction(this.withAccount(name))
    const out: Grant[] = [{ action, resources }]
    if (operation === 'CreateFunction' && input.Tags) out.push({ action: 'lambda:TagResource', resources })
    if (typeof input.Role === 'string') out.push(this.passRole(input.Role, PASSED_TO.lambda))
    return out
  }

  private sns(operation: string, input: Input): Grant[] {
    const action = `sns:${operation}`
    if (operation === 'ListTopics') return [{ action, resources: ['*'] }]
    const topic =
      typeof input.TopicArn === 'string'
        ? this.withAccount(input.TopicArn)
        : typeof input.Name === 'string'
          ? this.arn('sns', input.Name)
          : this.arn('sns', `${this.project}-*`)
    const out: Grant[] = [{ action, resources: [topic] }]
    if (operation === 'CreateTopic' && Array.isArray(input.Tags)) out.push({ action: 'sns:TagResource', resources: [topic] })
    return out
  }

  /** EventBridge rules of the project's run notifications, on the default bus (ListRules has no resource). */
  private events(operation: string, input: Input): Grant[] {
    const action = `events:${operation}`
    if (operation === 'ListRules') return [{ action, resources: ['*'] }]
    const name = typeof input.Name === 'string' ? input.Name : typeof input.Rule === 'string' ? input.Rule : `${this.project}-notify-*`
    const resources = [this.arn('events', `rule/${name}`)]
    const out: Grant[] = [{ action, resources }]
    if (operation === 'PutRule' && Array.isArray(input.Tags)) out.push({ action: 'events:TagResource', resources })
    return out
  }

  private alarms(names: readonly string[]): string[] {
    return names.map((n) => this.arn('cloudwatch', `alarm:${n}`))
  }

  private cloudwatch(operation: string, input: Input): Grant[] {
    const action = `cloudwatch:${operation}`
    const names = Array.isArray(input.AlarmNames)
      ? (input.AlarmNames as string[])
      : typeof input.AlarmName === 'string'
        ? [input.AlarmName]
        : [`${this.project}-*`]
    const out: Grant[] = [{ action, resources: this.alarms(names) }]
    if (operation === 'PutMetricAlarm' && Array.isArray(input.Tags)) out.push({ action: 'cloudwatch:TagResource', resources: out[0].resources })
    return out
  }

  /**
   * Application Auto Scaling names targets by generated IDs (no ARN to scope by), and acts on the
   * endpoint and on target-tracking alarms with the caller's permissions.
   * https://docs.aws.amazon.com/autoscaling/application/userguide/security_iam_id-based-policy-examples.html
   */
  private autoscaling(operation: string): Grant[] {
    const action = `application-autoscaling:${operation}`
    const out: Grant[] = [{ action, resources: ['*'] }]
    const endpoint = this.sagemakerPatterns('endpoint')
    const trackingAlarms = this.alarms([`TargetTracking-endpoint/${this.names.endpoint}/*`])
    if (operation === 'RegisterScalableTarget') {
      out.push(
        { action: 'sagemaker:DescribeEndpoint', resources: endpoint },
        { action: 'sagemaker:DescribeEndpointConfig', resources: this.sagemakerPatterns('endpoint-config') },
        { action: 'sagemaker:UpdateEndpointWeightsAndCapacities', resources: endpoint },
        {
          action: 'iam:CreateServiceLinkedRole',
          resources: [
            this.arn('iam', 'role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint', {
              region: false,
            }),
          ],
          condition: { StringEquals: { 'iam:AWSServiceName': 'sagemaker.application-autoscaling.amazonaws.com' } },
        },
      )
    }
    if (operation === 'PutScalingPolicy')
      out.push(...['PutMetricAlarm', 'DescribeAlarms', 'DeleteAlarms'].map((a) => ({ action: `cloudwatch:${a}`, resources: trackingAlarms })))
    if (operation === 'DeleteScalingPolicy' || operation === 'DeregisterScalableTarget')
      out.push(...['DescribeAlarms', 'DeleteAlarms'].map((a) => ({ action: `cloudwatch:${a}`, resources: trackingAlarms })))
    return out
  }
}

/** The dataset's key prefix with a trailing slash ('' for the bucket's root). */
function dataPrefix(cfg: MlopsConfig): string {
  const p = cfg.data.prefix ?? ''
  return p === '' || p.endsWith('/') ? p : `${p}/`
}
