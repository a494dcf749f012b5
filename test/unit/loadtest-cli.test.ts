import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { sdkMock } from '../helpers/mock-sdk.js'
import { describe, expect, it } from 'vitest'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const OFFLINE = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_ENDPOINT_URL: undefined }
const ANSWER = { predictions: [{ label: 'Beagle', index: 15, probability: 0.9 }] }
const SAMPLE_BYTES = 14776

const runtime = sdkMock(SageMakerRuntimeClient)
const lambda = sdkMock(LambdaClient)
describe('loadtest flags and dry run', () => {
  it('bad values exit 2 naming the flag, and nothing is sent', async () => {
    const dir = await tempProject(minimalConfig())
    const cases: [string[], RegExp | string][] = [
      [['--concurrency', '1,0'], '--concurrency: must be at least 1 (concurrent requests), got "0".'],
      [['--concurrency', '1,2000'], '--concurrency: must be at most 1000 (concurrent requests), got "2000".'],
      [['--concurrency', '1,2,3,4,5,6,7,8,9,10,11'], '--concurrency: must have at most 10 levels, got "1,2,3,4,5,6,7,8,9,10,11".'],
      [['--duration', 'soon'], /--duration: "soon" is not a duration/],
      [['--slo', 'fast'], '--slo: must be a latency such as 1s or 300ms, got "fast".'],
      [['--rate', '0'], '--rate: must be a number of requests per second above 0, got "0".'],
      [['--max-requests', '0'], '--max-requests: must be at least 1 (requests), got "0".'],
      [['--lambda', '--local'], /either --lambda or --local/],
      [['--port', '9000'], /--port is the local server port and needs --local/],
      [['--image', 'missing.jpg'], /--image: no file at .*missing\.jpg/],
    ]
    for (const [args, message] of cases) {
      const run = await runMlops(['loadtest', ...args, '--yes'], { cwd: dir, env: OFFLINE, awsFactory: noAwsFactory() })
      expect(run.code, args.join(' ')).toBe(2)
      if (typeof message === 'string') expect(run.stderr).toContain(message)
      else expect(run.stderr).toMatch(message)
    }
  })

  it('--dry-run --json shows the request and its bounds, and reaches no AWS', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['loadtest', '--dry-run', '--json', '--rate', '5', '--duration', '10s', '--concurrency', '2,4', '--max-requests', '500'], {
      cwd: dir,
      env: OFFLINE,
      awsFactory: noAwsFactory(),
    })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc).toMatchObject({
      dryRun: true,
      target: { kind: 'endpoint', name: 'dogs-endpoint' },
      settings: { durationMs: 10_000, concurrency: [2, 4], rate: 5, sloMs: 1000, maxRequests: 100, payloadBytes: SAMPLE_BYTES },
    })
    expect(doc.operations).toEqual([
      {
        service: 'sagemaker-runtime',
        operation: 'InvokeEndpoint',
        input: { EndpointName: 'dogs-endpoint', ContentType: 'image/jpeg', Accept: 'application/json', Body: '<14.4 KB from sample.jpg>' },
      },
    ])
    const human = await runMlops(['loadtest', '--dry-run', '--lambda'], { cwd: dir, env: OFFLINE, awsFactory: noAwsFactory() })
    expect(human.stdout).toMatch(
      /Would send up to 10000 requests over 4 levels \(concurrency 1, 2, 4, 8\) of 30s each, 14\.4 KB each, to lambda dogs-invoke:live/,
    )
    expect(human.stdout).toMatch(/Invoke/)
  })
})

