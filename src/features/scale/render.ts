import type { ChalkInstance } from 'chalk'
import { rpsForTarget } from '../../aws/autoscaling/scaling.js'
import { formatTable } from '../../shared/output.js'
import { formatUsd } from '../../shared/pricing.js'
import type { EndpointScaleDryRun, EndpointScaleResult, EndpointScaleShow, LambdaScaleResult, ScaleResult } from './types.js'

/** Text for people: what `scale` did to the endpoint and to the Lambda, or what `scale --show` found. */

/** `--show` answers with the endpoint's settings; a change with its parts. */
export function isScaleShow(r: ScaleResult | EndpointScaleShow): r is EndpointScaleShow {
  return typeof r.endpoint === 'string'
}

/** Either answer of `scale`, for people: the parts one after the other. */
export function renderScale(r: ScaleResult | EndpointScaleShow, c: ChalkInstance): string {
  if (isScaleShow(r)) return renderEndpointScaleShow(r, c)
  return [r.endpoint && renderEndpointScale(r.endpoint, c), r.lambda && renderLambdaScale(r.lambda, c)].filter(Boolean).join('\n\n')
}

/** The provisioned-concurrency cost sentence (plans show it as a note). */
export function costLine(cost: NonNullable<LambdaScaleResult['cost']>): string {
  return (
    `Provisioned concurrency cost: about ${formatUsd(cost.hourlyUsd)}/hour, ${formatUsd(cost.monthlyUsd)}/month ` +
    `(${cost.executions} x ${cost.memoryMb} MB). ${cost.note}`
  )
}

export function renderEndpointScale(r: EndpointScaleResult | EndpointScaleDryRun, c: ChalkInstance): string {
  const lines = [
    `${'dryRun' in r ? 'Would set' : `${c.green('✔')} Autoscaling on`} ${r.resourceId}: ${r.minCapacity}-${r.maxCapacity} instances`,
    `  target    ${r.targetValue} invocations per instance per minute (≈ ${round(r.targetRps)} requests/s per instance)`,
    `  cooldown  scale-in ${r.scaleInCooldown}s, scale-out ${r.scaleOutCooldown}s`,
  ]
  if (r.maxHourlyUsd !== undefined)
    lines.push(`  cost      at most ${formatUsd(r.maxHourlyUsd)}/hour at ${r.maxCapacity} instances${r.instanceType ? ` of ${r.instanceType}` : ''}`)
  if (!('dryRun' in r) && r.previous)
    lines.push(
      c.gray(
        `  (was ${r.previous.minCapacity}-${r.previous.maxCapacity} instances${r.previous.policies[0]?.targetValue !== undefined ? `, target ${r.previous.policies[0].targetValue}` : ''})`,
      ),
    )
  return lines.join('\n')
}

export function renderEndpointScaleShow(r: EndpointScaleShow, c: ChalkInstance): string {
  const variant =
    r.variant?.kind === 'serverless'
      ? `serverless (${r.variant.memoryMb} MB, up to ${r.variant.maxConcurrency} concurrent): scales by itself`
      : r.variant
        ? `${r.variant.instanceType}, ${r.currentInstances ?? '?'} running (desired ${r.desiredInstances ?? '?'})`
        : 'unknown variant'
  const lines = [`Endpoint ${c.bold(r.endpoint)} ${r.status ?? ''}: ${variant}`]
  if (!r.scaling) {
    lines.push(r.variant?.kind === 'serverless' ? '' : `  not autoscaled: set it with \`mlops scale --min 1 --max 4\``)
    return lines.filter(Boolean).join('\n')
  }
  lines.push(`  ${r.resourceId}: ${r.scaling.minCapacity}-${r.scaling.maxCapacity} instances`)
  if (r.scaling.policies.length === 0) lines.push('  no scaling policy')
  else {
    lines.push(
      formatTable(
        ['Policy', 'Metric', 'Target (/instance/min)', '≈ req/s', 'Scale-in', 'Scale-out'],
        r.scaling.policies.map((p) => [
          p.name,
          p.metric ?? p.type ?? '',
          p.targetValue !== undefined ? String(p.targetValue) : '',
          p.targetValue !== undefined ? String(round(rpsForTarget(p.targetValue))) : '',
          p.scaleInCooldown !== undefined ? `${p.scaleInCooldown}s` : '',
          p.scaleOutCooldown !== undefined ? `${p.scaleOutCooldown}s` : '',
        ]),
      )
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    )
  }
  return lines.join('\n')
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}

export function renderLambdaScale(result: LambdaScaleResult, c: ChalkInstance): string {
  const target = `${result.functionName}:${result.alias}`
  const cost = result.cost ? costLine(result.cost) : undefined
  const lines = [c.bold(`Lambda ${target}${result.version ? ` (version ${result.version})` : ''}`)]
  if (result.reserved) {
    const r = result.reserved
    const requested = r.requested === null ? 'none (unreserved pool)' : r.requested === 0 ? '0: every call throttled' : String(r.requested)
    lines.push(`  reserved     ${requested}${r.changed ? ` (was ${r.previous ?? 'none'})` : ' (unchanged)'}`)
  }
  if (result.provisioned) {
    const p = result.provisioned
    lines.push(
      p.status === 'REMOVED'
        ? `  provisioned  none${p.changed ? ` (removed ${p.previous ?? 0})` : ''}`
        : `  provisioned  ${p.requested} ${p.status}${p.changed ? ` (was ${p.previous ?? 'none'})` : ' (unchanged)'}`,
    )
  }
  if (result.account) {
    lines.push(`  account      limit ${result.account.concurrencyLimit}, unreserved ${result.account.unreservedAfter}`)
  }
  if (cost) {
    lines.push(c.yellow(cost))
    lines.push(
      `Left running: ${result.cost!.executions} warm execution${result.cost!.executions === 1 ? '' : 's'}. Remove with \`mlops scale --lambda-provisioned 0\`.`,
    )
  }
  return lines.join('\n')
}
