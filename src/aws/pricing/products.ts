import { GetProductsCommand, type Filter, type GetProductsCommandInput, type PricingClient } from '@aws-sdk/client-pricing'

/** What to ask the Price List API for: a service and exact attribute matches. */
export interface PriceQuery {
  readonly serviceCode: 'AmazonSageMaker' | 'AmazonEC2'
  readonly attributes: Readonly<Record<string, string>>
}

/**
 * The query for one instance type's on-demand hourly price. ml.* types are SageMaker products,
 * told apart by `component` (Training, Hosting); the others are EC2 Linux, shared tenancy, no
 * pre-installed software, capacity used (not reservations).
 */
export function instancePriceQuery(instanceType: string, region: string, use: 'training' | 'hosting'): PriceQuery {
  if (instanceType.startsWith('ml.'))
    return {
      serviceCode: 'AmazonSageMaker',
      attributes: { instanceName: instanceType, regionCode: region, component: use === 'training' ? 'Training' : 'Hosting' },
    }
  return {
    serviceCode: 'AmazonEC2',
    attributes: { instanceType, regionCode: region, operatingSystem: 'Linux', tenancy: 'Shared', preInstalledSw: 'NA', capacitystatus: 'Used' },
  }
}

/** The first GetProducts request for `query` (later pages add NextToken); plans show the same. */
export function getProductsInput(query: PriceQuery): GetProductsCommandInput {
  const Filters: Filter[] = Object.entries(query.attributes).map(([Field, Value]) => ({ Type: 'TERM_MATCH', Field, Value }))
  return { ServiceCode: query.serviceCode, Filters, FormatVersion: 'aws_v1', MaxResults: 100 }
}

/** Bounds the paging: one instance type matches a handful of products, never hundreds. */
const MAX_PAGES = 10

/**
 * The on-demand USD per hour of the first matching product, following NextToken; undefined when no
 * product matches (a type the region does not offer). AWS errors propagate.
 */
export async function onDemandHourlyUsd(client: PricingClient, query: PriceQuery): Promise<number | undefined> {
  const first = getProductsInput(query)
  let NextToken: string | undefined
  for (let page = 0; page < MAX_PAGES; page++) {
    const out = await client.send(new GetProductsCommand({ ...first, ...(NextToken ? { NextToken } : {}) }))
    for (const item of out.PriceList ?? []) {
      const usd = hourlyUsdOf(String(item))
      if (usd !== undefined) return usd
    }
    NextToken = out.NextToken
    if (!NextToken) return undefined
  }
  return undefined
}

interface PriceListProduct {
  terms?: { OnDemand?: Record<string, { priceDimensions?: Record<string, { unit?: string; pricePerUnit?: { USD?: string } }> }> }
}

/** A positive hourly USD price from one Price List product document (a JSON string), if it has one. */
export function hourlyUsdOf(document: string): number | undefined {
  let product: PriceListProduct
  try {
    product = JSON.parse(document) as PriceListProduct
  } catch {
    return undefined
  }
  for (const term of Object.values(product.terms?.OnDemand ?? {})) {
    for (const dim of Object.values(term.priceDimensions ?? {})) {
      const usd = Number(dim.pricePerUnit?.USD)
      if (/^hrs?$/i.test(dim.unit ?? '') && Number.isFinite(usd) && usd > 0) return usd
    }
  }
  return undefined
}
