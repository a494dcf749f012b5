import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/** --endpoint-url at something that is not AWS (issue 31 item 12): a plain message, not "Unexpected error: SyntaxError". */

let server: http.Server
let url: string
beforeAll(async () => {
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' })
    res.end('<!doctype html><html><body>Sign in to the corporate proxy</body></html>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('an endpoint that answers HTML', () => {
  it('is named as not the AWS API, with the settings to check, exit 1 and no stack trace', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['logs', 'dogs-train-2026-11-22-10-00-00-000', '--endpoint-url', url], {
      cwd: dir,
      env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', MLOPS_PRICE_LIST: 'off' },
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/✖ The endpoint( for \S+)? answered something that is not the AWS API \(an HTML page, or not JSON\/XML\)\./)
    expect(run.stderr).toContain('hint: Check --endpoint-url, AWS_ENDPOINT_URL and any proxy')
    expect(run.stderr).not.toContain('Unexpected error')
    expect(run.stderr).not.toContain('Deserialization error')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})
