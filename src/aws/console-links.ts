import { partitionOf } from './arn.js'
import type { Partition } from './regions.js'

/**
 * Links to the AWS console for what mlops creates or finds, one function per resource kind. The
 * console's host depends on the partition (issue 28): console.aws.amazon.com (aws),
 * console.amazonaws.cn (aws-cn), console.amazonaws-us-gov.com (aws-us-gov); the region goes in the
 * query, which every service console reads. Pure: strings in, a URL out (no SDK, no network).
 */

const CONSOLE_HOST: Record<Partition, string> = {
  aws: 'https://console.aws.amazon.com',
  'aws-cn': 'https://console.amazonaws.cn',
  'aws-us-gov': 'https://console.amazonaws-us-gov.com',
}

/** `https://<console host>/<service>/home?region=<region>#<fragment>`. */
function consoleUrl(service: string, region: string, fragment: string): string {
  return `${CONSOLE_HOST[partitionOf(region) as Partition]}/${service}/home?region=${encodeURIComponent(region)}#${fragment}`
}

/**
 * CloudWatch's log-group fragments encode their names twice and write `%` as `$` (the form the
 * console itself puts in the address bar): `/aws/x` -> `$252Faws$252Fx`.
 */
function logsPart(text: string): string {
  return encodeURIComponent(encodeURIComponent(text)).replace(/%/g, '$')
}

/** A SageMaker training job's page (status, metrics, hyperparameters, output). */
export function trainingJobConsoleUrl(region: string, jobName: string): string {
  return consoleUrl('sagemaker', region, `/jobs/${encodeURIComponent(jobName)}`)
}

/** A SageMaker hyperparameter tuning job's page (its training jobs, the best one). */
export function tuningJobConsoleUrl(region: string, tuningJobName: string): string {
  return consoleUrl('sagemaker', region, `/hyper-tuning-jobs/${encodeURIComponent(tuningJobName)}`)
}

/** A SageMaker endpoint's page (variants, instances, monitoring). */
export function endpointConsoleUrl(region: string, endpointName: string): string {
  return consoleUrl('sagemaker', region, `/endpoints/${encodeURIComponent(endpointName)}`)
}

/** A Lambda function's page. */
export function lambdaFunctionConsoleUrl(region: string, functionName: string): string {
  return consoleUrl('lambda', region, `/functions/${encodeURIComponent(functionName)}`)
}

/** A CloudWatch alarm's page. */
export function alarmConsoleUrl(region: string, alarmName: string): string {
  return consoleUrl('cloudwatch', region, `alarmsV2:alarm/${encodeURIComponent(alarmName)}`)
}

/** A CloudWatch Logs group, optionally narrowed to the streams whose names start with `streamPrefix`. */
export function logGroupConsoleUrl(region: string, logGroupName: string, streamPrefix?: string): string {
  // The query's own `?` and `=` are encoded once ($3F, $3D), its value twice, as the console writes them.
  const filter = streamPrefix ? `$3FlogStreamNameFilter$3D${logsPart(streamPrefix)}` : ''
  return consoleUrl('cloudwatch', region, `logsV2:log-groups/log-group/${logsPart(logGroupName)}${filter}`)
}

/** A training job's CloudWatch logs: /aws/sagemaker/TrainingJobs, the job's streams (`<job>/algo-N-…`). */
export function trainingLogsConsoleUrl(region: string, jobName: string): string {
  return logGroupConsoleUrl(region, '/aws/sagemaker/TrainingJobs', `${jobName}/`)
}

/** A Lambda function's CloudWatch logs (/aws/lambda/<name>). */
export function lambdaLogsConsoleUrl(region: string, functionName: string): string {
  return logGroupConsoleUrl(region, `/aws/lambda/${functionName}`)
}

/** An endpoint's CloudWatch logs (/aws/sagemaker/Endpoints/<name>). */
export function endpointLogsConsoleUrl(region: string, endpointName: string): string {
  return logGroupConsoleUrl(region, `/aws/sagemaker/Endpoints/${endpointName}`)
}
