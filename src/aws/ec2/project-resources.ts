import {
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2'
import { pollUntil, type Clock } from '../../shared/clock.js'
import { callAws, callAwsIgnoringNotFound } from '../error-translation.js'

/** The EC2 reads and deletes of `status` and `teardown`, by tag. */

const ctx = (operation: string, resource?: string) => ({ service: 'ec2', operation, ...(resource ? { resource } : {}) })

/** Instances carrying tag `key=value` in one of `states`. */
export async function describeTaggedInstances(ec2: EC2Client, key: string, value: string, states: readonly string[]): Promise<Instance[]> {
  const out = await callAws(ctx('DescribeInstances'), () =>
    ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${key}`, Values: [value] },
          { Name: 'instance-state-name', Values: [...states] },
        ],
      }),
    ),
  )
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])
}

export async function describeTaggedSecurityGroups(ec2: EC2Client, key: string, value: string): Promise<{ id: string; name: string }[]> {
  const out = await callAws(ctx('DescribeSecurityGroups'), () =>
    ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${key}`, Values: [value] }] })),
  )
  return (out.SecurityGroups ?? []).map((g) => ({ id: g.GroupId!, name: g.GroupName! }))
}

/** Terminates the instances and waits until all are terminated (their security groups can only go then). */
export async function terminateInstancesAndWait(
  ec2: EC2Client,
  ids: readonly string[],
  wait: { readonly clock: Clock; readonly signal?: AbortSignal; readonly timeoutMs: number; readonly rerunHint: string },
): Promise<boolean> {
  const existed = await callAwsIgnoringNotFound(ctx('TerminateInstances', ids.join(',')), () =>
    ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids] })),
  )
  if (!existed) return false
  await pollUntil({
    what: `instances ${ids.join(', ')} to terminate`,
    check: async () => {
      const d = await callAws(ctx('DescribeInstances', ids.join(',')), () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] })))
      const states = (d.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name ?? 'unknown')
      return { done: states.every((s) => s === 'terminated'), value: undefined, status: [...new Set(states)].join(', ') }
    },
    timeoutMs: wait.timeoutMs,
    intervalMs: 10_000,
    clock: wait.clock,
    signal: wait.signal,
    rerunHint: wait.rerunHint,
  })
  return true
}

export function deleteSecurityGroup(ec2: EC2Client, groupId: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteSecurityGroup', groupId), () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId })))
}
