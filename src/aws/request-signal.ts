import type { NodeHttpHandler, NodeHttpHandlerOptions } from '@smithy/node-http-handler'
import type { HttpHandlerOptions } from '@smithy/types'

/**
 * An AbortSignal carried by a command's input instead of `send`'s per-call options. A client that
 * caches its middleware stack (`cacheMiddleware`, see s3/transfer-client.ts) does so only for sends
 * without options, so a hot path that still needs cancellation attaches the signal here: a client
 * middleware moves it onto the HTTP request (`moveRequestSignal`) and the request handler below passes
 * it to the socket, exactly as the `abortSignal` option would.
 */

/** The input key (a symbol: never serialized) that carries a request's AbortSignal. */
export const REQUEST_SIGNAL: unique symbol = Symbol('mlops.requestSignal')

type Signalled = { [REQUEST_SIGNAL]?: AbortSignal }

/** The input with its AbortSignal attached, for a `send` without options. */
export function withRequestSignal<T extends object>(input: T, signal: AbortSignal | undefined): T {
  return signal ? { ...input, [REQUEST_SIGNAL]: signal } : input
}

/** A `deserialize`-step middleware body: the innermost step, so the request it sees is the one sent (retries clone before it). */
export function moveRequestSignal(args: { input: unknown; request: unknown }): void {
  const signal = (args.input as Signalled | undefined)?.[REQUEST_SIGNAL]
  if (signal && args.request) (args.request as Signalled)[REQUEST_SIGNAL] = signal
}

/** The SDK's Node HTTP handler (same defaults, or the given agents), honouring a request's own signal. */
export async function signalAwareHttpHandler(options?: NodeHttpHandlerOptions): Promise<NodeHttpHandler> {
  const { NodeHttpHandler } = await import('@smithy/node-http-handler')
  class SignalAwareHttpHandler extends NodeHttpHandler {
    override handle(request: Parameters<NodeHttpHandler['handle']>[0], handlerOptions: HttpHandlerOptions = {}) {
      const signal = handlerOptions.abortSignal ?? (request as Signalled)[REQUEST_SIGNAL]
      return super.handle(request, signal ? { ...handlerOptions, abortSignal: signal } : handlerOptions)
    }
  }
  return new SignalAwareHttpHandler(options)
}
