import type { ChalkInstance } from 'chalk'
import { collectInventory, isEmpty, type Inventory } from './inventory.js'
import { findOwnedData } from './owned-data.js'
import { describeUsers } from './other-regions.js'
import { planInventory } from './inventory-plan.js'
import { describeGroup, executeTeardown, planTeardown, presumedInventory, type TeardownOptions, type TeardownResult } from './teardown-execute.js'
import type { CommandContext } from '../../context.js'
import { AbortError, OperationError } from '../../shared/errors.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import type { ResourceKind } from '../../shared/state.js'

export interface TeardownSummary extends TeardownResult {
  readonly project: string
  readonly nothingToDo: boolean
  /** What still exists afterwards (the data, unless --delete-data; anything that failed). */
  readonly left: readonly string[]
}

/** State records that describe resources teardown removes. */
const REMOVED_KINDS: ResourceKind[] = ['endpoint', 'endpoint-config', 'model', 'scaling-target', 'function', 'instance', 'security-group']

export async function runTeardown(ctx: CommandContext, opts: TeardownOptions): Promise<Outcome<TeardownSummary>> {
  const cfg = await ctx.config()
  const region = ctx.awsSettings(cfg).region
  const state = ctx.state()
  if (ctx.dryRun) {
    // Without AWS access the plan comes from the project's fixed names and the state file.
    const records = await state.all()
    const items = planTeardown(presumedInventory(cfg, region, records), cfg, opts)
    // The inventory's reads come first (and again at the end, to report what is left).
    const ops = [...planInventory(cfg, records, region), ...items.flatMap((i) => i.ops)]
    const note = "Planned from the project's resource names and .mlops/state.json; a real run first looks each one up and skips what does not exist."
    return planned({ title: `mlops teardown (${cfg.project.name})`, operations: ops, notes: [note], details: { note } })
  }
  // A state file that cannot be written (or read) stops teardown before it changes anything in AWS.
  await state.checkWritable()
  const clients = await ctx.clients(['sagemaker', 'lambda', 'ec2', 's3', 'iam', 'autoscaling', 'cloudwatch', 'sns', 'events', 'ssm'], cfg)
  const inventory = () => collectInventory(clients, cfg, region, state, ctx.clock.now())
  const inv = await inventory()
  // --delete-data deletes only what mlops wrote; find exactly that before asking (issue 19).
  const owned = opts.deleteData && inv.data ? await findOwnedData(clients.s3, cfg, ctx.signal, clients.sagemaker) : undefined
  const items = planTeardown(inv, cfg, opts, owned)
  // Nothing to do also when all that is left is what another region still uses.
  const inUse = inv.inUseElsewhere ?? {}
  const onlyKept = isEmpty({ ...inv, roles: inv.roles.filter((r) => !inUse[r.name]), instanceProfiles: inv.instanceProfiles.filter((p) => !inUse[p]) })
  if (onlyKept && items.length === 0) {
    return done({ project: cfg.project.name, nothingToDo: true, deleted: [], failed: [], kept: [], left: describeLeft(inv, opts) })
  }
  ctx.ui.info(`mlops teardown will delete, in this order (project ${cfg.project.name}, ${region}):`)
  for (const item of items) {
    ctx.ui.info(`  - ${item.label}`)
    // By kind with counts and sizes (8,350 keys for the real dataset drowned the question); --verbose lists each key.
    for (const g of item.groups ?? []) ctx.ui.info(`      ${describeGroup(owned?.bucket ?? '', g)}`)
    if (opts.verbose) for (const key of item.keys ?? []) ctx.ui.info(`      ${key}`)
  }
  for (const line of keptForOtherRegions(inv, opts)) ctx.ui.info(`  (${line})`)
  if (owned?.kept) ctx.ui.info(`  (keeping ${owned.kept} object${owned.kept === 1 ? '' : 's'} under the project's prefixes that mlops did not write)`)
  if (inv.data && !opts.deleteData && inv.data.groups.length) {
    ctx.ui.info('  (keeping these objects in S3; add --delete-data to remove them)')
    for (const g of inv.data.groups) ctx.ui.info(`      ${describeGroup(inv.data.bucket, g)}`)
  }
  if (!(await ctx.ui.confirm(`Delete these ${items.length} resources?`))) throw new AbortError()

  const result = await executeTeardown(clients, inv, cfg, {
    ...opts,
    clock: ctx.clock,
    signal: ctx.signal,
    onStep: (label) => ctx.ui.step(`Deleting ${label}`),
    ...(owned ? { ownedData: owned } : {}),
  })
  // Only this region's records go: those of another region describe resources still there (issue 27).
  for (const kind of REMOVED_KINDS) for (const r of await state.list(kind)) if (r.region === region) await state.remove(kind, r.name)
  if (!opts.keepRoles)
    for (const kind of ['role', 'instance-profile'] as const)
      for (const r of await state.list(kind)) if (!inv.inUseElsewhere?.[r.name]) await state.remove(kind, r.name)
  const after = await inventory()
  const summary: TeardownSummary = { project: cfg.project.name, nothingToDo: false, ...result, left: describeLeft(after, opts) }
  if (result.failed.length) {
    throw new OperationError(
      'TeardownIncomplete',
      `Teardown finished with ${result.failed.length} failure(s): ${result.failed.map((f) => `${f.label}: ${f.error}`).join('; ')}`,
      {
        hint: 'Fix the cause (often a permission) and run `mlops teardown` again: it only deletes what is still there.',
        details: { ...summary },
      },
    )
  }
  return done(summary)
}

