import {
  AddTagsToResourceCommand,
  DeleteParameterCommand,
  DescribeParametersCommand,
  PutParameterCommand,
  type PutParameterCommandInput,
  type SSMClient,
} from '@aws-sdk/client-ssm'
import { callAws, callAwsIgnoringNotFound } from '../error-translation.js'

/**
 * SSM parameters mlops owns (the notification webhook URL, a SecureString). PutParameter refuses
 * Tags together with Overwrite, so a re-run overwrites and tags in a second call. The value never
 * appears in an error message: translation names the parameter only.
 */

const ctx = (operation: string, resource: string) => ({ service: 'ssm', operation, resource })

export async function putParameter(ssm: SSMClient, input: PutParameterCommandInput, tags: readonly { Key: string; Value: string }[]): Promise<void> {
  await callAws(ctx('PutParameter', input.Name!), () => ssm.send(new PutParameterCommand(input)))
  await callAws(ctx('AddTagsToResource', input.Name!), () =>
    ssm.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: input.Name!, Tags: [...tags] })),
  )
}

/** Whether the parameter exists (DescribeParameters: metadata only, the value is never read). */
export async function parameterExists(ssm: SSMClient, name: string): Promise<boolean> {
  const out = await callAws(ctx('DescribeParameters', name), () =>
    ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [name] }] })),
  )
  return (out.Parameters ?? []).some((p) => p.Name === name)
}

/** False when it was already gone. */
export function deleteParameter(ssm: SSMClient, name: string): Promise<boolean> {
  return callAwsIgnoringNotFound(ctx('DeleteParameter', name), () => ssm.send(new DeleteParameterCommand({ Name: name })))
}
