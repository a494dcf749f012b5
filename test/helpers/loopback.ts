import { mkdir, writeFile } from 'node:fs/promises'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { minimalConfig, tempProject } from './cli.js'

/** A fake S3 on 127.0.0.1 for the CLI-process tests: just enough of the bucket set-up and PutObject for `upload-data`. */
export interface FakeS3 {
  readonly url: string
  readonly port: number
  readonly requests: string[]
  /** Resolves when a request matching `pattern` has arrived. */
  arrived(pattern: RegExp): Promise<void>
  close(): Promise<void>
}

/**
 * HeadBucket says 404, bucket set-up succeeds; object uploads hang with `hangUploads`.
 * `status` answers every request with that HTTP status instead (a failing server).
 */
export async function fakeS3(o: { hangUploads?: boolean; status?: number } = {}): Promise<FakeS3> {
  const requests: string[] = []
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`)
    for (const w of waiters.filter((x) => requests.some((r) => x.pattern.test(r)))) w.resolve()
    req.resume()
    if (o.status) {
      res.statusCode = o.status
      res.end()
      return
    }
    if (/^\/dogs-data\/data\//.test(req.url ?? '') && o.hangUploads) return // never answered: the command is mid-flight
    if (req.method === 'HEAD') res.statusCode = 404
    res.setHeader('content-type', 'application/xml')
    res.end(req.method === 'GET' ? '<?xml version="1.0"?><ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>' : '')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    arrived: (pattern) => new Promise((resolve) => (requests.some((r) => pattern.test(r)) ? resolve() : waiters.push({ pattern, resolve }))),
    close: () => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** An HTTP CONNECT proxy on 127.0.0.1 that records each CONNECT target and tunnels only to 127.0.0.1 (others get 403). */
export async function loopbackProxy(): Promise<{ url: string; connects: string[]; close(): Promise<void> }> {
  const connects: string[] = []
  const sockets = new Set<net.Socket>()
  const server = http.createServer((_req, res) => {
    res.statusCode = 405
    res.end()
  })
  server.on('connect', (req: http.IncomingMessage, client: net.Socket) => {
    connects.push(req.url ?? '')
    sockets.add(client)
    const [host, port] = (req.url ?? '').split(':')
    if (host !== '127.0.0.1') {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n')
      return
    }
    const upstream = net.connect(Number(port), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.pipe(client)
      client.pipe(upstream)
    })
    sockets.add(upstream)
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connects,
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((r) => server.close(() => r()))
    },
  }
}

/** A project with a valid two-class dataset of six tiny JPEG-looking files. */
export async function datasetProject(): Promise<string> {
  const dir = await tempProject(minimalConfig())
  const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(100, 0x30)])
  for (const split of ['train', 'valid', 'test'])
    for (const cls of ['001.A', '002.B']) {
      await mkdir(path.join(dir, 'dogImages', split, cls), { recursive: true })
      await writeFile(path.join(dir, 'dogImages', split, cls, 'x.jpg'), jpeg)
    }
  return dir
}
