import type { CommandOutcome } from '../../aws/ssm/run-command.js'
import { OperationError } from '../../shared/errors.js'
import { formatUsd, PRICE_NOTE } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'
import type { Ec2RunSettings } from './plan.js'

/** What `train-ec2` tells the user about cost and about runs that did not succeed. Pure. */

/** Printed before the confirmation: the hourly price and the most the dead-man switch allows. */
export function costLine(s: Ec2RunSettings): string {
  if (s.hourlyUsd === undefined) {
    return `${s.instanceType}: price unknown to mlops; the box terminates itself after ${s.maxHours}h at the latest.`
  }
  return (
    `${s.instanceType}: ${formatUsd(s.hourlyUsd)}/hour on-demand${s.spot ? ' (spot is usually cheaper)' : ''}. ` +
    `Dead-man switch at ${s.maxHours}h, so at most ${formatUsd(s.maxCostUsd)}. ${PRICE_NOTE}`
  )
}

/** A wait that failed: an agent that never came online gets the reasons it usually has. */
export function explainWaitFailure(e: unknown, instanceId: string, s: Ec2RunSettings): unknown {
  if (e instanceof OperationError && e.code === 'DeadlineReached' && /SSM agent/.test(e.message)) {
    return new OperationError('AgentTimeout', `The SSM agent on ${instanceId} did not come online within ${formatDuration(s.agentTimeoutSeconds)}.`, {
      hint:
        'Usual causes: no outbound HTTPS from the subnet (needs an internet or NAT gateway, or VPC endpoints for ssm, ssmmessages and ec2messages), ' +
        'an AMI without the agent, or an instance profile IAM had not yet propagated. ' +
        `Boot log: aws ec2 get-console-output --instance-id ${instanceId} --region ${s.region}. Raise ec2.agentTimeout if boots are just slow.`,
      cause: e,
    })
  }
  if (e instanceof OperationError && e.code === 'DeadlineReached') {
    return new OperationError('LaunchTimeout', `Instance ${instanceId} was not running within ${formatDuration(s.launchTimeoutSeconds)}.`, {
      hint: 'Raise ec2.launchTimeout, or try another instance type or AZ.',
      cause: e,
    })
  }
  return e
}

/** The command ended without success: say how, which step, and where the full output is. */
export function commandFailure(o: CommandOutcome, s: Ec2RunSettings, commandId: string, instanceId: string): OperationError {
  const step = [...o.tail]
    .reverse()
    .map((l) => /^mlops: step "(.+)" failed/.exec(l)?.[1])
    .find(Boolean)
  const logsCmd = `aws logs tail ${s.logGroupName} --log-stream-name-prefix ${commandId}/${instanceId} --region ${s.region}`
  const details = { status: o.status, statusDetails: o.statusDetails, exitCode: o.responseCode, commandId, instanceId, lastLines: o.tail.slice(-20) }
  if (o.status === 'TimedOut') {
    return new OperationError('TrainingTimedOut', `Training on ${instanceId} exceeded --timeout ${formatDuration(s.timeoutSeconds)} and was stopped.`, {
      hint: `Raise --timeout (and --max-hours if needed), or train for fewer epochs. Full output: ${logsCmd}`,
      details,
    })
  }
  const why =
    o.status === 'Failed'
      ? `failed${o.responseCode !== undefined && o.responseCode >= 0 ? ` with exit code ${o.responseCode}` : ''}${step ? ` in step "${step}"` : ''}`
      : `ended ${o.status}${o.statusDetails ? ` (${o.statusDetails})` : ''}`
  return new OperationError('TrainingFailed', `Training on ${instanceId} ${why}.`, {
    hint: `The output is above; all of it: ${logsCmd}`,
    details,
  })
}