/** The roles and instance profiles kept because a resource in another region uses them, naming it. */
function keptForOtherRegions(inv: Inventory, opts: TeardownOptions): string[] {
  if (opts.keepRoles) return []
  const inUse = inv.inUseElsewhere ?? {}
  return [
    ...inv.roles.filter((r) => inUse[r.name]).map((r) => `keeping IAM role ${r.name}: ${describeUsers(inUse[r.name]!)}`),
    ...inv.instanceProfiles.filter((p) => inUse[p]).map((p) => `keeping instance profile ${p}: ${describeUsers(inUse[p]!)}`),
  ]
}

function describeLeft(inv: Inventory, opts: TeardownOptions): string[] {
  const left: string[] = []
  for (const j of inv.jobs) left.push(`${j.kind} job ${j.name} (${j.status})`)
  for (const e of inv.endpoints) left.push(`endpoint ${e.name} (${e.status})`)
  left.push(...inv.endpointConfigs.map((x) => `endpoint config ${x}`), ...inv.models.map((x) => `model ${x}`))
  left.push(...inv.scalingTargets.map((t) => `scaling target ${t.resourceId}`), ...inv.functions.map((f) => `Lambda function ${f.name}`))
  const inUse = inv.inUseElsewhere ?? {}
  const why = (name: string) => (opts.keepRoles ? ' (kept: --keep-roles)' : inUse[name] ? ` (kept: ${describeUsers(inUse[name])})` : '')
  left.push(
    ...inv.roles.map((r) => `IAM role ${r.name}${why(r.name)}`),
    ...inv.instanceProfiles.map((p) => `instance profile ${p}${opts.keepRoles ? '' : why(p)}`),
  )
  // Resources the state file records in other regions: this teardown does not reach them.
  for (const e of inv.elsewhere ?? []) left.push(`in ${e.region} (not torn down here; run \`mlops teardown --region ${e.region}\`): ${e.resources.join(', ')}`)
  left.push(...inv.instances.map((i) => `EC2 instance ${i.id} (${i.state})`), ...inv.securityGroups.map((g) => `security group ${g.name}`))
  for (const g of inv.data?.groups ?? []) left.push(describeGroup(inv.data!.bucket, g))
  return left
}

export function renderTeardown(s: TeardownSummary, c: ChalkInstance): string {
  if (s.nothingToDo) {
    return [
      `Nothing to tear down for project ${s.project}.`,
      ...(s.left.length ? ['Still there (kept on purpose):', ...s.left.map((l) => `  - ${l}`)] : []),
    ].join('\n')
  }
  const lines = [c.bold(`Teardown of ${s.project}: ${s.deleted.length} deleted.`)]
  for (const d of s.deleted) lines.push(`  ${c.green('✔')} ${d}`)
  if (s.left.length) {
    lines.push('Left:')
    for (const l of s.left) lines.push(`  - ${l}`)
  } else lines.push('Nothing is left.')
  return lines.join('\n')
}
