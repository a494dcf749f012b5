import { buildPolicyInput, buildRegisterInput, type ScalingSettings } from '../../aws/autoscaling/scaling.js'
import type { PlannedOperation } from '../../shared/plan.js'

/** The requests of `mlops scale`, built without clients so --dry-run and the run share them. Pure. */

/** AWS keeps this many executions unreserved (or the whole limit, when it is lower). */
export const MIN_UNRESERVED = 100

/** The two requests that set autoscaling (both idempotent). */
export function planScaling(s: ScalingSettings): PlannedOperation[] {
  return [
    { service: 'application-autoscaling', operation: 'RegisterScalableTarget', input: buildRegisterInput(s) },
    { service: 'application-autoscaling', operation: 'PutScalingPolicy', input: buildPolicyInput(s) },
  ]
}

/** Every request of a Lambda concurrency change, in order, with full inputs. Pure. */
export function planLambdaScale(functionName: string, alias: string, reserved: number | null | undefined, provisioned: number | undefined): PlannedOperation[] {
  const q = { FunctionName: functionName, Qualifier: alias }
  const ops: PlannedOperation[] = [
    { service: 'lambda', operation: 'GetAlias', input: { FunctionName: functionName, Name: alias }, note: 'must exist: `mlops lambda-setup` creates it' },
    { service: 'lambda', operation: 'GetAccountSettings', input: {}, note: `preflight: at least ${MIN_UNRESERVED} executions must stay unreserved` },
    { service: 'lambda', operation: 'GetFunctionConcurrency', input: { FunctionName: functionName } },
    { service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', input: q, note: 'current value (not found: none)' },
  ]
  if (provisioned !== undefined && provisioned > 0) {
    ops.push({ service: 'lambda', operation: 'GetFunctionConfiguration', input: q, note: 'memory size, for the cost' })
  }
  if (reserved === null) {
    ops.push({ service: 'lambda', operation: 'DeleteFunctionConcurrency', input: { FunctionName: functionName }, note: 'only if a reservation is set' })
  } else if (reserved !== undefined) {
    ops.push({
      service: 'lambda',
      operation: 'PutFunctionConcurrency',
      input: { FunctionName: functionName, ReservedConcurrentExecutions: reserved },
      note: 'only if it differs',
    })
  }
  if (provisioned !== undefined && provisioned > 0) {
    ops.push(
      {
        service: 'lambda',
        operation: 'PutProvisionedConcurrencyConfig',
        input: { ...q, ProvisionedConcurrentExecutions: provisioned },
        note: 'only if it differs',
      },
      { service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', input: q, note: 'poll until Status is READY' },
    )
  } else if (provisioned === 0) {
    ops.push({ service: 'lambda', operation: 'DeleteProvisionedConcurrencyConfig', input: q, note: 'only if one is configured' })
  }
  return ops
}
