import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListAWSDefaultServiceQuotasCommand,
  ListServiceQuotasCommand,
  type ServiceQuotasClient,
} from '@aws-sdk/client-service-quotas'
import { callAws, isAwsErrorNamed } from '../error-translation.js'

/** One quota as Service Quotas reports it: the applied value where the account has one, else the default. */
export interface QuotaValue {
  readonly serviceCode: string
  readonly code: string
  readonly name: string
  readonly value: number
  /** `applied`: the account's value (ListServiceQuotas/GetServiceQuota); `default`: AWS's default. */
  readonly source: 'applied' | 'default'
}

type Listed = { QuotaName?: string; QuotaCode?: string; Value?: number }

/**
 * Every quota of one service in one list: `applied` (ListServiceQuotas) or `default`
 * (ListAWSDefaultServiceQuotas). ListServiceQuotas leaves out quotas that were never changed ("if the
 * applied quota value is not available for a quota, the quota is not retrieved"), so a name missing
 * there is looked up among the defaults. Cached per client, list and service: one command asks once.
 */
const cache = new WeakMap<ServiceQuotasClient, Map<string, Promise<QuotaValue[]>>>()
function serviceQuotas(client: ServiceQuotasClient, serviceCode: string, source: QuotaValue['source']): Promise<QuotaValue[]> {
  let perClient = cache.get(client)
  if (!perClient) cache.set(client, (perClient = new Map()))
  const key = `${source}:${serviceCode}`
  let p = perClient.get(key)
  if (!p) {
    const list =
      source === 'applied'
        ? listAll(serviceCode, 'ListServiceQuotas', (NextToken) =>
            client.send(new ListServiceQuotasCommand({ ServiceCode: serviceCode, MaxResults: 100, NextToken })),
          )
        : listAll(serviceCode, 'ListAWSDefaultServiceQuotas', (NextToken) =>
            client.send(new ListAWSDefaultServiceQuotasCommand({ ServiceCode: serviceCode, MaxResults: 100, NextToken })),
          )
    p = list.then((qs) => qs.map((q) => toValue(serviceCode, q, source)))
    perClient.set(key, p)
    p.catch(() => perClient.delete(key))
  }
  return p
}

async function listAll(
  serviceCode: string,
  operation: string,
  page: (token?: string) => Promise<{ Quotas?: Listed[]; NextToken?: string }>,
): Promise<Listed[]> {
  const out: Listed[] = []
  let token: string | undefined
  do {
    const res = await callAws({ service: 'servicequotas', operation, resource: serviceCode }, () => page(token))
    out.push(...(res.Quotas ?? []).filter((q) => q.QuotaCode && q.QuotaName))
    token = res.NextToken
  } while (token)
  return out
}

function toValue(serviceCode: string, q: Listed, source: QuotaValue['source']): QuotaValue {
  return { serviceCode, code: q.QuotaCode!, name: q.QuotaName!, value: q.Value ?? 0, source }
}

/** The quota of `serviceCode` named exactly `name` (case-insensitive), or undefined when the service has none by that name. */
export async function findQuotaByName(client: ServiceQuotasClient, serviceCode: string, name: string): Promise<QuotaValue | undefined> {
  const wanted = name.toLowerCase()
  const match = (qs: QuotaValue[]) => qs.find((q) => q.name.toLowerCase() === wanted)
  return match(await serviceQuotas(client, serviceCode, 'applied')) ?? match(await serviceQuotas(client, serviceCode, 'default'))
}

/** One quota by its code: the applied value, else the default (GetServiceQuota answers NoSuchResourceException for never-changed quotas). */
export async function getQuotaByCode(client: ServiceQuotasClient, serviceCode: string, code: string): Promise<QuotaValue | undefined> {
  const ctx = { service: 'servicequotas', operation: 'GetServiceQuota', resource: `${serviceCode}/${code}` }
  try {
    const { Quota } = await callAws(ctx, () => client.send(new GetServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: code })))
    if (Quota) return toValue(serviceCode, Quota, 'applied')
  } catch (err) {
    if (!isAwsErrorNamed(err, 'NoSuchResourceException')) throw err
  }
  try {
    const { Quota } = await callAws({ ...ctx, operation: 'GetAWSDefaultServiceQuota' }, () =>
      client.send(new GetAWSDefaultServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: code })),
    )
    return Quota ? toValue(serviceCode, Quota, 'default') : undefined
  } catch (err) {
    if (isAwsErrorNamed(err, 'NoSuchResourceException')) return undefined
    throw err
  }
}
