import type { ChalkInstance } from 'chalk'
import { alarmConsoleUrl, endpointConsoleUrl, lambdaFunctionConsoleUrl, trainingJobConsoleUrl, tuningJobConsoleUrl } from '../../aws/console-links.js'
import { collectInventory, hourlyTotal, type Inventory } from './inventory.js'
import { planInventory } from './inventory-plan.js'
import type { CommandContext } from '../../context.js'
import { formatBytes, formatTable } from '../../shared/output.js'
import { done, planned, type Outcome } from '../../shared/outcome.js'
import { formatUsd, HOURS_PER_MONTH, PRICE_NOTE, S3_GB_MONTH } from '../../shared/pricing.js'
import { formatDuration } from '../../shared/duration.js'

export interface StatusResult extends Inventory {
  /** USD per hour for what is running now. */
  readonly hourlyTotal: number
  readonly monthlyTotal: number
  readonly priceNote: string
}

export async function runStatus(ctx: CommandContext): Promise<Outcome<StatusResult>> {
  const cfg = await ctx.config()
  if (ctx.dryRun) return planned({ title: 'mlops status (read-only)', operations: planInventory(cfg, await ctx.state().all(), ctx.awsSettings(cfg).region) })
  const region = ctx.awsSettings(cfg).region
  // A state file that cannot be read is a named error before any AWS call.
  const state = ctx.state()
  await state.all()
  const clients = await ctx.clients(['sagemaker', 'lambda', 'ec2', 's3', 'iam', 'autoscaling', 'cloudwatch', 'sns', 'events', 'ssm'], cfg)
  const spin = ctx.ui.spinner(`Looking for ${cfg.project.name} resources in ${region}…`)
  let inv: Inventory
  try {
    inv = await collectInventory(clients, cfg, region, state, ctx.clock.now())
  } finally {
    spin.stop()
  }
  const hourly = hourlyTotal(inv)
  const result: StatusResult = {
    ...withConsoleLinks(inv),
    hourlyTotal: round(hourly),
    monthlyTotal: round(hourly * HOURS_PER_MONTH + (inv.data?.monthly ?? 0)),
    priceNote: PRICE_NOTE,
  }
  return done(result)
}

const round = (n: number) => Math.round(n * 10000) / 10000

/** Each job, endpoint, function and alarm found, with its page in the AWS console (`consoleUrl`). */
function withConsoleLinks(inv: Inventory): Inventory {
  const r = inv.region
  return {
    ...inv,
    jobs: inv.jobs.map((j) => ({ ...j, consoleUrl: j.kind === 'training' ? trainingJobConsoleUrl(r, j.name) : tuningJobConsoleUrl(r, j.name) })),
    endpoints: inv.endpoints.map((e) => ({ ...e, consoleUrl: endpointConsoleUrl(r, e.name) })),
    functions: inv.functions.map((f) => ({ ...f, consoleUrl: lambdaFunctionConsoleUrl(r, f.name) })),
    ...(inv.idleStops ? { idleStops: inv.idleStops.map((i) => (i.alarm ? { ...i, consoleUrl: alarmConsoleUrl(r, i.alarm) } : i)) } : {}),
  }
}

/** The console links of what status found, one line each. */
function consoleLines(r: Inventory): string[] {
  const items: { name: string; consoleUrl?: string }[] = [
    ...r.jobs,
    ...r.endpoints,
    ...r.functions,
    ...(r.idleStops ?? []).map((i) => ({ ...i, name: i.alarm ?? i.functionName })),
  ]
  return items.flatMap((i) => (i.consoleUrl ? [`  ${i.name}  ${i.consoleUrl}`] : []))
}

