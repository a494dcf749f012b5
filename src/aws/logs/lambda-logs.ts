import { CreateLogGroupCommand, DescribeLogGroupsCommand, PutRetentionPolicyCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import { callAws, isAwsErrorNamed } from '../error-translation.js'

/**
 * The function's log group, made before the function's first run so it has a retention period
 * (Lambda would create it with "never expire", and logs would bill forever) and the project tags.
 */

export function functionLogGroupName(functionName: string): string {
  return `/aws/lambda/${functionName}`
}

export async function ensureFunctionLogGroup(
  logs: CloudWatchLogsClient,
  functionName: string,
  retentionDays: number,
  tags: Readonly<Record<string, string>>,
): Promise<{ name: string; created: boolean; retentionChanged: boolean }> {
  const name = functionLogGroupName(functionName)
  const ctx = (operation: string) => ({ service: 'logs', operation, resource: name })
  const found = await callAws(ctx('DescribeLogGroups'), () => logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name })))
  const group = (found.logGroups ?? []).find((g) => g.logGroupName === name)
  let created = false
  if (!group) {
    await callAws(ctx('CreateLogGroup'), async () => {
      try {
        await logs.send(new CreateLogGroupCommand({ logGroupName: name, tags: { ...tags } }))
        created = true
      } catch (e) {
        // Lambda may have created it between our two calls.
        if (!isAwsErrorNamed(e, 'ResourceAlreadyExistsException')) throw e
      }
    })
  }
  const retentionChanged = group?.retentionInDays !== retentionDays
  if (retentionChanged) {
    await callAws(ctx('PutRetentionPolicy'), () => logs.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: retentionDays })))
  }
  return { name, created, retentionChanged }
}
