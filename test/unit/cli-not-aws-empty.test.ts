import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * Issue 27: --endpoint-url at a plain HTTP server that answers 200 with an empty body or `{}` (not
 * only HTML): every command path names it as not the AWS API instead of "Endpoint undefined is
 * undefined", "Training job undefined is still running" or a TypeError.
 */

const MODEL = 's3://dogs-data/output/j/output/model.tar.gz'
const servers: http.Server[] = []
const urls: Record<string, string> = {}

beforeAll(async () => {
  for (const [name, type, body] of [
    ['empty', 'text/plain', ''],
    ['json', 'application/json', '{}'],
  ]) {
    const server = http.createServer((req, res) => {
      req.resume()
      res.writeHead(200, { 'Content-Type': type })
      res.end(body)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    servers.push(server)
    urls[name] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
})
afterAll(() => Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))))

describe('an endpoint that answers 200 with nothing AWS-like', () => {
  const forms = [
    ['status'],
    ['teardown', '--yes'],
    ['deploy', '--model', MODEL, '--yes'],
    ['lambda-setup', '--yes'],
    ['logs', 'dogs-train-2026-11-22-10-00-00-000'],
    ['scale', '--yes'],
    ['scale', '--show'],
    ['scale', '--lambda-reserved', '5', '--yes'],
    ['train-ec2', '--yes'],
    ['audit-iam'],
  ]
  it.each(['empty', 'json'])('%s: every command says it is not the AWS API, exit 1, nothing else', { timeout: 120_000 }, async (kind) => {
    const dir = await tempProject(minimalConfig())
    for (const args of forms) {
      const run = await runMlops([...args, '--endpoint-url', urls[kind]], {
        cwd: dir,
        env: { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', MLOPS_PRICE_LIST: 'off' },
      })
      const label = `${kind}: ${args.join(' ')}: ${run.stderr}`
      expect(run.code, label).toBe(1)
      expect(run.stderr, label).toMatch(/✖ The endpoint( for \S+)? answered something that is not the AWS API/)
      expect(run.stderr, label).not.toMatch(/Unexpected error|undefined|\n\s+at /)
    }
  })
})
