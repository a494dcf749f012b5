import {
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
  type CloudWatchClient,
  type PutMetricAlarmCommandInput,
} from '@aws-sdk/client-cloudwatch'
import { callAws } from '../error-translation.js'

/** CloudWatch metric alarms: create-or-replace, look up, delete. */

export interface AlarmInfo {
  readonly name: string
  readonly arn?: string
  /** OK, ALARM or INSUFFICIENT_DATA. */
  readonly state?: string
  readonly period?: number
  readonly evaluationPeriods?: number
  readonly actions: readonly string[]
}

const ctx = (operation: string, resource: string) => ({ service: 'cloudwatch', operation, resource })

/** PutMetricAlarm creates the alarm or replaces it whole, so a re-run converges. */
export async function putAlarm(cw: CloudWatchClient, input: PutMetricAlarmCommandInput): Promise<void> {
  await callAws(ctx('PutMetricAlarm', `alarm/${input.AlarmName}`), () => cw.send(new PutMetricAlarmCommand(input)))
}

/** SetAlarmState's input that puts an alarm back to OK (it is evaluated again at its next period). */
export function alarmOkInput(name: string, reason: string) {
  return { AlarmName: name, StateValue: 'OK' as const, StateReason: reason }
}

/**
 * Puts the alarm back to OK. PutMetricAlarm on an existing alarm keeps its state, and an alarm
 * notifies only when its state changes: one left in ALARM would never fire again.
 */
export async function resetAlarm(cw: CloudWatchClient, name: string, reason: string): Promise<void> {
  await callAws(ctx('SetAlarmState', `alarm/${name}`), () => cw.send(new SetAlarmStateCommand(alarmOkInput(name, reason))))
}

export async function describeAlarm(cw: CloudWatchClient, name: string): Promise<AlarmInfo | undefined> {
  const out = await callAws(ctx('DescribeAlarms', `alarm/${name}`), () =>
    cw.send(new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm'] })),
  )
  const a = out.MetricAlarms?.find((m) => m.AlarmName === name)
  if (!a) return undefined
  return {
    name,
    ...(a.AlarmArn ? { arn: a.AlarmArn } : {}),
    ...(a.StateValue ? { state: a.StateValue } : {}),
    ...(a.Period !== undefined ? { period: a.Period } : {}),
    ...(a.EvaluationPeriods !== undefined ? { evaluationPeriods: a.EvaluationPeriods } : {}),
    actions: a.AlarmActions ?? [],
  }
}

/** Deletes the alarm; false when there was none (DeleteAlarms itself does not say). */
export async function deleteAlarm(cw: CloudWatchClient, name: string): Promise<boolean> {
  if (!(await describeAlarm(cw, name))) return false
  await callAws(ctx('DeleteAlarms', `alarm/${name}`), () => cw.send(new DeleteAlarmsCommand({ AlarmNames: [name] })))
  return true
}
