import { endpointArn } from './roles/lambda-role.js'
import type { PolicyDocument, RoleTarget } from './roles/policy.js'

/**
 * The idle stop of an endpoint (`deploy --idle-stop 2h`, `endpoint.idleStop`): names, the alarm, and
 * the reaper's least-privilege policy, in one place for deploy (creates), status (shows) and teardown
 * (removes).
 *
 * A CloudWatch alarm on AWS/SageMaker Invocations (Sum < 1 over the idle time, missing data
 * breaching: an endpoint nobody calls publishes no datapoints) notifies an SNS topic; a small Lambda
 * subscribed to it deletes the endpoint and nothing else. The endpoint config and model stay, so
 * `mlops deploy` brings the endpoint back.
 */

/** Resource names, all from the endpoint name (at most 63 characters, so each fits in 64). */
export function idleStopNames(endpointName: string) {
  const base = `${endpointName.slice(0, 53)}-idle-stop`
  return { alarm: base, topic: base, function: base, role: base, policy: 'mlops-idle-stop' } as const
}

/** The CloudWatch period (at most 1 hour, a multiple of 60 s) and periods that add up to the idle time exactly. */
export function idlePeriods(idleSeconds: number): { period: number; evaluationPeriods: number; idleSeconds: number } {
  const idle = Math.ceil(idleSeconds / 60) * 60
  let period = 60
  for (let p = Math.min(3600, idle); p >= 60; p -= 60) {
    if (idle % p === 0) {
      period = p
      break
    }
  }
  return { period, evaluationPeriods: idle / period, idleSeconds: idle }
}

/** PutMetricAlarm's input (plain values; the SNS topic ARN is the alarm action). */
export function idleAlarmInput(endpointName: string, idleSeconds: number, topicArn: string, tags: readonly { Key: string; Value: string }[]) {
  const { period, evaluationPeriods, idleSeconds: idle } = idlePeriods(idleSeconds)
  return {
    AlarmName: idleStopNames(endpointName).alarm,
    AlarmDescription: `mlops idle stop: delete endpoint ${endpointName} after ${idle} s without an invocation (its config and model stay; mlops deploy restores it)`,
    Namespace: 'AWS/SageMaker',
    MetricName: 'Invocations',
    Dimensions: [
      { Name: 'EndpointName', Value: endpointName },
      { Name: 'VariantName', Value: 'AllTraffic' },
    ],
    Statistic: 'Sum' as const,
    Period: period,
    EvaluationPeriods: evaluationPeriods,
    DatapointsToAlarm: evaluationPeriods,
    Threshold: 1,
    ComparisonOperator: 'LessThanThreshold' as const,
    // An endpoint nobody calls publishes no Invocations datapoints at all: missing means idle.
    TreatMissingData: 'breaching',
    ActionsEnabled: true,
    AlarmActions: [topicArn],
    Tags: [...tags],
  }
}

/**
 * The reaper may delete this one endpoint, deregister SageMaker variant autoscaling (which deleting
 * an autoscaled endpoint needs), and write its own logs; nothing else.
 */
export function reaperPolicy(p: RoleTarget & { endpointName: string; functionName: string }): PolicyDocument {
  const logGroup = `arn:${p.partition}:logs:${p.region}:${p.accountId}:log-group:/aws/lambda/${p.functionName}`
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DeleteThisEndpointOnly',
        Effect: 'Allow',
        Action: 'sagemaker:DeleteEndpoint',
        Resource: endpointArn(p.endpointName, p),
      },
      {
        // A scalable target's ARN ends in an opaque ID, not the endpoint name, so the narrowest
        // grant is SageMaker variant targets of this account and region.
        Sid: 'DeregisterEndpointScaling',
        Effect: 'Allow',
        Action: 'application-autoscaling:DeregisterScalableTarget',
        Resource: `arn:${p.partition}:application-autoscaling:${p.region}:${p.accountId}:scalable-target/*`,
        Condition: {
          StringEquals: {
            'application-autoscaling:service-namespace': 'sagemaker',
            'application-autoscaling:scalable-dimension': 'sagemaker:variant:DesiredInstanceCount',
          },
        },
      },
      // CloudWatch Logs authorises CreateLogGroup against `log-group:<name>:log-stream:`, which the
      // bare log-group ARN does not match: `<name>:*` is the ARN that lets the reaper log at all.
      { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `${logGroup}:*` },
    ],
  }
}

/** The reaper's environment: what it may act on. */
export function reaperEnvironment(endpointName: string): Record<string, string> {
  return { ENDPOINT_NAME: endpointName, ALARM_NAME: idleStopNames(endpointName).alarm }
}
