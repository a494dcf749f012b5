import type { ChalkInstance } from 'chalk'
import { formatDuration } from '../../shared/duration.js'
import { formatTable } from '../../shared/output.js'
import { formatUsd } from '../../shared/pricing.js'
import type { DeployResult } from './types.js'
import type { InvokeResult } from './invoke.js'
import type { Prediction } from '../../aws/sagemaker/prediction.js'

/** Text for people: what deploy and invoke did. */

/** What a deploy did, for people. */
export function renderDeploy(r: DeployResult, c: ChalkInstance): string {
  const lines = [
    `${c.green('✔')} Endpoint ${c.bold(r.endpoint)} is ${r.status} (${r.action}) on ${r.endpointConfig}`,
    `  model      ${r.source.uri}${r.source.jobName ? ` (${r.source.jobName})` : ''}`,
    `  archive    ${r.modelDataUrl}`,
    `  serving    ${variantText(r.variant, r.hourlyUsd)}`,
  ]
  if (r.autoscaling)
    lines.push(
      `  scaling    ${r.autoscaling.action}${r.autoscaling.minCapacity !== undefined ? ` (${r.autoscaling.minCapacity}-${r.autoscaling.maxCapacity} instances)` : ''}`,
    )
  if ('skipped' in r.smokeTest) lines.push(`  smoke test skipped (--no-smoke-test)`)
  else {
    const top = r.smokeTest.predictions.map((p, i) => `${i + 1}. ${p.label} ${(p.probability * 100).toFixed(1)}%`).join('  ')
    lines.push(`  smoke test ${r.smokeTest.image}: ${top} (${Math.round(r.smokeTest.latencyMs)} ms)`)
  }
  if (r.idleStop)
    lines.push(`  idle stop  deletes the endpoint after ${formatDuration(r.idleStop.idleSeconds)} without an invocation (alarm ${r.idleStop.alarm})`)
  const cl = r.cleanup
  lines.push(
    `  kept       ${cl.keptConfigs.length ? cl.keptConfigs.join(', ') : 'no previous versions'}${cl.deletedConfigs.length + cl.deletedModels.length ? `; deleted ${cl.deletedConfigs.length} old config(s), ${cl.deletedModels.length} old model(s)` : ''}`,
  )
  lines.push(`  console    ${r.consoleUrl}`, `  logs       ${r.logsConsoleUrl}`)
  if (r.alarmConsoleUrl) lines.push(`  alarm      ${r.alarmConsoleUrl}`)
  lines.push(c.gray(`Done in ${formatDuration(r.durationSeconds)}.`))
  return lines.join('\n')
}

/** The variant and what it costs, in one phrase. */
export function variantText(v: DeployResult['variant'], hourly: number | undefined): string {
  if (v.kind === 'serverless') return `serverless, ${v.memoryMb} MB, up to ${v.maxConcurrency} concurrent (billed per request, nothing when idle)`
  return `${v.instanceType} x ${v.instanceCount}, ${formatUsd(hourly)}/hour until \`mlops teardown\``
}

/** "93.1%". */
export function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`
}

/** The predictions as a numbered table. */
export function predictionTable(preds: readonly Prediction[]): string {
  return formatTable(
    ['#', 'Breed', 'Probability'],
    preds.map((p, i) => [String(i + 1), p.label, percent(p.probability)]),
  )
}

/** The top breeds and the round trip, for people. */
export function renderInvoke(r: InvokeResult, c: ChalkInstance): string {
  const via = r.target === 'lambda' ? `Lambda ${r.name}` : `endpoint ${r.name}`
  return `${predictionTable(r.predictions)}\n${c.gray(`${Math.round(r.latencyMs)} ms round trip via ${via}${r.requestId ? ` (request id ${r.requestId})` : ''}`)}`
}
