import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts'
import { callAws } from '../error-translation.js'

/** The account id of the caller (needed for ARNs and aws:SourceAccount conditions). Cached per client. */
const cache = new WeakMap<STSClient, Promise<string>>()
export function getAccountId(sts: STSClient): Promise<string> {
  let p = cache.get(sts)
  if (!p) {
    p = callAws({ service: 'sts', operation: 'GetCallerIdentity' }, async () => (await sts.send(new GetCallerIdentityCommand({}))).Account!)
    cache.set(sts, p)
    p.catch(() => cache.delete(sts))
  }
  return p
}
