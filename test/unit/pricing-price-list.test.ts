import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { GetProductsCommand, PricingClient } from '@aws-sdk/client-pricing'
import { sdkMock } from '../helpers/mock-sdk.js'
import 'aws-sdk-client-mock-vitest/extend'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { instancePriceQuery, onDemandHourlyUsd } from '../../src/aws/pricing/products.js'
import { CommandContext } from '../../src/context.js'
import { describePriceSource, hourlyPrice, PRICE_NOTE, priceCachePath, tablePrices } from '../../src/shared/pricing.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'
import { fastClock } from '../helpers/cli.js'

const pricingMock = sdkMock(PricingClient)

/** One Price List product document as GetProducts returns it (a JSON string). */
function product(usd: string, unit = 'Hrs'): string {
  return JSON.stringify({
    product: { attributes: { instanceName: 'ml.g5.xlarge' } },
    terms: { OnDemand: { 'SKU.TERM': { priceDimensions: { 'SKU.TERM.DIM': { unit, pricePerUnit: { USD: usd } } } } } },
  })
}

describe('GetProducts', () => {
  it('follows NextToken until a product has an hourly on-demand price, with the SageMaker filters', async () => {
    pricingMock
      .on(GetProductsCommand, { NextToken: undefined })
      .resolves({ PriceList: [product('0', 'Hrs'), product('12.5', 'Quantity')], NextToken: 'page-2' })
      .on(GetProductsCommand, { NextToken: 'page-2' })
      .resolves({ PriceList: [product('1.624')] })
    const client = new PricingClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
    expect(await onDemandHourlyUsd(client, instancePriceQuery('ml.g5.xlarge', 'eu-west-1', 'hosting'))).toBe(1.624)
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 2)
    expect(pricingMock).toHaveReceivedNthCommandWith(GetProductsCommand, 1, {
      ServiceCode: 'AmazonSageMaker',
      FormatVersion: 'aws_v1',
      MaxResults: 100,
      Filters: [
        { Type: 'TERM_MATCH', Field: 'instanceName', Value: 'ml.g5.xlarge' },
        { Type: 'TERM_MATCH', Field: 'regionCode', Value: 'eu-west-1' },
        { Type: 'TERM_MATCH', Field: 'component', Value: 'Hosting' },
      ],
    })
    expect(pricingMock).toHaveReceivedNthCommandWith(GetProductsCommand, 2, { NextToken: 'page-2' })
  })

  it('asks EC2 for Linux, shared tenancy, no pre-installed software, capacity used', () => {
    expect(instancePriceQuery('g6e.xlarge', 'us-west-2', 'training')).toEqual({
      serviceCode: 'AmazonEC2',
      attributes: {
        instanceType: 'g6e.xlarge',
        regionCode: 'us-west-2',
        operatingSystem: 'Linux',
        tenancy: 'Shared',
        preInstalledSw: 'NA',
        capacitystatus: 'Used',
      },
    })
    expect(instancePriceQuery('ml.trn1.2xlarge', 'us-east-1', 'training').attributes.component).toBe('Training')
  })

  it('gives undefined when no product matches (the last page has no NextToken)', async () => {
    pricingMock.on(GetProductsCommand).resolves({ PriceList: [] })
    const client = new PricingClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
    expect(await onDemandHourlyUsd(client, instancePriceQuery('ml.x99.huge', 'eu-west-1', 'hosting'))).toBeUndefined()
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 1)
  })
})

