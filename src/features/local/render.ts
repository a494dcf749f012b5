import type { ChalkInstance } from 'chalk'
import { epochSummaryLines, formatMetrics } from '../../shared/metrics.js'
import { escapeTerminal } from '../../shared/terminal-text.js'
import { formatDuration } from './cpu-estimate.js'
import type { EmulatorResult } from './emulator.js'
import type { ServeResult } from './serve.js'
import type { LocalTrainResult } from './train-local.js'

export function renderLocalTrain(r: LocalTrainResult, c: ChalkInstance): string {
  return [
    `${c.green('✔')} Local training ${r.jobName} finished in ${r.durationSeconds} s (${r.instances} host${r.instances > 1 ? 's' : ''})`,
    `  metrics   ${formatMetrics(r.metrics) || 'none printed'}`,
    `  model     ${r.modelArtifact}`,
    ...(r.cpuEstimate ? [`  estimate  ${formatDuration(r.cpuEstimate.seconds)} on the CPU beforehand`] : []),
    `  cloud     mlops deploy --model ${r.jobName}`,
    ...(r.epochs.length ? ['', ...epochSummaryLines(r.epochs)] : []),
  ].join('\n')
}

export function renderServe(r: ServeResult, c: ChalkInstance): string {
  return `${c.green('✔')} Stopped serving ${escapeTerminal(r.model)} on ${r.url} after ${r.requests} request${r.requests === 1 ? '' : 's'}`
}

export function renderEmulator(r: EmulatorResult, c: ChalkInstance): string {
  return `${c.green('✔')} Stopped the AWS emulator on ${r.endpoint} (its state is gone)`
}
