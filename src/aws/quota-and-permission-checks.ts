import type { IAMClient } from '@aws-sdk/client-iam'
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas'
import type { STSClient } from '@aws-sdk/client-sts'
import { partitionOf } from './arn.js'
import { callerPrincipal, simulateDenials, type ActionOnResource, type CallerPrincipal, type SimulatedDenial } from './iam/simulate.js'
import { findQuotaByName, getQuotaByCode } from './service-quotas/quotas.js'

/** A quota to compare: by name or by code, and the value needed. */
export interface QuotaRequirement {
  readonly serviceCode: string
  readonly quotaName?: string
  readonly quotaCode?: string
  readonly needed: number
}

/** What the checks asked for: quotas, and the actions and resources (built once the caller's account is known). */
export interface PreflightRequest<Q extends QuotaRequirement> {
  readonly region: string
  readonly quotas: readonly Q[]
  readonly checks: (scope: { partition: string; region: string; accountId: string }) => readonly ActionOnResource[]
}

export interface PreflightFindings<Q extends QuotaRequirement> {
  readonly region: string
  readonly callerArn?: string
  readonly principalArn?: string
  readonly quotaShortfalls: { need: Q; code: string; name: string; applied: number }[]
  readonly quotasChecked: { need: Q; code?: string; name?: string; applied?: number }[]
  readonly denials: SimulatedDenial[]
  /** Checks that could not run, one reason each. */
  readonly skipped: string[]
}

/**
 * Runs the quota and permission checks. A check that cannot run (AccessDenied on its reads, an
 * emulator that lacks the API, no simulable principal) is reported in `skipped`, never thrown: only
 * bad credentials end the command here, as they would at its first call.
 */
export async function runPreflightChecks<Q extends QuotaRequirement>(
  clients: { sts: STSClient; iam: IAMClient; serviceQuotas: ServiceQuotasClient },
  req: PreflightRequest<Q>,
): Promise<PreflightFindings<Q>> {
  const findings: PreflightFindings<Q> = { region: req.region, quotaShortfalls: [], quotasChecked: [], denials: [], skipped: [] }
  let quotasFailed = false
  for (const need of req.quotas) {
    if (quotasFailed) break
    try {
      const q = need.quotaCode
        ? await getQuotaByCode(clients.serviceQuotas, need.serviceCode, need.quotaCode)
        : await findQuotaByName(clients.serviceQuotas, need.serviceCode, need.quotaName ?? '')
      findings.quotasChecked.push({ need, ...(q ? { code: q.code, name: q.name, applied: q.value } : {}) })
      if (q && q.value < need.needed) findings.quotaShortfalls.push({ need, code: q.code, name: q.name, applied: q.value })
    } catch (err) {
      rethrowCredentials(err)
      quotasFailed = true
      findings.skipped.push(`Service Quotas: ${reason(err)}`)
    }
  }
  let caller: CallerPrincipal
  try {
    caller = await callerPrincipal(clients.sts, clients.iam)
  } catch (err) {
    rethrowCredentials(err)
    findings.skipped.push(`who is calling: ${reason(err)}`)
    return findings
  }
  const withCaller = { ...findings, callerArn: caller.callerArn, ...(caller.principalArn ? { principalArn: caller.principalArn } : {}) }
  if (!caller.principalArn) {
    withCaller.skipped.push(`permissions: IAM cannot simulate ${caller.callerArn || 'this caller'}`)
    return withCaller
  }
  const checks = req.checks({ partition: partitionOf(req.region), region: req.region, accountId: caller.accountId })
  try {
    withCaller.denials.push(...(await simulateDenials(clients.iam, caller.principalArn, checks)))
  } catch (err) {
    rethrowCredentials(err)
    withCaller.skipped.push(`permissions (iam:SimulatePrincipalPolicy): ${reason(err)}`)
  }
  return withCaller
}

function rethrowCredentials(err: unknown): void {
  if ((err as { code?: string }).code === 'NoCredentials') throw err
}

function reason(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
  if (e.code === 'AccessDenied' || /AccessDenied/.test(e.name ?? '')) return 'AccessDenied'
  const status = e.$metadata?.httpStatusCode
  // An endpoint that does not speak the API (an emulator without it) answers HTML or nothing useful.
  // (callAws already turns such an answer into NotAnAwsApi.)
  if (e.code === 'NotAnAwsApi' || e.name === 'SyntaxError' || /Deserialization error/.test(e.message ?? ''))
    return `not answered by ${status ? `HTTP ${status}` : 'this endpoint'}`
  const first = (e.message ?? '').split('\n')[0]!.slice(0, 120)
  return `${e.name ?? 'Error'}${first ? `: ${first}` : ''}`
}