describe('ctx.prices', () => {
  let cacheDir: string
  beforeEach(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'mlops-prices-'))
  })
  afterEach(() => rm(cacheDir, { recursive: true, force: true }))

  function context(clock = fastClock(Date.parse('2026-12-01T09:00:00Z')), o: { dryRun?: boolean; noAws?: boolean } = {}) {
    return new CommandContext(
      {
        stdout: { write: () => true },
        stderr: { write: () => true },
        stdinIsTTY: false,
        env: { AWS_REGION: 'eu-west-1', MLOPS_CACHE_DIR: cacheDir },
        cwd: cacheDir,
        clock,
        signal: new AbortController().signal,
        awsFactory: o.noAws ? noAwsFactory('--dry-run must not ask the price list') : fakeAwsFactory(),
        version: 'test',
      },
      { dryRun: o.dryRun },
    )
  }

  it('prices the configured region from the price list and says so with the date', async () => {
    pricingMock.on(GetProductsCommand).resolves({ PriceList: [product('1.624')] })
    const prices = await context().prices(['ml.g5.xlarge'], 'hosting')
    expect(prices.hourly('ml.g5.xlarge')).toBe(1.624)
    expect(prices.note(['ml.g5.xlarge'])).toBe('On-demand prices from price list 2026-12-01 (eu-west-1); spot and savings plans differ.')
    expect(pricingMock).toHaveReceivedCommandWith(GetProductsCommand, {
      Filters: expect.arrayContaining([{ Type: 'TERM_MATCH', Field: 'regionCode', Value: 'eu-west-1' }]),
    })
  })

  it('uses the cache on a second call without a GetProducts request, and reads the list again once stale', async () => {
    pricingMock
      .on(GetProductsCommand)
      .resolvesOnce({ PriceList: [product('1.624')] })
      .resolves({ PriceList: [product('1.7')] })
    const clock = fastClock(Date.parse('2026-12-01T09:00:00Z'))
    await context(clock).prices(['ml.g5.xlarge'], 'hosting')
    const file = priceCachePath({ MLOPS_CACHE_DIR: cacheDir }, 'eu-west-1')!
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      version: 1,
      region: 'eu-west-1',
      entries: { 'hosting/ml.g5.xlarge': { usd: 1.624, date: '2026-12-01' } },
    })

    clock.advance(6 * 86_400_000)
    const cached = await context(clock).prices(['ml.g5.xlarge'], 'hosting')
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 1)
    expect(cached.hourly('ml.g5.xlarge')).toBe(1.624)
    expect(describePriceSource(cached.sourceOf('ml.g5.xlarge'))).toBe('price list 2026-12-01 (eu-west-1)')

    clock.advance(2 * 86_400_000) // 8 days after the read: older than the 7-day limit
    const refreshed = await context(clock).prices(['ml.g5.xlarge'], 'hosting')
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 2)
    expect(refreshed.hourly('ml.g5.xlarge')).toBe(1.7)
    expect(describePriceSource(refreshed.sourceOf('ml.g5.xlarge'))).toBe('price list 2026-12-09 (eu-west-1)')
  })

  it('falls back to the built-in table, with its note, for a type the price list lacks', async () => {
    pricingMock.on(GetProductsCommand).resolves({ PriceList: [] })
    const prices = await context().prices(['ml.g6e.xlarge'], 'training')
    expect(prices.hourly('ml.g6e.xlarge')).toBe(2.326)
    expect(prices.note(['ml.g6e.xlarge'])).toBe(
      'On-demand prices from built-in table (2026-11, us-east-1, approximate), not in the eu-west-1 price list; spot and savings plans differ.',
    )
    expect(pricingMock).toHaveReceivedCommandWith(GetProductsCommand, {
      Filters: expect.arrayContaining([{ Type: 'TERM_MATCH', Field: 'component', Value: 'Training' }]),
    })
  })

  it('falls back to the table when the price list cannot be reached, naming the failure, and asks only once', async () => {
    pricingMock.on(GetProductsCommand).rejects(Object.assign(new Error('getaddrinfo ENOTFOUND api.pricing.us-east-1.amazonaws.com'), { code: 'ENOTFOUND' }))
    const prices = await context().prices(['g5.xlarge', 'ml.g5.xlarge'], 'hosting')
    expect(prices.hourly('g5.xlarge')).toBe(1.006)
    expect(prices.hourly('ml.g5.xlarge')).toBe(1.408)
    expect(prices.note(['g5.xlarge'])).toBe(
      'On-demand prices from built-in table (2026-11, us-east-1, approximate), offline (getaddrinfo ENOTFOUND api.pricing.us-east-1.amazonaws.com); spot and savings plans differ.',
    )
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 1)
  })

  it('an endpoint that answers HTML (an emulator without the Price List API) is named as such, not by the SDK parse error', async () => {
    pricingMock
      .on(GetProductsCommand)
      .rejects(
        new SyntaxError(
          `Unexpected token '<', "<!doctype "... is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.`,
        ),
      )
    const prices = await context().prices(['ml.m5.large'], 'hosting')
    expect(prices.note(['ml.m5.large'])).toBe(
      'On-demand prices from built-in table (2026-11, us-east-1, approximate), price list unavailable: the endpoint answered HTML, not the AWS Price List API; spot and savings plans differ.',
    )
  })

  it('says the price list was not readable when access is denied', async () => {
    pricingMock
      .on(GetProductsCommand)
      .rejects(Object.assign(new Error('User: arn:aws:iam::1:user/x is not authorized to perform: pricing:GetProducts'), { name: 'AccessDeniedException' }))
    const prices = await context().prices(['ml.g5.xlarge'], 'hosting')
    expect(describePriceSource(prices.sourceOf('ml.g5.xlarge'))).toBe(
      'built-in table (2026-11, us-east-1, approximate), price list not readable (User: arn:aws:iam::1:user/x is not authorized to perform: pricing:GetProducts; it needs pricing:GetProducts)',
    )
  })

  it('keeps a stale cached price over the table when the list is unreachable', async () => {
    const file = priceCachePath({ MLOPS_CACHE_DIR: cacheDir }, 'eu-west-1')!
    await writeFile(file, JSON.stringify({ version: 1, region: 'eu-west-1', entries: { 'hosting/ml.g5.xlarge': { usd: 1.6, date: '2026-10-01' } } }))
    pricingMock.on(GetProductsCommand).rejects(new Error('socket hang up'))
    const prices = await context().prices(['ml.g5.xlarge'], 'hosting')
    expect(prices.hourly('ml.g5.xlarge')).toBe(1.6)
    expect(describePriceSource(prices.sourceOf('ml.g5.xlarge'))).toBe('price list 2026-10-01 (eu-west-1)')
  })

  it('MLOPS_PRICE_LIST=off keeps to the table without asking AWS', async () => {
    const ctx = new CommandContext(
      {
        stdout: { write: () => true },
        stderr: { write: () => true },
        stdinIsTTY: false,
        env: { MLOPS_PRICE_LIST: 'off' },
        cwd: cacheDir,
        clock: fastClock(),
        signal: new AbortController().signal,
        awsFactory: noAwsFactory(),
        version: 'test',
      },
      {},
    )
    expect((await ctx.prices(['g5.xlarge'], 'training')).note(['g5.xlarge'])).toContain('approximate), MLOPS_PRICE_LIST=off;')
  })

  it('never asks AWS under --dry-run and says the table was used', async () => {
    const prices = await context(undefined, { dryRun: true, noAws: true }).prices(['ml.p5.48xlarge'], 'training')
    expect(prices.hourly('ml.p5.48xlarge')).toBe(113.068)
    expect(prices.note(['ml.p5.48xlarge'])).toContain('built-in table (2026-11, us-east-1, approximate), --dry-run: price list not asked')
    expect(pricingMock).toHaveReceivedCommandTimes(GetProductsCommand, 0)
  })
})

