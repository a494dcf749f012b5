import { InvokeEndpointCommand, ModelError, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { sdkMock } from '../helpers/mock-sdk.js'
import { readFileSync } from 'node:fs'
import { beforeEach, describe, expect, it } from 'vitest'
import { checkUrl, createHandler, isPrivateAddress, type ProxyResult } from '../../src/lambda-runtime/handler.js'

const runtime = sdkMock(SageMakerRuntimeClient)
const client = new SageMakerRuntimeClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const JPEG = readFileSync(new URL('../../assets/sample.jpg', import.meta.url))
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='
const ENDPOINT_ANSWER = {
  predictions: [
    { label: 'Golden retriever', index: 75, probability: 0.91 },
    { label: 'Labrador retriever', index: 95, probability: 0.05 },
    { label: 'Kuvasz', index: 96, probability: 0.01 },
  ],
  top_k: 3,
  model: { arch: 'resnet50' },
}
/** A realistic Lambda context: every field here is something a caller must never see. */
const CONTEXT = {
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke:live',
  functionName: 'dogs-invoke',
  functionVersion: '3',
  logGroupName: '/aws/lambda/dogs-invoke',
  logStreamName: '2026/11/22/[3]abcdef0123456789',
  memoryLimitInMB: '256',
  getRemainingTimeInMillis: () => 29_000,
}

let logs: string[]
let clock: number
function handler(env: Record<string, string | undefined> = {}) {
  return createHandler({
    client: () => client,
    env: { ENDPOINT_NAME: 'dogs-endpoint', ...env },
    log: (l) => logs.push(l),
    now: () => (clock += 40),
    newId: () => 'a1b2c3d4e5f6',
  })
}
const body = (r: ProxyResult) => JSON.parse(r.body)
const sentBody = (i = 0) => JSON.parse(new TextDecoder().decode(runtime.commandCalls(InvokeEndpointCommand)[i].args[0].input.Body as Uint8Array))
const answer = (v: unknown) => ({ Body: new TextEncoder().encode(JSON.stringify(v)) as never, ContentType: 'application/json' })

beforeEach(() => {
  runtime.on(InvokeEndpointCommand).resolves(answer(ENDPOINT_ANSWER))
  logs = []
  clock = 0
})

describe('input shapes', () => {
  it('direct invocation with a URL: forwards it, answers breeds and probabilities in proxy format', async () => {
    const res = await handler()({ url: 'https://images.example.com/dogs/rex.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('application/json')
    expect(body(res)).toEqual({
      predictions: [
        { breed: 'Golden retriever', probability: 0.91 },
        { breed: 'Labrador retriever', probability: 0.05 },
        { breed: 'Kuvasz', probability: 0.01 },
      ],
      endpointLatencyMs: 40,
      requestId: 'a1b2c3d4e5f6',
    })
    expect(runtime).toHaveReceivedCommandWith(InvokeEndpointCommand, {
      EndpointName: 'dogs-endpoint',
      ContentType: 'application/json',
      Accept: 'application/json',
    })
    expect(sentBody()).toEqual({ url: 'https://images.example.com/dogs/rex.jpg', top_k: 3 })
  })

  it('direct invocation with a base64 image (data: URI prefix and line breaks allowed) and top_k', async () => {
    const b64 = JPEG.toString('base64')
    const wrapped = `data:image/jpeg;base64,${b64.replace(/(.{76})/g, '$1\n')}`
    const res = await handler()({ image: wrapped, top_k: 5 }, CONTEXT)
    expect(res.statusCode).toBe(200)
    expect(sentBody()).toEqual({ image: b64, top_k: 5 })
  })

  it('function URL event (HTTP API v2 shape), plain body', async () => {
    const event = {
      version: '2.0',
      rawPath: '/',
      headers: { 'content-type': 'application/json' },
      requestContext: { accountId: '123456789012', http: { method: 'POST', path: '/' }, requestId: 'x' },
      body: JSON.stringify({ image: PNG_1PX }),
      isBase64Encoded: false,
    }
    const res = await handler()(event, CONTEXT)
    expect(res.statusCode).toBe(200)
    expect(sentBody()).toEqual({ image: PNG_1PX, top_k: 3 })
  })

  it('API Gateway REST (v1) event with a base64-encoded body, TOP_K from the environment', async () => {
    const event = {
      httpMethod: 'POST',
      resource: '/predict',
      body: Buffer.from(JSON.stringify({ url: 'https://x.example/d.png' })).toString('base64'),
      isBase64Encoded: true,
    }
    const res = await handler({ TOP_K: '5' })(event, CONTEXT)
    expect(res.statusCode).toBe(200)
    expect(sentBody()).toEqual({ url: 'https://x.example/d.png', top_k: 5 })
    // An operator's TOP_K above the callers' usual cap of 20 is honoured and raises the cap.
    await handler({ TOP_K: '30' })({ url: 'https://x.example/d.png' }, CONTEXT)
    expect(sentBody(1)).toEqual({ url: 'https://x.example/d.png', top_k: 30 })
  })

  it('logs one structured JSON line per request with the awsRequestId, never the image', async () => {
    await handler()({ image: JPEG.toString('base64') }, CONTEXT)
    expect(logs).toHaveLength(1)
    const line = JSON.parse(logs[0])
    expect(line).toMatchObject({
      level: 'info',
      msg: 'prediction',
      requestId: 'a1b2c3d4e5f6',
      awsRequestId: CONTEXT.awsRequestId,
      input: 'image',
      bytes: JPEG.length,
      status: 200,
      top: 'Golden retriever',
    })
    expect(logs[0]).not.toContain(JPEG.toString('base64').slice(0, 40))
  })
})

describe('bad input -> 4xx with a reason, and the endpoint is never called', () => {
  const cases: [string, unknown, number, RegExp][] = [
    ['empty object', {}, 400, /Missing input: send \{"url"/],
    ['both fields', { url: 'https://a.example/x.jpg', image: PNG_1PX }, 400, /either "url" or "image", not both/],
    ['not an object', 'https://a.example/x.jpg', 400, /Send a JSON object/],
    ['array', [1, 2], 400, /Send a JSON object/],
    ['bad base64', { image: 'not base64!!' }, 400, /"image" is not valid base64/],
    ['base64 of text, not an image', { image: Buffer.from('hello world, not a picture').toString('base64') }, 400, /not a JPEG, PNG, GIF, BMP or WebP/],
    ['empty image', { image: '' }, 400, /non-empty base64 string/],
    ['image not a string', { image: 42 }, 400, /non-empty base64 string/],
    ['http URL', { url: 'http://images.example.com/a.jpg' }, 400, /Only https:\/\/ image URLs/],
    ['ftp URL', { url: 'ftp://images.example.com/a.jpg' }, 400, /Only https:\/\//],
    ['malformed URL', { url: 'https://' }, 400, /not a well-formed URL/],
    ['relative URL', { url: '/etc/passwd' }, 400, /not a well-formed URL/],
    ['URL with credentials', { url: 'https://user:secret@images.example.com/a.jpg' }, 400, /credentials/],
    ['URL too long', { url: `https://a.example/${'x'.repeat(2100)}` }, 400, /longer than 2048/],
    ['loopback', { url: 'https://127.0.0.1/a.jpg' }, 400, /private or local address/],
    ['decimal loopback', { url: 'https://2130706433/a.jpg' }, 400, /private or local address/],
    ['metadata service', { url: 'https://169.254.169.254/latest/meta-data/' }, 400, /private or local address/],
    ['private 10/8', { url: 'https://10.1.2.3/a.jpg' }, 400, /private or local address/],
    ['IPv6 loopback', { url: 'https://[::1]/a.jpg' }, 400, /private or local address/],
    ['IPv4-mapped IPv6', { url: 'https://[::ffff:192.168.0.1]/a.jpg' }, 400, /private or local address/],
    ['localhost', { url: 'https://localhost:8443/a.jpg' }, 400, /private or local address/],
    ['top_k 0', { url: 'https://a.example/x.jpg', top_k: 0 }, 400, /"top_k" must be a whole number from 1 to 20/],
    ['top_k text', { url: 'https://a.example/x.jpg', top_k: '3' }, 400, /"top_k"/],
  ]
  it.each(cases)('%s', async (_name, event, status, message) => {
    const res = await handler()(event, CONTEXT)
    expect(res.statusCode).toBe(status)
    expect(body(res).error.message).toMatch(message)
    expect(body(res).requestId).toBe('a1b2c3d4e5f6')
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
    expect(JSON.parse(logs[0])).toMatchObject({ level: 'warn', status })
  })

  it('proxy events: wrong method, empty body, invalid JSON, non-object JSON', async () => {
    const h = handler()
    const get = await h({ requestContext: { http: { method: 'GET' } }, body: null }, CONTEXT)
    expect([get.statusCode, body(get).error.code]).toEqual([405, 'MethodNotAllowed'])
    const empty = await h({ requestContext: { http: { method: 'POST' } }, body: '' }, CONTEXT)
    expect([empty.statusCode, body(empty).error.code]).toEqual([400, 'EmptyBody'])
    const notJson = await h({ httpMethod: 'POST', body: '{"url": ' }, CONTEXT)
    expect([notJson.statusCode, body(notJson).error.code]).toEqual([400, 'InvalidJson'])
    const list = await h({ httpMethod: 'POST', body: '[1]' }, CONTEXT)
    expect([list.statusCode, body(list).error.code]).toEqual([400, 'InvalidRequest'])
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
  })

  it('oversized bodies are refused before decoding (proxy, base64 proxy and direct)', async () => {
    const h = handler({ MAX_BODY_BYTES: '1000' })
    const big = JSON.stringify({ image: 'A'.repeat(2000) })
    for (const event of [
      { requestContext: { http: { method: 'POST' } }, body: big },
      { httpMethod: 'POST', body: Buffer.from(big).toString('base64'), isBase64Encoded: true },
      { image: `/9j/${'A'.repeat(2000)}` },
    ]) {
      const res = await h(event, CONTEXT)
      expect(res.statusCode).toBe(413)
      expect(body(res).error.message).toMatch(/larger than 1000 bytes/)
    }
    expect(runtime.commandCalls(InvokeEndpointCommand)).toHaveLength(0)
  })
})

describe('endpoint failures and configuration', () => {
  it('an endpoint error becomes 502 with a fixed message; the details only reach the log', async () => {
    runtime
      .on(InvokeEndpointCommand)
      .rejects(Object.assign(new Error('Endpoint dogs-endpoint of account 123456789012 not found.'), { name: 'ValidationError' }))
    const res = await handler()({ url: 'https://a.example/x.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(502)
    expect(body(res)).toEqual({
      error: { code: 'EndpointError', message: 'The model endpoint could not answer. Try again later; quote the requestId when reporting it.' },
      requestId: 'a1b2c3d4e5f6',
    })
    expect(JSON.parse(logs[0])).toMatchObject({
      level: 'error',
      msg: 'endpoint call failed',
      detail: 'Endpoint dogs-endpoint of account 123456789012 not found.',
    })
  })

  it("the model's own 400 (a refused URL) becomes a 400 with a fixed message; its first line goes to the log only (issue 19)", async () => {
    runtime.on(InvokeEndpointCommand).rejects(
      new ModelError({
        $metadata: {},
        message: 'Received client error (400) from primary with message "cannot use the image URL..."',
        OriginalStatusCode: 400,
        OriginalMessage:
          'cannot use the image URL: HTTP 404 from arn:aws:s3:::bucket-123456789012\nTraceback (most recent call last):\n  File "/opt/ml/model/code/inference.py"',
        LogStreamArn: 'arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/dogs-endpoint',
      }),
    )
    const res = await handler()({ url: 'https://a.example/missing.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(400)
    expect(body(res).error).toEqual({
      code: 'ImageRejected',
      message: 'The model could not use this input: send a JPEG or PNG image, or an https URL of one on a public host. Quote the requestId when reporting it.',
    })
    expect(JSON.stringify(res)).not.toContain('HTTP 404')
  })

  it('a model 5xx, throttling or a broken answer is a 502', async () => {
    runtime
      .on(InvokeEndpointCommand)
      .rejectsOnce(new ModelError({ $metadata: {}, message: 'x', OriginalStatusCode: 500, OriginalMessage: 'Worker died.' }))
      .resolvesOnce(answer({ logits: [1, 2, 3] }))
      .resolvesOnce({ Body: new TextEncoder().encode('<html>') as never })
    const h = handler()
    const a = await h({ url: 'https://a.example/x.jpg' }, CONTEXT)
    const b = await h({ url: 'https://a.example/x.jpg' }, CONTEXT)
    const c = await h({ url: 'https://a.example/x.jpg' }, CONTEXT)
    expect([a.statusCode, b.statusCode, c.statusCode]).toEqual([502, 502, 502])
    expect(body(a).error.message).not.toMatch(/Worker died/)
    expect(body(b).error.code).toBe('UnexpectedAnswer')
  })

  it('without ENDPOINT_NAME the function answers 500 and logs why', async () => {
    const res = await handler({ ENDPOINT_NAME: undefined })({ url: 'https://a.example/x.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(500)
    expect(body(res).error.code).toBe('Misconfigured')
    expect(logs[0]).toMatch(/ENDPOINT_NAME is not set/)
  })

  it('a bug inside the handler is a 500 without a stack trace', async () => {
    let calls = 0
    const now = () => {
      if (++calls === 2) throw new TypeError('boom at /var/task/handler.js:12')
      return 0
    }
    const broken = createHandler({ client: () => client, env: { ENDPOINT_NAME: 'e' }, log: (l) => logs.push(l), now, newId: () => 'id' })
    const res = await broken({ url: 'https://a.example/x.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(500)
    expect(body(res)).toEqual({ error: { code: 'InternalError', message: 'Something went wrong; quote the requestId when reporting it.' }, requestId: 'id' })
    expect(res.body).not.toMatch(/boom|handler\.js|TypeError/)
    expect(JSON.parse(logs[0])).toMatchObject({ level: 'error', msg: 'unexpected error', error: 'TypeError: boom at /var/task/handler.js:12' })
  })

  it('never throws, even when the id generator and the logger do', async () => {
    const h = createHandler({
      client: () => client,
      env: { ENDPOINT_NAME: 'e' },
      log: () => {
        throw new Error('stdout closed')
      },
      newId: () => {
        throw new Error('no entropy')
      },
    })
    const res = await h({ url: 'https://a.example/x.jpg' }, CONTEXT)
    expect(res.statusCode).toBe(200)
    expect(body(res).requestId).toBe('unknown')
  })
})

describe('no leaks', () => {
  it('no response contains an ARN, the account id, a context field or a stack, on any path', async () => {
    const leaky = 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/dogs-endpoint'
    runtime
      .on(InvokeEndpointCommand)
      .resolvesOnce(answer(ENDPOINT_ANSWER))
      .rejectsOnce(
        Object.assign(
          new Error(
            `User: arn:aws:sts::123456789012:assumed-role/dogs-lambda/dogs-invoke is not authorized to perform: sagemaker:InvokeEndpoint on resource: ${leaky}`,
          ),
          { name: 'AccessDeniedException', stack: 'AccessDeniedException: ...\n    at /var/runtime/x.js:1:1' },
        ),
      )
      .rejectsOnce(new ModelError({ $metadata: {}, message: 'm', OriginalStatusCode: 400, OriginalMessage: `bad image for ${leaky} in account 123456789012` }))
    const h = handler()
    const responses = [
      await h({ url: 'https://a.example/x.jpg' }, CONTEXT),
      await h({ url: 'https://a.example/x.jpg' }, CONTEXT),
      await h({ url: 'https://a.example/x.jpg' }, CONTEXT),
      await h({ url: 'http://a.example/x.jpg' }, CONTEXT),
      await h({ requestContext: { accountId: '123456789012', http: { method: 'POST' } }, body: '{' }, CONTEXT),
    ]
    expect(responses.map((r) => r.statusCode)).toEqual([200, 502, 400, 400, 400])
    for (const r of responses) {
      const text = JSON.stringify(r)
      expect(text).not.toMatch(/arn:aws/)
      expect(text).not.toContain('123456789012')
      for (const value of [CONTEXT.awsRequestId, CONTEXT.invokedFunctionArn, CONTEXT.logStreamName, CONTEXT.logGroupName]) expect(text).not.toContain(value)
      for (const key of ['invokedFunctionArn', 'logStreamName', 'logGroupName', 'functionVersion', 'memoryLimitInMB', 'awsRequestId', 'stack']) {
        expect(text).not.toContain(key)
      }
      expect(Object.keys(JSON.parse(r.body)).sort()).toEqual(r.statusCode === 200 ? ['endpointLatencyMs', 'predictions', 'requestId'] : ['error', 'requestId'])
    }
  })
})

describe('URL checks', () => {
  it('accepts public hosts and refuses private literals', () => {
    expect(checkUrl('https://upload.wikimedia.org/wikipedia/commons/a/a8/Dog.jpg').hostname).toBe('upload.wikimedia.org')
    expect(checkUrl('https://8.8.8.8/x.jpg').hostname).toBe('8.8.8.8')
    expect(checkUrl('https://[2606:4700::1111]/x.jpg').hostname).toBe('[2606:4700::1111]')
    for (const host of [
      '10.0.0.1',
      '172.16.5.4',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '::',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
    ]) {
      expect(isPrivateAddress(host), host).toBe(true)
    }
    for (const host of ['172.32.0.1', '8.8.8.8', '2606:4700::1111', 'example.com', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(host), host).toBe(false)
    }
  })
})

describe('no internal detail reaches callers (issue 19 item 7)', () => {
  it('the inference error line, resolved private addresses and the endpoint name stay in the logs', async () => {
    const logs: string[] = []
    const h = createHandler({ client: () => client, env: { ENDPOINT_NAME: 'dogs-prod-endpoint' }, log: (l) => logs.push(l), newId: () => 'req-1' })
    runtime.reset()
    runtime
      .on(InvokeEndpointCommand)
      .rejectsOnce(
        new ModelError({
          $metadata: {},
          message: 'Received client error (400) from primary with message "refusing to fetch"',
          OriginalStatusCode: 400,
          OriginalMessage: "refusing to fetch from 'localhost': it resolves to a loopback address 127.0.0.1\nTraceback ...",
        }),
      )
      .rejectsOnce(
        new ModelError({
          $metadata: {},
          message: 'x',
          OriginalStatusCode: 400,
          OriginalMessage: "refusing to fetch from 'intranet.example': it resolves to a private address 10.1.2.3",
        }),
      )
      .rejectsOnce(Object.assign(new Error('Endpoint dogs-prod-endpoint of account 123456789012 not found.'), { name: 'ValidationError' }))
    const responses = [
      await h({ url: 'https://a.example/x.jpg' }, CONTEXT),
      await h({ url: 'https://intranet.example/x.jpg' }, CONTEXT),
      await h({ url: 'https://a.example/x.jpg' }, CONTEXT),
    ]
    expect(responses.map((r) => [r.statusCode, body(r).error.code])).toEqual([
      [400, 'ImageRejected'],
      [400, 'ImageRejected'],
      [502, 'EndpointError'],
    ])
    for (const r of responses) {
      const text = JSON.stringify(r)
      for (const secret of ['localhost', '127.0.0.1', '10.1.2.3', 'intranet', 'loopback', 'dogs-prod-endpoint', 'refusing']) expect(text).not.toContain(secret)
    }
    expect(body(responses[0]).error.message).toBe(body(responses[1]).error.message)
    const logged = logs.map((l) => JSON.parse(l))
    expect(logged[0]).toMatchObject({
      msg: 'endpoint call failed',
      modelMessage: "refusing to fetch from 'localhost': it resolves to a loopback address 127.0.0.1",
    })
    expect(logged[1].modelMessage).toContain('10.1.2.3')
    expect(logged[2].detail).toContain('dogs-prod-endpoint')
  })
})
