import type { ChalkInstance } from 'chalk'

/** One AWS request a command would make. `--dry-run` prints the ordered list and sends nothing. */
export interface PlannedOperation {
  /** Service prefix as in IAM: s3, sagemaker, iam, lambda, ec2, ssm, application-autoscaling, ... */
  readonly service: string
  /** API operation: CreateTrainingJob, PutObject, ... */
  readonly operation: string
  /** The request exactly as it would be sent (values only AWS knows appear as placeholders). */
  readonly input: unknown
  /** Why this step is there or what it depends on, for people (not in --json output). */
  readonly note?: string
}

/** Placeholders for values only AWS can know, shown in dry-run plans. */
export const PLACEHOLDER = {
  accountId: '<account-id>',
  instanceId: '<instance-id>',
  commandId: '<command-id>',
  version: '<version>',
  securityGroupId: '<security-group-id>',
  amiId: '<ami-id-from-ssm>',
} as const

/** The JSON shape of a plan: an array of `{service, operation, input}`. */
export function planToJson(ops: readonly PlannedOperation[]): { service: string; operation: string; input: unknown }[] {
  return ops.map(({ service, operation, input }) => ({ service, operation, input }))
}

/** Human rendering: a numbered list with each request's full input. */
export function renderPlan(title: string, ops: readonly PlannedOperation[], c: ChalkInstance, notes: readonly string[] = []): string {
  const lines = [c.bold(`Dry run: ${title}`), `${ops.length} AWS request${ops.length === 1 ? '' : 's'} would be made; nothing was sent.`]
  for (const n of notes) lines.push(c.gray(n))
  ops.forEach((op, i) => {
    lines.push('')
    lines.push(`${String(i + 1).padStart(2)}. ${c.cyan(op.service)} ${c.bold(op.operation)}${op.note ? c.gray(`  — ${op.note}`) : ''}`)
    const body = JSON.stringify(op.input, null, 2) ?? 'null'
    lines.push(
      body
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    )
  })
  return lines.join('\n')
}
