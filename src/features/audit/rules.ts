import type { RuleId, Severity } from './types.js'

/** What every report, table and SARIF rule says about a rule. */
export interface RuleMeta {
  readonly id: RuleId
  /** PascalCase name (SARIF `rule.name`). */
  readonly name: string
  readonly defaultSeverity: Severity
  /** One line: what the rule detects. */
  readonly title: string
  /** One line: the fix. */
  readonly fix: string
  /** Longer help: when it fires and how severity is adjusted. */
  readonly help: string
}

const CONDITION_NOTE = 'A Condition on the statement lowers the severity one level instead of hiding the finding.'

export const RULES: Readonly<Record<RuleId, RuleMeta>> = {
  'admin-access': {
    id: 'admin-access',
    name: 'AdminAccess',
    defaultSeverity: 'critical',
    title: 'The role can perform every action on every resource.',
    fix: 'Replace the administrator grant (Action "*", or NotAction with a tiny list) with the actions the workload calls, scoped to its resources.',
    help: `Fires when the unconditioned grants on "*" (Resource "*" or NotResource) cover every IAM action and at least 90% of all actions, after unconditioned Deny statements. ${CONDITION_NOTE}`,
  },
  'privilege-escalation': {
    id: 'privilege-escalation',
    name: 'PrivilegeEscalation',
    defaultSeverity: 'high',
    title: 'The role holds every action of a known privilege-escalation path.',
    fix: 'Remove one action of each listed path, or scope it (iam:PassRole to one role ARN with iam:PassedToService; lambda:UpdateFunctionCode to one function ARN).',
    help: `Matches the 66-path pathfinding.cloud catalog. Critical when the role is assumed by a compute service (its code can be compromised). One level lower for paths that depend on an existing resource (existing-passrole) and for Conditions; low when an action is only allowed on specific resources. ${CONDITION_NOTE}`,
  },
  'aws-managed-full-access': {
    id: 'aws-managed-full-access',
    name: 'AwsManagedFullAccess',
    defaultSeverity: 'high',
    title: 'An AWS managed *FullAccess policy (or one granting a service wildcard) is attached to the role.',
    fix: 'Detach the AWS managed policy and attach an inline policy with only the actions the role calls (`mlops audit-iam --suggest` prints one).',
    help: 'High when the role is assumed by Lambda, EC2, SageMaker or another compute service; medium otherwise.',
  },
  'service-wildcard': {
    id: 'service-wildcard',
    name: 'ServiceWildcard',
    defaultSeverity: 'medium',
    title: 'A statement allows every action of a service ("svc:*", "*" or NotAction).',
    fix: 'List the actions the workload calls instead of "<service>:*".',
    help: `Medium on "*" (NotResource counts as "*"), low when the resources are scoped. ${CONDITION_NOTE}`,
  },
  'resource-star-write': {
    id: 'resource-star-write',
    name: 'ResourceStarWrite',
    defaultSeverity: 'low',
    title: 'Write, tagging or permissions-management actions are allowed on every resource.',
    fix: 'Scope Resource to the ARNs the workload writes to; actions that support no resource-level permissions are not reported.',
    help: `Low for write and tagging actions, high for permissions-management actions (they change who can access a resource). Actions that only accept "*" are skipped. ${CONDITION_NOTE}`,
  },
  'passrole-unscoped': {
    id: 'passrole-unscoped',
    name: 'PassRoleUnscoped',
    defaultSeverity: 'high',
    title: 'iam:PassRole is allowed on every role.',
    fix: 'Scope iam:PassRole to the one role ARN the workload passes and add Condition StringEquals iam:PassedToService.',
    help: `Any role in the account, including administrators, can be handed to a service the principal controls. ${CONDITION_NOTE}`,
  },
  'credentials-exposure': {
    id: 'credentials-exposure',
    name: 'CredentialsExposure',
    defaultSeverity: 'high',
    title: 'Actions that return credentials are allowed on every resource.',
    fix: 'Scope these actions to the resources that need them, or remove them.',
    help: `Low for actions that support no resource-level permissions (e.g. ecr:GetAuthorizationToken: "*" is the only valid resource). ${CONDITION_NOTE}`,
  },
  'data-exfiltration': {
    id: 'data-exfiltration',
    name: 'DataExfiltration',
    defaultSeverity: 'medium',
    title: 'Read actions on secrets or data (s3:GetObject, ssm:GetParameter*, secretsmanager:GetSecretValue) are allowed on every resource.',
    fix: 'Scope Resource to the bucket prefixes, parameter paths or secrets the workload reads.',
    help: CONDITION_NOTE,
  },
  'trust-any-principal': {
    id: 'trust-any-principal',
    name: 'TrustAnyPrincipal',
    defaultSeverity: 'critical',
    title: 'Anyone can assume the role (Principal "*", any account root, NotPrincipal, or a federated provider without conditions).',
    fix: 'Name the exact principals in the trust policy; for OIDC providers add conditions on :aud and :sub.',
    help: CONDITION_NOTE,
  },
  'trust-cross-account': {
    id: 'trust-cross-account',
    name: 'TrustCrossAccount',
    defaultSeverity: 'medium',
    title: 'Another AWS account can assume the role.',
    fix: 'Remove the account, or list it under knownAccounts in the exclusions file; require sts:ExternalId for third parties.',
    help: CONDITION_NOTE,
  },
  'trust-service-no-source': {
    id: 'trust-service-no-source',
    name: 'TrustServiceNoSource',
    defaultSeverity: 'medium',
    title: 'A service principal can assume the role without aws:SourceAccount or aws:SourceArn (confused deputy).',
    fix: 'Add Condition StringEquals aws:SourceAccount <account-id> (or ArnLike aws:SourceArn) to the trust statement.',
    help: `Low for EC2, whose instance-profile credentials carry no source context. ${CONDITION_NOTE}`,
  },
  'unused-role': {
    id: 'unused-role',
    name: 'UnusedRole',
    defaultSeverity: 'medium',
    title: 'The role has not been used for longer than --unused-days.',
    fix: 'Delete the role (and its instance profiles), or tag it as needed and suppress this finding in the exclusions file.',
    help: 'Medium when RoleLastUsed is older than --unused-days (default 90); low when no use is recorded (IAM tracks 400 days) and the role is older than that.',
  },
  'unsafe-ssm-instance-role': {
    id: 'unsafe-ssm-instance-role',
    name: 'UnsafeSsmInstanceRole',
    defaultSeverity: 'medium',
    title: 'An instance-profile role can run commands on other instances (ssm:SendCommand / ssm:StartSession).',
    fix: 'Remove ssm:SendCommand and ssm:StartSession from the instance role; the SSM agent needs only ssmmessages/ec2messages (AmazonSSMManagedInstanceCore).',
    help: `Any code on the instance can pivot to every other SSM-managed instance and act as its role. Low when scoped to specific instances or documents. ${CONDITION_NOTE}`,
  },
}

/** SARIF `level` for a severity (Prowler's mapping). */
export function sarifLevel(s: Severity): 'error' | 'warning' | 'note' {
  return s === 'critical' || s === 'high' ? 'error' : s === 'medium' ? 'warning' : 'note'
}

/** GitHub code scanning's `security-severity` score for a severity. */
export function securitySeverity(s: Severity): string {
  return { critical: '9.0', high: '7.0', medium: '4.0', low: '2.0' }[s]
}
