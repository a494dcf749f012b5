import type { MlopsConfig } from '../config/schema.js'
import type { StateStore } from './state.js'

/**
 * How large one inference request may be, per endpoint kind: real-time endpoints take 6 MB per
 * InvokeEndpoint request, serverless endpoints only 4 MB (a larger body is a 413 from SageMaker,
 * which the Lambda turned into a 502). `invoke` and the Lambda check it before sending.
 */

export const MAX_REALTIME_REQUEST_BYTES = 6 * 1024 * 1024
export const MAX_SERVERLESS_REQUEST_BYTES = 4 * 1024 * 1024

export type EndpointKind = 'instance' | 'serverless'

export function maxRequestBytes(kind: EndpointKind): number {
  return kind === 'serverless' ? MAX_SERVERLESS_REQUEST_BYTES : MAX_REALTIME_REQUEST_BYTES
}

/**
 * The kind of the project's endpoint without an AWS call: what the last deploy recorded in the
 * state file, else what the config asks for (endpoint.serverless).
 */
export async function endpointKind(cfg: Pick<MlopsConfig, 'endpoint'>, endpointName: string, state: StateStore): Promise<EndpointKind> {
  const rec = await state.latest('endpoint', (r) => r.name === endpointName)
  const recorded = (rec?.details as { variant?: { kind?: unknown } } | undefined)?.variant?.kind
  if (recorded === 'serverless' || recorded === 'instance') return recorded
  return cfg.endpoint.serverless ? 'serverless' : 'instance'
}
