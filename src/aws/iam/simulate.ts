import { GetRoleCommand, SimulatePrincipalPolicyCommand, type IAMClient } from '@aws-sdk/client-iam'
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts'
import { callAws, isAwsErrorNamed } from '../error-translation.js'

/** Who is calling, as IAM can simulate it: a user or role ARN (an assumed-role session resolved to its role). */
export interface CallerPrincipal {
  /** The ARN GetCallerIdentity answered. */
  readonly callerArn: string
  readonly accountId: string
  /** The user or role to simulate; undefined for the root user and federated users, which IAM cannot simulate. */
  readonly principalArn?: string
}

const ASSUMED_ROLE = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/

/**
 * The caller and the principal its policies belong to. An assumed-role session
 * `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` carries the role's name but not its path, so the
 * role's ARN comes from GetRole; when GetRole is denied, the path-less ARN is the best guess.
 */
export async function callerPrincipal(sts: STSClient, iam: IAMClient): Promise<CallerPrincipal> {
  const id = await callAws({ service: 'sts', operation: 'GetCallerIdentity' }, () => sts.send(new GetCallerIdentityCommand({})))
  const callerArn = id.Arn ?? ''
  const accountId = id.Account ?? ''
  const assumed = ASSUMED_ROLE.exec(callerArn)
  if (assumed) {
    const [, partition, account, roleName] = assumed
    try {
      const { Role } = await callAws({ service: 'iam', operation: 'GetRole', resource: roleName }, () => iam.send(new GetRoleCommand({ RoleName: roleName })))
      return { callerArn, accountId, principalArn: Role?.Arn ?? `arn:${partition}:iam::${account}:role/${roleName}` }
    } catch (err) {
      if (!isAwsErrorNamed(err, 'AccessDenied')) throw err
      return { callerArn, accountId, principalArn: `arn:${partition}:iam::${account}:role/${roleName}` }
    }
  }
  if (/^arn:[^:]+:iam::\d{12}:(user|role)\//.test(callerArn)) return { callerArn, accountId, principalArn: callerArn }
  return { callerArn, accountId }
}

/** One action on one resource ARN ("*" where the plan does not say which). */
export interface ActionOnResource {
  readonly action: string
  readonly resource: string
}

/** A simulated decision other than allowed. */
export interface SimulatedDenial extends ActionOnResource {
  /** implicitDeny (no statement allows it) or explicitDeny (a statement denies it). */
  readonly decision: string
}

/** SimulatePrincipalPolicy takes many actions but one resource list: ask once per resource, in chunks. */
const ACTIONS_PER_CALL = 50

/**
 * The actions the principal's identity policies (and boundary, SCPs as IAM reports them) do not
 * allow. A decision that depends on condition keys the simulation was not given
 * (MissingContextValues) is not counted: it cannot be proven either way, and a refusal must be sure.
 */
export async function simulateDenials(iam: IAMClient, principalArn: string, checks: readonly ActionOnResource[]): Promise<SimulatedDenial[]> {
  const byResource = new Map<string, Set<string>>()
  for (const c of checks) {
    let set = byResource.get(c.resource)
    if (!set) byResource.set(c.resource, (set = new Set()))
    set.add(c.action)
  }
  const denied: SimulatedDenial[] = []
  for (const [resource, actionSet] of byResource) {
    const actions = [...actionSet]
    for (let i = 0; i < actions.length; i += ACTIONS_PER_CALL) {
      let marker: string | undefined
      do {
        const res = await callAws({ service: 'iam', operation: 'SimulatePrincipalPolicy', resource: principalArn }, () =>
          iam.send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: principalArn,
              ActionNames: actions.slice(i, i + ACTIONS_PER_CALL),
              ...(resource === '*' ? {} : { ResourceArns: [resource] }),
              ...(marker ? { Marker: marker } : {}),
            }),
          ),
        )
        for (const r of res.EvaluationResults ?? []) {
          if (!r.EvalActionName || r.EvalDecision === 'allowed' || !r.EvalDecision) continue
          if (r.MissingContextValues?.length) continue
          denied.push({ action: r.EvalActionName, resource, decision: r.EvalDecision })
        }
        marker = res.IsTruncated ? res.Marker : undefined
      } while (marker)
    }
  }
  return denied
}
