import { createHash, randomBytes } from 'node:crypto'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startRttProxy, type RttProxy } from '../../bench/upload/rtt-proxy.js'

/** A loopback echo server (or one that answers with a function of what it received). */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => {})
    s.pipe(s)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return { server, port: (server.address() as { port: number }).port, sockets }
}

async function connected(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve())
    s.once('error', reject)
  })
  return s
}

/** Writes `bytes`, ends, and collects everything echoed back until the other side ends. */
async function roundTrip(s: Socket, bytes: Buffer): Promise<Buffer> {
  const chunks: Buffer[] = []
  const done = new Promise<Buffer>((resolve, reject) => {
    s.on('data', (d: Buffer) => chunks.push(d))
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
  s.end(bytes)
  return done
}

describe('the benchmark RTT proxy', () => {
  let proxy: RttProxy | undefined
  let upstream: Awaited<ReturnType<typeof echoServer>> | undefined
  afterEach(async () => {
    await proxy?.close()
    await new Promise<void>((r) => (upstream ? upstream.server.close(() => r()) : r()))
    proxy = undefined
    upstream = undefined
  })

  it('delays one round trip by about the RTT, and a new connection by one more (the handshake)', async () => {
    upstream = await echoServer()
    proxy = await startRttProxy({ upstreamHost: '127.0.0.1', upstreamPort: upstream.port, rttMs: 60 })
    const s = await connected(proxy.port)
    const ping = async () => {
      const started = performance.now()
      const reply = new Promise<Buffer>((r) => s.once('data', r))
      s.write('ping')
      expect((await reply).toString()).toBe('ping')
      return performance.now() - started
    }
    const first = await ping()
    const second = await ping()
    s.destroy()
    expect(first).toBeGreaterThanOrEqual(2 * 60 - 2)
    expect(first).toBeLessThan(2 * 60 + 400)
    expect(second).toBeGreaterThanOrEqual(60 - 2)
    expect(second).toBeLessThan(60 + 400)
  })

  it('without handshake modelling, the first round trip costs one RTT', async () => {
    upstream = await echoServer()
    proxy = await startRttProxy({ upstreamHost: '127.0.0.1', upstreamPort: upstream.port, rttMs: 50, handshake: false })
    const s = await connected(proxy.port)
    const started = performance.now()
    const reply = await roundTrip(s, Buffer.from('x'))
    const took = performance.now() - started
    expect(reply.toString()).toBe('x')
    expect(took).toBeGreaterThanOrEqual(50 - 2)
    expect(took).toBeLessThan(50 + 400)
  })

  it('preserves the byte order of a large payload in both directions, with a small queue bound', async () => {
    upstream = await echoServer()
    proxy = await startRttProxy({ upstreamHost: '127.0.0.1', upstreamPort: upstream.port, rttMs: 10, maxQueuedBytes: 64 * 1024 })
    const payload = randomBytes(8 * 1024 * 1024)
    const s = await connected(proxy.port)
    const echoed = await roundTrip(s, payload)
    expect(echoed.length).toBe(payload.length)
    expect(createHash('sha256').update(echoed).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'))
  })

  it('closes cleanly: the FIN travels after the data, and close() ends every open pair', async () => {
    upstream = await echoServer()
    proxy = await startRttProxy({ upstreamHost: '127.0.0.1', upstreamPort: upstream.port, rttMs: 20 })
    const a = await connected(proxy.port)
    expect((await roundTrip(a, Buffer.from('bye'))).toString()).toBe('bye')
    await new Promise((r) => (a.destroyed ? r(undefined) : a.once('close', r)))

    const b = await connected(proxy.port)
    b.on('error', () => {})
    b.resume()
    // The proxy closing its side reaches the client as an end (or a reset): either way b is cut off.
    const bClosed = new Promise((r) => {
      b.once('end', r)
      b.once('close', r)
    })
    b.write('hello')
    await new Promise((r) => setTimeout(r, 60))
    expect(upstream.sockets.size).toBe(1)
    await proxy.close()
    await bClosed
    await new Promise((r) => setTimeout(r, 20))
    expect(upstream.sockets.size).toBe(0)
    expect(proxy.connections()).toBe(2)
    b.destroy()
    proxy = undefined
  })

  it('refuses a negative RTT', async () => {
    await expect(startRttProxy({ upstreamHost: '127.0.0.1', upstreamPort: 1, rttMs: -1 })).rejects.toThrow(/rttMs must be >= 0/)
  })
})