describe('built-in table', () => {
  it('covers g6, g6e, p5, inf2 and trn1 for SageMaker and EC2', () => {
    for (const type of ['g6.xlarge', 'g6e.xlarge', 'p5.48xlarge', 'inf2.xlarge', 'trn1.2xlarge']) {
      expect(hourlyPrice(type), type).toBeGreaterThan(0)
      expect(hourlyPrice(`ml.${type}`), `ml.${type}`).toBeGreaterThan(0)
    }
  })

  it('says its date and that it is approximate', () => {
    expect(PRICE_NOTE).toBe('On-demand prices from built-in table (2026-11, us-east-1, approximate); spot and savings plans differ.')
    expect(tablePrices('offline').note()).toContain('approximate), offline; spot')
  })
})

describe('call sites', () => {
  it('the training estimate uses the price book it is given and names its source', async () => {
    const { estimateTrainingCost } = await import('../../src/features/training/request.js')
    const { resolvePrices } = await import('../../src/shared/pricing.js')
    const prices = await resolvePrices(['ml.g5.xlarge'], {
      region: 'eu-west-1',
      use: 'training',
      now: () => Date.parse('2026-12-01T00:00:00Z'),
      fetch: async () => 2,
    })
    const cost = estimateTrainingCost({ instanceType: 'ml.g5.xlarge', instanceCount: 2, maxRuntimeSeconds: 3600, spot: false }, 1, prices)
    expect(cost).toMatchObject({ hourlyUsd: 2, maxUsd: 4 })
    expect(cost.note).toBe('On-demand prices from price list 2026-12-01 (eu-west-1); spot and savings plans differ.')
  })
})
