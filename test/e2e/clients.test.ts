import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { ListBucketsCommand } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildClientConfig, createAwsClientFactory, resolveAwsSettings } from '../../src/aws/clients.js'
import { startMoto, type MotoServer } from '../helpers/moto.js'

describe('resolveAwsSettings precedence', () => {
  const config = { region: 'eu-west-1', profile: 'cfg-profile', endpointUrl: 'http://cfg:1' }
  it('uses config when nothing else is set', () => {
    expect(resolveAwsSettings({ flags: {}, env: {}, config, version: '1' })).toEqual({
      region: 'eu-west-1',
      profile: 'cfg-profile',
      endpointUrl: 'http://cfg:1',
      version: '1',
    })
  })
  it('environment overrides config', () => {
    const s = resolveAwsSettings({ flags: {}, env: { AWS_REGION: 'us-west-2', AWS_PROFILE: 'env', AWS_ENDPOINT_URL: 'http://env:2' }, config, version: '1' })
    expect(s).toMatchObject({ region: 'us-west-2', profile: 'env', endpointUrl: 'http://env:2' })
  })
  it('AWS_DEFAULT_REGION counts when AWS_REGION is unset', () => {
    expect(resolveAwsSettings({ flags: {}, env: { AWS_DEFAULT_REGION: 'ap-south-1' }, config, version: '1' }).region).toBe('ap-south-1')
  })
  it('flags override both', () => {
    const s = resolveAwsSettings({
      flags: { region: 'ca-central-1', profile: 'flag', endpointUrl: 'http://flag:3' },
      env: { AWS_REGION: 'us-west-2', AWS_PROFILE: 'env', AWS_ENDPOINT_URL: 'http://env:2' },
      config,
      version: '1',
    })
    expect(s).toMatchObject({ region: 'ca-central-1', profile: 'flag', endpointUrl: 'http://flag:3' })
  })
  it('defaults to us-east-1 with no endpoint and no profile', () => {
    expect(resolveAwsSettings({ flags: {}, env: {}, version: '1' })).toEqual({ region: 'us-east-1', version: '1' })
  })
})

describe('client configuration', () => {
  it('sets region, endpoint, capped retries and the user agent', async () => {
    const cfg = await buildClientConfig({ region: 'eu-west-1', endpointUrl: 'http://127.0.0.1:9', version: '1.2.3', maxAttempts: 3 })
    expect(cfg.region).toBe('eu-west-1')
    expect(cfg.endpoint).toBe('http://127.0.0.1:9')
    expect(cfg.customUserAgent).toEqual([['mlops/1.2.3']])
    const strategy = cfg.retryStrategy as { maxAttempts: number | (() => Promise<number>) }
    expect(typeof strategy).toBe('object')
  })

  it('uses path-style S3 only when an endpoint is set', async () => {
    const withEndpoint = await createAwsClientFactory({ region: 'us-east-1', endpointUrl: 'http://127.0.0.1:9', version: '1' })(['s3'])
    expect(withEndpoint.s3.config.forcePathStyle).toBe(true)
    const real = await createAwsClientFactory({ region: 'us-east-1', version: '1' })(['s3'])
    expect(real.s3.config.forcePathStyle).toBe(false)
  })

  it('builds clients once per factory and only those asked for', async () => {
    const factory = createAwsClientFactory({ region: 'us-east-1', version: '1' })
    const a = await factory(['sts'])
    const b = await factory(['sts', 's3'])
    expect(a.sts).toBe(b.sts)
    expect(Object.keys(a)).toEqual(['sts'])
    expect(a.sts).toBeInstanceOf(STSClient)
    expect(await a.sts.config.region()).toBe('us-east-1')
  })

  it('sends the mlops user agent on the wire', async () => {
    const factory = createAwsClientFactory({
      region: 'us-east-1',
      version: '9.9.9',
      endpointUrl: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    })
    const { sts } = await factory(['sts'])
    let ua = ''
    sts.middlewareStack.add(
      (_next) => async (args) => {
        ua =
          String((args.request as { headers: Record<string, string> }).headers['user-agent'] ?? '') +
          String((args.request as { headers: Record<string, string> }).headers['x-amz-user-agent'] ?? '')
        throw new Error('stop before sending')
      },
      { step: 'finalizeRequest', priority: 'low' },
    )
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toThrow('stop before sending')
    expect(ua).toContain('mlops/9.9.9')
  })
})

describe('endpoint override against a real moto server', () => {
  let moto: MotoServer
  beforeAll(async () => {
    moto = await startMoto()
  })
  afterAll(async () => moto?.stop())

  it('sends every call to the emulator', async () => {
    const factory = createAwsClientFactory({
      region: 'us-east-1',
      endpointUrl: moto.endpoint,
      version: '1',
      maxAttempts: 1,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    })
    const { sts, s3 } = await factory(['sts', 's3'])
    const who = await sts.send(new GetCallerIdentityCommand({}))
    expect(who.Account).toBe('123456789012')
    const buckets = await s3.send(new ListBucketsCommand({}))
    expect(buckets.Buckets ?? []).toEqual([])
  })
})
