import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A loopback TCP proxy that adds network latency: each chunk, in each direction, is delivered half a
 * round trip after it arrived, in the order it arrived. One upstream socket per client socket, so
 * connection reuse (keep-alive, pool size) costs what it costs on a real network. A new connection
 * also pays the TCP handshake: its first bytes reach the server one full round trip later than the
 * latency alone would deliver them (SYN, SYN-ACK, then data). TLS is not modelled (real S3 is HTTPS,
 * one or two more round trips per new connection), so the figures favour tools that open many connections.
 *
 * Memory is bounded: a direction stops reading its source while more than `maxQueuedBytes` wait to be
 * delivered (queued plus unflushed in the destination socket), and resumes once they drain.
 */
export interface RttProxy {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string
  readonly port: number
  /** Connections accepted so far. */
  readonly connections: () => number
  /** Stops accepting, destroys every open pair, resolves when the server has closed. */
  close(): Promise<void>
}

export interface RttProxyOptions {
  readonly upstreamHost: string
  readonly upstreamPort: number
  /** The round trip to add, in milliseconds (each direction gets half). */
  readonly rttMs: number
  /** Model the TCP handshake of each new connection (one extra round trip before its first bytes). @default true */
  readonly handshake?: boolean
  /** Per direction and connection. @default 4 MiB */
  readonly maxQueuedBytes?: number
}

export async function startRttProxy(o: RttProxyOptions): Promise<RttProxy> {
  if (!(o.rttMs >= 0)) throw new Error(`rttMs must be >= 0, got ${o.rttMs}`)
  const half = o.rttMs / 2
  const limit = o.maxQueuedBytes ?? 4 * 1024 * 1024
  const open = new Set<Socket>()
  let accepted = 0

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    accepted++
    const acceptedAt = performance.now()
    const upstream = connect({ host: o.upstreamHost, port: o.upstreamPort, allowHalfOpen: true, noDelay: true })
    for (const s of [client, upstream]) {
      open.add(s)
      s.once('close', () => open.delete(s))
      // Either side failing ends the pair: the other side sees a reset, as it would on a real network.
      s.once('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
    const handshakeDone = o.handshake === false ? 0 : acceptedAt + o.rttMs
    pipeDelayed(client, upstream, half, limit, handshakeDone)
    pipeDelayed(upstream, client, half, limit, 0)
    // A side that closes without an error ends the other after the delay (its FIN travels too), so a
    // response still in flight is delivered before the client sees the connection close.
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of open) s.destroy()
      }),
  }
}

/** One direction: chunks (and the final FIN) are written `delayMs` after they arrived, never before `notBefore`. */
function pipeDelayed(from: Socket, to: Socket, delayMs: number, limit: number, notBefore: number): void {
  const queue: { due: number; chunk: Buffer | null }[] = []
  let queued = 0
  let timer: NodeJS.Timeout | undefined
  let paused = false

  const backlog = () => queued + to.writableLength
  const maybeResume = () => {
    if (paused && backlog() <= limit / 2) {
      paused = false
      from.resume()
    }
  }
  const flush = () => {
    timer = undefined
    const now = performance.now()
    while (queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift()!
      if (to.destroyed) return
      if (chunk === null) {
        to.end()
        return
      }
      queued -= chunk.length
      to.write(chunk)
    }
    schedule()
    maybeResume()
  }
  const schedule = () => {
    if (timer || queue.length === 0) return
    timer = setTimeout(flush, Math.max(0, queue[0].due - performance.now()))
  }
  const enqueue = (chunk: Buffer | null) => {
    // Monotonic due times keep the order even if the clock's reading jitters.
    const last = queue.at(-1)?.due ?? 0
    queue.push({ due: Math.max(performance.now() + delayMs, notBefore + delayMs, last), chunk })
    if (chunk) queued += chunk.length
    schedule()
  }

  from.on('data', (chunk: Buffer) => {
    enqueue(chunk)
    if (!paused && backlog() > limit) {
      paused = true
      from.pause()
    }
  })
  from.once('end', () => enqueue(null))
  to.on('drain', maybeResume)
  from.once('close', () => {
    // A destroyed source with bytes still queued: deliver them (a real network would), then end.
    if (!from.readableEnded && !to.destroyed && queue.at(-1)?.chunk !== null) enqueue(null)
  })
  to.once('close', () => {
    if (timer) clearTimeout(timer)
    timer = undefined
    queue.length = 0
  })
}
