import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createAwsClientFactory } from '../../src/aws/clients.js'
import { putObject } from '../../src/aws/s3/upload.js'

/**
 * The S3 client's transfer path (src/aws/s3/transfer-client.ts, src/aws/request-signal.ts), against a
 * local HTTP server that records what arrives: the payload hash comes from the input's ChecksumSHA256,
 * the middleware stack is resolved once per client, and the signal carried in the input still cancels
 * a request in flight, retries included.
 */

interface Received {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

let server: Server
let received: Received[]
/** Per request: 'ok' answers 200, 'fail' a retryable 500, 'stall' never answers. */
let behaviour: (n: number) => 'ok' | 'fail' | 'stall'
let closedWhileStalled: number
let s3: S3Client

beforeEach(async () => {
  received = []
  behaviour = () => 'ok'
  closedWhileStalled = 0
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) })
      const what = behaviour(received.length)
      if (what === 'stall') {
        res.on('close', () => closedWhileStalled++)
        return
      }
      if (what === 'fail') {
        res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>try again</Message></Error>')
        return
      }
      res.writeHead(200, { etag: `"etag-${received.length}"` }).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const factory = createAwsClientFactory({
    region: 'us-east-1',
    endpointUrl: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 3,
    version: 'test',
  })
  ;({ s3 } = await factory(['s3']))
})

afterEach(async () => {
  s3.destroy()
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  vi.restoreAllMocks()
})

function body(size = 100_000) {
  const bytes = randomBytes(size)
  const sha256 = createHash('sha256').update(bytes).digest()
  return { bytes, hex: sha256.toString('hex'), base64: sha256.toString('base64') }
}

const input = (b: ReturnType<typeof body>, key = 'data/train/001.A/a.jpg') => ({
  Bucket: 'dogs-data',
  Key: key,
  Body: b.bytes,
  ContentLength: b.bytes.length,
  ChecksumAlgorithm: 'SHA256' as const,
  ChecksumSHA256: b.base64,
})

describe('the S3 transfer client', () => {
  it('signs a PutObject with the sha256 its input carries, and the body arrives unchanged beside that checksum', async () => {
    const b = body()
    const out = await putObject(s3, input(b), {})
    expect(out).toEqual({ etag: '"etag-1"' })
    expect(received).toHaveLength(1)
    const [r] = received
    expect(r.method).toBe('PUT')
    expect(r.url).toBe('/dogs-data/data/train/001.A/a.jpg?x-id=PutObject')
    expect(r.headers['x-amz-content-sha256']).toBe(b.hex)
    expect(r.headers['x-amz-checksum-sha256']).toBe(b.base64)
    expect(r.headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-content-sha256/)
    expect(createHash('sha256').update(r.body).digest('hex')).toBe(b.hex)
  })

  it("takes the payload hash from the input's ChecksumSHA256 instead of hashing the body again", async () => {
    // A checksum of other bytes shows where the signed hash comes from (S3 would reject this request).
    const sent = body(2_000)
    const claimed = body(2_000)
    await putObject(s3, { ...input(sent), ChecksumSHA256: claimed.base64 }, {})
    expect(received[0].headers['x-amz-content-sha256']).toBe(claimed.hex)
    expect(received[0].headers['x-amz-content-sha256']).not.toBe(sent.hex)
  })

  it('leaves the payload hash to the SDK when the input carries no checksum (it is the real sha256, not a preset)', async () => {
    const b = body(5_000)
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: 'plain.txt', Body: b.bytes }))
    expect(received[0].headers['x-amz-content-sha256']).toBe(b.hex)
  })

  it('resolves the middleware stack once for many PutObjects (the per-send cost the cache removes)', async () => {
    const resolve = vi.spyOn(PutObjectCommand.prototype, 'resolveMiddleware')
    const b = body(1_000)
    for (let i = 0; i < 5; i++) await putObject(s3, input(b, `k${i}`), { signal: new AbortController().signal })
    expect(received.map((r) => new URL(r.url, 'http://x').pathname)).toEqual([
      '/dogs-data/k0',
      '/dogs-data/k1',
      '/dogs-data/k2',
      '/dogs-data/k3',
      '/dogs-data/k4',
    ])
    expect(resolve).toHaveBeenCalledTimes(1)
  })

  it('cancels a request in flight when the signal in its input aborts, and closes its connection', async () => {
    behaviour = () => 'stall'
    const controller = new AbortController()
    const pending = putObject(s3, input(body()), { signal: controller.signal })
    await vi.waitFor(() => expect(received).toHaveLength(1))
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await vi.waitFor(() => expect(closedWhileStalled).toBe(1))
  })

  it('the signal still reaches the retried request (the retry clones the request before the signal is attached)', async () => {
    behaviour = (n) => (n === 1 ? 'fail' : 'stall')
    const controller = new AbortController()
    const pending = putObject(s3, input(body()), { signal: controller.signal })
    await vi.waitFor(() => expect(received).toHaveLength(2), { timeout: 4_000 })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await vi.waitFor(() => expect(closedWhileStalled).toBe(1))
  })

  it('sends nothing when the signal has already aborted', async () => {
    const controller = new AbortController()
    controller.abort()
    await expect(putObject(s3, input(body()), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' })
    expect(received).toHaveLength(0)
  })
})
