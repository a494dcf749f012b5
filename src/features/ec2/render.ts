import type { ChalkInstance } from 'chalk'
import { formatDuration } from '../../shared/duration.js'
import { formatMetrics } from '../../shared/metrics.js'
import { formatUsd } from '../../shared/pricing.js'
import type { TrainEc2Result } from './types.js'

/** The human result of a finished `train-ec2`. */
export function renderTrainEc2(r: TrainEc2Result, c: ChalkInstance): string {
  return [
    `${c.green('✔')} ${r.runName} completed on ${r.instanceId} (${r.instanceType}${r.spot ? ', spot' : ''}) in ${formatDuration(r.runtimeSeconds)}, about ${formatUsd(r.estimatedCostUsd)}.`,
    `  model     ${r.modelArtifact}`,
    ...(Object.keys(r.metrics).length ? [`  metrics   ${formatMetrics(r.metrics)}`] : []),
    r.instance.kept
      ? `  instance  still running (--keep), ${formatUsd(r.hourlyUsd)}/hour; terminate: ${r.instance.terminateCommand}`
      : `  instance  ${r.instance.state}`,
  ].join('\n')
}