describe('loadtest against the endpoint and the Lambda (fakes)', () => {
  it('refuses without --yes, saying what it would send, and sends nothing', async () => {
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['loadtest', '--max-requests', '20'], { cwd: dir, awsFactory: fakeAwsFactory() })
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/Send up to 20 requests over 4 levels .* to endpoint dogs-endpoint\? Each is a billed invocation: this needs confirmation/)
    expect(run.stderr).toMatch(/--yes/)
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
  })

  it('each level lasts its duration, counts requests exactly and never passes --max-requests', async () => {
    const dir = await tempProject(minimalConfig())
    const clock = fastClock()
    // Every answer takes 10 ms of (virtual) time, so a 1 s level at concurrency 1 is 100 requests.
    runtime.on(InvokeEndpointCommand).callsFake(async () => {
      clock.advance(10)
      return { Body: new TextEncoder().encode(JSON.stringify(ANSWER)), ContentType: 'application/json' }
    })
    const run = await runMlops(['loadtest', '--yes', '--json', '--duration', '1s', '--concurrency', '1,2', '--max-requests', '150'], {
      cwd: dir,
      clock,
      awsFactory: fakeAwsFactory(),
    })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(Object.keys(doc)).toEqual(['target', 'levels', 'recommendation', 'costPer1000'])
    // 1 x ml.m5.large (the config's endpoint; nothing deployed is recorded) at $0.115/hour from the
    // built-in table, answering 100 x 0.5 x 3600 = 180,000 predictions an hour at the target.
    expect(doc.costPer1000).toMatchObject({
      usd: 0.000639,
      basis: 'instance',
      serving: { kind: 'instance', instanceType: 'ml.m5.large', instanceCount: 1 },
      priceSource: expect.stringContaining('built-in table (2026-11, us-east-1, approximate), MLOPS_PRICE_LIST=off'),
    })
    expect(doc.levels.map((l: { requests: number }) => l.requests)).toEqual([100, 50])
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(150)
    expect(runtime.commandCalls(InvokeEndpointCommand)[0].args[0].input).toMatchObject({ EndpointName: 'dogs-endpoint', ContentType: 'image/jpeg' })
    expect(doc.levels[0]).toEqual({ concurrency: 1, requests: 100, errors: {}, rps: 100, p50Ms: 10, p95Ms: 10, p99Ms: 10 })
    expect(doc.recommendation).toMatchObject({ maxRps: 100, targetInvocationsPerInstance: 3000, lambdaProvisionedConcurrency: 1, lambdaReservedConcurrency: 2 })
    const saved = JSON.parse(await readFile(path.join(dir, '.mlops', 'loadtest.json'), 'utf8'))
    expect(saved).toMatchObject({ target: doc.target, levels: doc.levels, recommendation: doc.recommendation, settings: { maxRequests: 150 } })
    expect(run.stderr).toMatch(/Saved to .*loadtest\.json/)
  })

  it('--lambda invokes the live alias with the image and counts HTTP errors by status', async () => {
    const dir = await tempProject(minimalConfig())
    const clock = fastClock()
    let n = 0
    lambda.on(InvokeCommand).callsFake(async () => {
      clock.advance(20)
      const failed = ++n % 5 === 0
      const payload = failed ? { statusCode: 502, body: JSON.stringify({ error: 'endpoint down' }) } : { statusCode: 200, body: JSON.stringify(ANSWER) }
      return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(payload)) }
    })
    const run = await runMlops(['loadtest', '--lambda', '--yes', '--json', '--duration', '1s', '--concurrency', '1'], {
      cwd: dir,
      clock,
      awsFactory: fakeAwsFactory(),
    })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc.target).toEqual({ kind: 'lambda', name: 'dogs-invoke:live' })
    expect(doc.levels).toEqual([{ concurrency: 1, requests: 50, errors: { '502': 10 }, rps: 50, p50Ms: 20, p95Ms: 20, p99Ms: 20 }])
    const input = lambda.commandCalls(InvokeCommand)[0].args[0].input
    expect(input).toMatchObject({ FunctionName: 'dogs-invoke', Qualifier: 'live' })
    expect(JSON.parse(Buffer.from(input.Payload as Uint8Array).toString()).image).toHaveLength(Math.ceil(SAMPLE_BYTES / 3) * 4)
    expect(doc.recommendation.maxRps).toBe(0)
    // No usable level: nothing to price.
    expect(doc.costPer1000).toBeUndefined()
  })
})

describe('deploy --idle-stop (offline)', () => {
  it('a bad value exits 2 naming the flag, before anything is read or sent', async () => {
    const dir = await tempProject(minimalConfig())
    const bad = await runMlops(['deploy', '--idle-stop', '1m', '--dry-run'], { cwd: dir, env: OFFLINE, awsFactory: noAwsFactory() })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--idle-stop: between 5m and 24h, got "1m".')
  })
})
