import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 31 item 6: a local command gives local hints. `invoke --local` with nothing on the port says
 * to start `mlops serve`, never the region or --endpoint-url; a model error from `serve` (its
 * InvokeEndpoint-shaped 424 for a 400 from the predictor) points at serve's terminal, not CloudWatch.
 */
const SAMPLE = path.resolve(import.meta.dirname, '../../assets/sample.jpg')
const CLOUD_ADVICE = /CloudWatch|--region|--endpoint-url|account and region|log group/

let server: Server | undefined
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)))
  server = undefined
})

/** A stand-in for `mlops serve`'s runtime route answering as scripts/serve.py does for a predictor's 400. */
async function serveAnswering400(): Promise<number> {
  server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const body = {
        ErrorCode: 'CLIENT_ERROR_FROM_MODEL',
        Message: 'Received client error (400) from primary with message "not an image".',
        OriginalStatusCode: 400,
        OriginalMessage: 'not an image',
      }
      res.writeHead(424, { 'content-type': 'application/json', 'x-amzn-ErrorType': 'ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/' })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
  return (server!.address() as AddressInfo).port
}

/** A port nothing listens on: one the OS just gave out and took back. */
async function closedPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

describe('invoke --local gives local hints', () => {
  it('with no server: start `mlops serve` (and the port), exit 1, no cloud advice', async () => {
    const dir = await tempProject(minimalConfig())
    const port = await closedPort()
    for (const extra of [[], ['--lambda']]) {
      const r = await runMlops(['invoke', SAMPLE, '--local', '--port', String(port), ...extra], { cwd: dir })
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toContain(`Nothing answers on http://127.0.0.1:${port}: \`mlops serve\` is not running there.`)
      expect(r.stderr).toContain(`\`mlops serve --port ${port}\``)
      expect(r.stderr).not.toMatch(CLOUD_ADVICE)
    }
  })

  it('--json with no server: the error document names the code', async () => {
    const dir = await tempProject(minimalConfig())
    const r = await runMlops(['invoke', SAMPLE, '--local', '--port', String(await closedPort()), '--json'], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.json()).toMatchObject({ error: { code: 'LocalServerNotRunning' } })
  })

  it("a 400 from serve's predictor points at serve's terminal, not CloudWatch", async () => {
    const dir = await tempProject(minimalConfig())
    const port = await serveAnswering400()
    const r = await runMlops(['invoke', SAMPLE, '--local', '--port', String(port)], { cwd: dir })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain('Endpoint dogs-endpoint (local) could not answer (HTTP 400 from the model)')
    expect(r.stderr).toContain(`\`mlops serve\` (port ${port}) prints each request and the predictor's traceback in its terminal`)
    expect(r.stderr).not.toMatch(CLOUD_ADVICE)
  })

  it('through the local Lambda handler: its [lambda] line and serve, not the function logs in CloudWatch', async () => {
    const dir = await tempProject(minimalConfig())
    const port = await serveAnswering400()
    const r = await runMlops(['invoke', SAMPLE, '--local', '--lambda', '--port', String(port)], { cwd: dir })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain('The bundled Lambda handler ran in this process: its [lambda] line above has the detail.')
    expect(r.stderr.split('hint:')[1]).not.toMatch(CLOUD_ADVICE)
  })

  it('against AWS the cloud hints stay (the same 424 from an endpoint)', async () => {
    const dir = await tempProject(minimalConfig())
    const port = await serveAnswering400()
    const env = { AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' }
    const r = await runMlops(['invoke', SAMPLE], { cwd: dir, env })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('CloudWatch, log group /aws/sagemaker/Endpoints/dogs-endpoint')
  })
})
