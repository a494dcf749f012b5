import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createHandler } from '../../src/lambda-runtime/handler.js'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

// Issue 14 item 7: serverless endpoints take at most 4 MB per request; the Lambda and `invoke` allowed 5-6 MB.
const SERVERLESS = 'endpoint:\n  serverless: { memoryMb: 2048 }\n'
const MB = 1024 * 1024

async function pngOf(dir: string, bytes: number): Promise<string> {
  const file = path.join(dir, 'dog.png')
  const body = Buffer.alloc(bytes)
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(body)
  await writeFile(file, body)
  return file
}

describe('request size per endpoint kind', () => {
  it('lambda-setup gives the Lambda a 4 MB body limit in front of a serverless endpoint, 5 MiB (lambda.maxBodyBytes) otherwise', async () => {
    const env = async (config: string) => {
      const run = await runMlops(['lambda-setup', '--dry-run', '--json'], { cwd: await tempProject(config), env: OFFLINE_ENV })
      expect(run.code, run.stderr).toBe(0)
      return run.json().operations.find((o: { operation: string }) => o.operation === 'CreateFunction').input.Environment.Variables
    }
    expect((await env(minimalConfig(SERVERLESS))).MAX_BODY_BYTES).toBe(String(4 * MB))
    expect((await env(minimalConfig())).MAX_BODY_BYTES).toBe(String(5 * MB))
  })

  it('the handler answers 413 with its limit for a body over MAX_BODY_BYTES', async () => {
    const handle = createHandler({ env: { ENDPOINT_NAME: 'dogs-endpoint', MAX_BODY_BYTES: String(4 * MB) }, log: () => {}, newId: () => 'id' })
    const res = await handle({ requestContext: { http: { method: 'POST' } }, body: JSON.stringify({ image: 'A'.repeat(4.5 * MB) }) })
    expect(res.statusCode).toBe(413)
    expect(JSON.parse(res.body).error).toEqual({
      code: 'PayloadTooLarge',
      message: `The request is larger than ${4 * MB} bytes; send a smaller image or a URL.`,
    })
  })

  it('invoke refuses a 4.5 MB image for a serverless endpoint (exit 2, nothing sent); a real-time endpoint still takes it', async () => {
    const dir = await tempProject(minimalConfig(SERVERLESS))
    await pngOf(dir, 4.5 * MB)
    const refused = await runMlops(['invoke', 'dog.png', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('dog.png is 4.5 MB; a serverless endpoint takes at most 4 MB per request.')
    const viaLambda = await runMlops(['invoke', 'dog.png', '--lambda', '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(viaLambda.code).toBe(2)
    const realtime = await tempProject(minimalConfig())
    await pngOf(realtime, 4.5 * MB)
    const ok = await runMlops(['invoke', 'dog.png', '--dry-run', '--json'], { cwd: realtime, env: OFFLINE_ENV })
    expect(ok.code, ok.stderr).toBe(0)
  })
})
