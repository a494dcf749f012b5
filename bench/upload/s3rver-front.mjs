// The upload benchmark's S3 server with headroom (run.ts starts it with Node >= 24, s3rver 5's engines):
//
//   node s3rver-front.mjs <s3rver package dir> <storage dir> <port> <moto endpoint>
//
// Objects, listings, HeadBucket and CreateBucket are served in this process by s3rver (@20minutes/s3rver,
// Koa, files on disk), which keeps connections alive as S3 does and serves several times moto's request
// rate. s3rver does not implement the bucket settings `upload-data` applies and checks (public access
// block, encryption, policy, tagging, lifecycle, ACL): those requests are passed to moto, which therefore
// also gets every CreateBucket. `POST /__bench/reset` empties both. Prints `ready <port>` when listening.
import http from 'node:http'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

const [pkgDir, storageDir, portArg, motoEndpoint] = process.argv.slice(2)
if (!motoEndpoint) {
  process.stderr.write('usage: node s3rver-front.mjs <s3rver package dir> <storage dir> <port> <moto endpoint>\n')
  process.exit(2)
}
const lib = (file) => import(pathToFileURL(path.join(pkgDir, 'lib', file)).href).then((m) => m.default)
const S3rver = await lib('s3rver.js')
const AWSAccount = await lib('models/account.js')

// The benchmark signs with the same test keys for every tool; s3rver knows only its own by default.
AWSAccount.registry.get('S3RVER').createKeyPair('test', 'test')
// Signatures are not what is measured (and s3rver's canonical request differs from the JS SDK's on
// checksum headers); the key is still looked up.
const s3rver = new S3rver({ directory: storageDir, silent: process.env.BENCH_S3RVER_LOG !== '1', allowMismatchedSignatures: true })
const serveByS3rver = s3rver.callback()
const moto = new URL(motoEndpoint)

/** Bucket subresources s3rver answers NotImplemented for and `upload-data` sends. */
const MOTO_SUBRESOURCES = ['publicAccessBlock', 'encryption', 'policy', 'policyStatus', 'tagging', 'lifecycle', 'acl', 'ownershipControls', 'versioning']

function isBucketLevel(pathname) {
  return pathname.split('/').filter(Boolean).length === 1
}

/** The client's headers as moto gets them: its own host, no Expect (moto answers no 100 Continue). */
function motoHeaders(req) {
  const headers = { ...req.headers, host: moto.host }
  delete headers.expect
  return headers
}

/** Passes the client's request to moto and moto's answer back to the client. */
function toMoto(req, res) {
  return new Promise((resolve) => {
    const upstream = http.request({ host: moto.hostname, port: moto.port, method: req.method, path: req.url, headers: motoHeaders(req) }, (up) => {
      const out = { ...up.headers }
      delete out.connection // moto closes every connection; the client's stays open here
      res.writeHead(up.statusCode ?? 502, out)
      up.pipe(res)
      up.on('end', () => resolve(up.statusCode))
    })
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(String(err))
      resolve(502)
    })
    req.pipe(upstream)
  })
}

/** A request of the front's own to moto (`body` a string); resolves to moto's status, 502 when unreachable. */
function callMoto(method, path, { headers = {}, body = '' } = {}) {
  return new Promise((resolve) => {
    const request = http.request(
      { host: moto.hostname, port: moto.port, method, path, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (up) => {
        up.resume()
        up.on('end', () => resolve(up.statusCode))
      },
    )
    request.on('error', () => resolve(502))
    request.end(body)
  })
}

/**
 * After a reset, moto builds its S3 state lazily: the first CreateBucket took 170 ms and the first
 * PutPublicAccessBlock 510-560 ms here, the next ones 5-12 ms (bench-out probe, 20 ms proxy or none).
 * S3 has no such cold start, and whichever tool first touched a bucket setting paid it: mlops's first
 * upload, every round. So the reset pays it, on a throwaway bucket, before any tool is measured.
 */
async function warmMoto() {
  const bucket = '/mlops-bench-warm-up'
  const pab =
    '<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls>' +
    '<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>' +
    '</PublicAccessBlockConfiguration>'
  const steps = [
    { method: 'PUT', path: bucket },
    { method: 'PUT', path: `${bucket}?publicAccessBlock`, body: pab },
    { method: 'GET', path: `${bucket}?acl` },
    { method: 'DELETE', path: bucket },
  ]
  for (const step of steps) {
    if ((await callMoto(step.method, step.path, { body: step.body })) >= 300) return false
  }
  return true
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://front')
  if (url.pathname === '/__bench/reset' && req.method === 'POST') {
    s3rver.reset()
    const status = await callMoto('POST', '/moto-api/reset')
    res.writeHead(status === 200 && (await warmMoto()) ? 200 : 502).end()
    return
  }
  const bucketLevel = isBucketLevel(url.pathname)
  if (bucketLevel && MOTO_SUBRESOURCES.some((q) => url.searchParams.has(q))) {
    await toMoto(req, res)
    return
  }
  // CreateBucket: moto must know the bucket for its settings. The benchmark runs in us-east-1, where
  // CreateBucket has no body, so moto gets the same request without one.
  if (bucketLevel && req.method === 'PUT' && url.search === '') {
    const headers = motoHeaders(req)
    delete headers['content-length']
    delete headers['transfer-encoding']
    await callMoto('PUT', req.url, { headers })
  }
  serveByS3rver(req, res)
})
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`))
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.close(() => process.exit(0)))
