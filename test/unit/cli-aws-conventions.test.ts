import { afterEach, describe, expect, it } from 'vitest'
import { createAwsClientFactory } from '../../src/aws/clients.js'
import { runMlops } from '../helpers/cli.js'
import { datasetProject, fakeS3, loopbackProxy } from '../helpers/loopback.js'

/** AWS CLI conventions the SDK does not apply by itself, seen from loopback servers (127.0.0.1 only). */
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})
const track = <T extends { close(): Promise<void> }>(x: T) => (closers.push(() => x.close()), x)
const creds = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1' }

describe('HTTPS_PROXY / HTTP_PROXY / NO_PROXY', () => {
  it('every call of a command goes through HTTP_PROXY to an http:// endpoint', async () => {
    const s3 = track(await fakeS3())
    const proxy = track(await loopbackProxy())
    const run = await runMlops(['upload-data', '--yes'], { cwd: await datasetProject(), env: { ...creds, AWS_ENDPOINT_URL: s3.url, HTTP_PROXY: proxy.url } })
    expect(run.code, run.stderr).toBe(0)
    expect(s3.requests.length).toBeGreaterThanOrEqual(13) // bucket set-up and six uploads
    expect(proxy.connects.length).toBeGreaterThan(0)
    expect(new Set(proxy.connects)).toEqual(new Set([`127.0.0.1:${s3.port}`]))
  })

  it('HTTPS_PROXY carries https:// endpoints (the proxy refuses the tunnel, so the call fails there, not on the network)', async () => {
    const proxy = track(await loopbackProxy())
    const run = await runMlops(['upload-data', '--yes', '--endpoint-url', 'https://s3.mlops-test.invalid'], {
      cwd: await datasetProject(),
      env: { ...creds, HTTPS_PROXY: proxy.url },
    })
    expect(run.code).toBe(1)
    expect(proxy.connects[0]).toBe('s3.mlops-test.invalid:443')
  })

  it('NO_PROXY names hosts that are reached directly', async () => {
    const s3 = track(await fakeS3())
    const proxy = track(await loopbackProxy())
    const run = await runMlops(['upload-data', '--yes'], {
      cwd: await datasetProject(),
      env: { ...creds, AWS_ENDPOINT_URL: s3.url, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' },
    })
    expect(run.code, run.stderr).toBe(0)
    expect(proxy.connects).toEqual([])
    expect(s3.requests.length).toBeGreaterThanOrEqual(13)
  })
})

describe('AWS_MAX_ATTEMPTS', () => {
  // The real factory: the test helper's usual one-attempt override would hide what the variable does.
  const run = async (attempts: string) => {
    const s3 = track(await fakeS3({ status: 500 }))
    const res = await runMlops(['upload-data', '--yes'], {
      cwd: await datasetProject(),
      env: { ...creds, AWS_ENDPOINT_URL: s3.url, AWS_MAX_ATTEMPTS: attempts },
      awsFactory: createAwsClientFactory,
    })
    return { res, heads: s3.requests.filter((r) => r.startsWith('HEAD ')).length }
  }

  it('=1 makes exactly one attempt against a failing server; =3 makes three', async () => {
    const one = await run('1')
    expect(one.res.code).toBe(1)
    expect(one.heads).toBe(1)
    const three = await run('3')
    expect(three.res.code).toBe(1)
    expect(three.heads).toBe(3)
  })
})