export function renderStatus(r: StatusResult, c: ChalkInstance): string {
  const lines: string[] = [c.bold(`mlops status: project ${r.project} in ${r.region}`), '']
  const rows: string[][] = []
  for (const j of r.jobs) rows.push([`${j.kind} job`, j.name, j.status, j.instanceType ? `${j.instanceCount ?? 1} x ${j.instanceType}` : '', perHour(j.hourly)])
  for (const e of r.endpoints) {
    rows.push([
      'endpoint',
      e.name,
      e.status,
      e.serverless ? `serverless ${e.serverless.memoryMb} MB, max ${e.serverless.maxConcurrency}` : `${e.instanceCount ?? '?'} x ${e.instanceType ?? '?'}`,
      e.serverless ? 'per request (0 when idle)' : perHour(e.hourly),
    ])
  }
  for (const t of r.scalingTargets) rows.push(['autoscaling', t.resourceId, `min ${t.min} / max ${t.max}`, t.policies.join(', '), '-'])
  for (const i of r.idleStops ?? [])
    rows.push([
      'idle stop',
      i.alarm ?? i.functionName,
      i.alarm ? `armed (${i.state ?? 'unknown'})` : 'alarm missing',
      i.idleSeconds ? `deletes ${i.endpoint} after ${formatDuration(i.idleSeconds)} idle` : '',
      'free',
    ])
  const n = r.notifications
  if (n) {
    const pending = n.subscriptions.filter((x) => x.pending)
    rows.push([
      'notifications',
      n.rules.join(', ') || '(no rule)',
      pending.length ? `${pending.length} pending confirmation: ${pending.map((x) => x.endpoint).join(', ')}` : 'armed',
      [...n.subscriptions.filter((x) => !x.pending).map((x) => x.endpoint), ...(n.webhookParameter ? [`webhook (SSM ${n.webhookParameter})`] : [])].join(', '),
      'free',
    ])
  }
  for (const f of r.functions) {
    rows.push([
      'lambda',
      f.name,
      f.reserved === 0 ? 'reserved 0: every call throttled' : f.provisioned ? `provisioned ${f.provisioned.executions} (${f.provisioned.status})` : 'on demand',
      `${f.memoryMb} MB${f.url ? `, URL ${f.url.authType}` : ''}`,
      f.hourly > 0 ? `${perHour(f.hourly)} (while idle too)` : 'per request',
    ])
  }
  for (const i of r.instances) {
    rows.push([
      'ec2 instance',
      i.id,
      i.state,
      `${i.instanceType}${i.ageSeconds !== undefined ? `, up ${formatDuration(i.ageSeconds)}` : ''}`,
      perHour(i.hourly),
    ])
  }
  if (r.endpointConfigs.length) rows.push(['endpoint configs', String(r.endpointConfigs.length), 'kept for rollback', '', 'free'])
  if (r.models.length) rows.push(['models', String(r.models.length), '', '', 'free'])
  for (const role of r.roles) rows.push(['iam role', role.name, '', role.instanceProfiles.length ? `profile ${role.instanceProfiles.join(', ')}` : '', 'free'])
  for (const g of r.securityGroups) rows.push(['security group', g.name, g.id, '', 'free'])
  // One row per kind (dataset, job outputs, model archives, code packages): all of it bills by the GB.
  for (const g of r.data?.groups ?? [])
    rows.push([
      `s3 ${g.kind}`,
      g.prefix
        .split(', ')
        .map((p) => `s3://${r.data!.bucket}/${p}`)
        .join(', '),
      `${g.objects} objects`,
      formatBytes(g.bytes),
      `${formatUsd((g.bytes / 1024 ** 3) * S3_GB_MONTH)}/month`,
    ])
  const elsewhere = r.elsewhere ?? []
  if (rows.length === 0) lines.push(`Nothing is running or stored for this project${elsewhere.length ? ` in ${r.region}` : ''}.`)
  else lines.push(formatTable(['kind', 'name', 'state', 'size', 'cost'], rows))
  // The state file records resources in other regions: they bill there, and are not counted here (issue 27).
  if (elsewhere.length) {
    lines.push('', c.yellow(`In other regions (recorded in .mlops/state.json; not counted below):`))
    for (const e of elsewhere) lines.push(`  ${e.region}: ${e.resources.join(', ')}  ${c.gray(`(mlops status --region ${e.region})`)}`)
  }
  lines.push('')
  const scope = elsewhere.length ? ` in ${r.region}` : ''
  lines.push(
    `Running now${scope}: ${c.bold(`${formatUsd(r.hourlyTotal)}/hour`)}, about ${c.bold(`${formatUsd(r.monthlyTotal)}/month`)} if left as is (data included).`,
  )
  lines.push(c.gray(r.priceNote))
  for (const f of r.functions.filter((x) => x.reserved === 0))
    lines.push(c.yellow(`Lambda ${f.name} has reserved concurrency 0: every call is throttled. Undo with \`mlops scale --lambda-reserved none\`.`))
  const links = consoleLines(r)
  if (links.length) lines.push('', 'In the AWS console:', ...links)
  if (r.hourlyTotal > 0) lines.push(`Remove it all with: ${c.cyan('mlops teardown')}`)
  return lines.join('\n')
}

function perHour(x: number | undefined): string {
  return x === undefined ? 'price unknown' : `${formatUsd(x)}/hour`
}
