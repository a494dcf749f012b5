import type { ChalkInstance } from 'chalk'
import { formatBytes } from '../../shared/output.js'
import { IAM_URL_CALLER_ACTIONS } from '../../aws/lambda/url.js'
import type { LambdaSetupResult } from './types.js'

/** Text for people: what lambda-setup did. */

/** Human rendering of the result. */
export function renderLambdaSetup(r: LambdaSetupResult, c: ChalkInstance): string {
  const pct = (p: number) => `${(p * 100).toFixed(1)}%`
  const lines = [
    `${c.bold(`${r.functionName}:${r.alias}`)} -> version ${r.version} ${r.created ? '(function created)' : r.published ? '(new version published)' : '(unchanged: no new version)'}`,
    `  role      ${r.role.name}${r.role.created ? ' (created)' : r.role.changes?.length ? ` (converged: ${r.role.changes.join(', ')})` : ''}: InvokeEndpoint on ${r.endpoint.name} + own logs only`,
    `  code      ${formatBytes(r.zipBytes)}, CodeSha256 ${r.codeSha256}${r.created ? '' : r.codeUpdated ? ' (updated)' : ' (unchanged)'}`,
    `  config    ${r.created ? 'set' : r.configUpdated?.length ? `updated: ${r.configUpdated.join(', ')}` : 'unchanged'} (ENDPOINT_NAME=${r.environment.ENDPOINT_NAME}, TOP_K=${r.environment.TOP_K})`,
    `  endpoint  ${r.endpoint.name} (${r.endpoint.status})`,
  ]
  if (r.url) {
    const auth = r.url.authType === 'NONE' ? c.yellow('PUBLIC, no auth') : 'AWS_IAM: callers sign requests with SigV4'
    lines.push(`  url       ${r.url.url} (${auth})${r.url.managed ? '' : ' — not managed in this run; pass --url to manage it'}`)
    if (r.url.authType === 'AWS_IAM') lines.push(`            callers need ${IAM_URL_CALLER_ACTIONS.join(' and ')} on ${r.functionName}:${r.alias}`)
  }
  if (r.test?.status === 'passed') {
    const top = (r.test.predictions ?? []).map((p, i) => `${i + 1}. ${p.breed} ${pct(p.probability)}`).join('   ')
    lines.push(
      `  test      ${c.green('passed')} with ${r.test.image}: ${top}${r.test.endpointLatencyMs !== undefined ? `  (endpoint ${r.test.endpointLatencyMs} ms)` : ''}`,
    )
  } else if (r.test) {
    lines.push(`  test      skipped: ${r.test.reason}`)
  }
  if (r.consoleUrl) lines.push(`  console   ${r.consoleUrl}`)
  if (r.logsConsoleUrl) lines.push(`  logs      ${r.logsConsoleUrl}`)
  lines.push(c.gray('Costs nothing while idle; each call is billed per request and duration, and runs the endpoint.'))
  return lines.join('\n')
}
