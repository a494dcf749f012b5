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

/**
 * Whether an operation only reads (Describe*, List*, Get*, Head*, Simulate*, SageMaker's Search, ...). Plans list reads too: the
 * least-privilege policy for the person running mlops is built from them, so a read left out of a
 * plan is a denied call on a real account. Reads are marked, not hidden: `read: true` in --json.
 */
export function isReadOperation(operation: string): boolean {
  return /^(Describe|List|Get|Head|Filter|Search|Lookup|BatchGet|Simulate)([A-Z]|$)/.test(operation)
}

/** The JSON shape of a plan: an array of `{service, operation, input}`, with `read: true` on reads. */
export function planToJson(ops: readonly PlannedOperation[]): { service: string; operation: string; input: unknown; read?: true }[] {
  return ops.map(({ service, operation, input }) => ({ service, operation, input, ...(isReadOperation(operation) ? { read: true as const } : {}) }))
}

/** Human rendering: a numbered list with each request's full input. */
export function renderPlan(title: string, ops: readonly PlannedOperation[], c: ChalkInstance, notes: readonly string[] = []): string {
  const lines = [c.bold(`Dry run: ${title}`), `${ops.length} AWS request${ops.length === 1 ? '' : 's'} would be made; nothing was sent.`]
  for (const n of notes) lines.push(c.gray(n))
  ops.forEach((op, i) => {
    lines.push('')
    const read = isReadOperation(op.operation) ? c.gray(' (read)') : ''
    lines.push(`${String(i + 1).padStart(2)}. ${c.cyan(op.service)} ${c.bold(op.operation)}${read}${op.note ? c.gray(`  — ${op.note}`) : ''}`)
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
