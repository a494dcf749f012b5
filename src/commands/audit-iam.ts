import type { Command } from 'commander'
import type { Deps } from '../context.js'
import { auditFormatField } from '../config/flag-fields.js'
import { AuditSchema, SEVERITIES } from '../config/sections/audit.js'
import { FindingsError, UserError } from '../shared/errors.js'
import { VERSION } from '../shared/version.js'
import { done } from '../shared/outcome.js'
import { action } from './action.js'
import { enumOption, intOption } from './options.js'

interface AuditIamFlags {
  readonly role: string[]
  readonly allRoles?: boolean
  readonly policyFile: string[]
  readonly input?: string
  readonly format: string
  readonly failOn?: string
  readonly unusedDays?: string
  readonly suggest?: boolean
  readonly exclusions?: string
}

type FailOn = (typeof SEVERITIES)[number] | 'none'

/** --fail-on and --unused-days are checked by the audit.* fields they override. */
const FLAGS = {
  format: enumOption('--format', auditFormatField, 'sarif'),
  failOn: enumOption('--fail-on', AuditSchema.shape.failOn.unwrap(), 'high'),
  unusedDays: intOption('--unused-days', AuditSchema.shape.unusedDays.unwrap(), '90'),
}
const collect = (value: string, previous: string[]) => [...previous, value]

export function register(program: Command, deps: Deps): Command {
  return program
    .command('audit-iam')
    .description('least-privilege findings for IAM roles and policies (exit 3 when any is at or above --fail-on)')
    .option('--role <name>', "audit this role (name or ARN; repeatable) instead of the project's roles", collect, [])
    .option('--all-roles', 'audit every role in the account (or in --input)')
    .option('--policy-file <file>', 'audit a policy document kept in a repository (repeatable; offline)', collect, [])
    .option('--input <auth-details.json>', 'audit a saved `aws iam get-account-authorization-details` output (offline)')
    .option('--format <format>', 'table, json or sarif (SARIF 2.1.0 for code scanning)', 'table')
    .option('--fail-on <severity>', 'exit 3 when a finding is at or above: critical, high, medium, low or none (default: audit.failOn, high)')
    .option('--unused-days <n>', 'report roles unused for longer than this (default: audit.unusedDays, 90)')
    .option('--suggest', 'print a scoped replacement policy for roles whose purpose mlops knows or that have last-accessed data')
    .option('--exclusions <file>', 'YAML/JSON exclusions: roles, policies, rules, actions, knownAccounts, findings (default: audit.exclusions)')
    .addHelpText(
      'after',
      `
Default scope: roles tagged mlops:project=<project>, plus the roles the project's resources use
(SageMaker execution role, the Lambda's role, the EC2 instance profile's role). Service-linked roles
are excluded and counted. Rules: admin-access, privilege-escalation, aws-managed-full-access,
service-wildcard, resource-star-write, passrole-unscoped, credentials-exposure, data-exfiltration,
trust-any-principal, trust-cross-account, trust-service-no-source, unused-role, unsafe-ssm-instance-role.
A Condition lowers a finding one severity level; it never hides it.

Examples:
  $ mlops audit-iam                                   the project's roles, live
  $ mlops audit-iam --role my-lambda-role --suggest   one role, with a scoped replacement policy
  $ aws iam get-account-authorization-details > auth.json
  $ mlops audit-iam --input auth.json --all-roles --format sarif > iam.sarif
  $ mlops audit-iam --policy-file iam/deploy-policy.json --fail-on medium   CI on policies in the repo

Exclusions file:
  roles: ["legacy-*"]
  rules: [unused-role]
  knownAccounts: ["111122223333"]
  findings:
    - { rule: resource-star-write, role: dogs-sagemaker, reason: "PutMetricData is namespace-limited" }

GitHub code scanning (the step exits 3 on findings, so upload with if: always()). mlops is not on the
npm registry: install the tarball \`npm pack\` made in an mlops clone (committed, or from your artifact store):
  - run: npm install -g ./ci/mlops-${VERSION}.tgz
  - run: mlops audit-iam --format sarif > audit-iam.sarif
  - uses: github/codeql-action/upload-sarif@v3
    if: always()
    with:
      sarif_file: audit-iam.sarif
Every result has a location (the policy file, the --input file, or iam/roles/<name> for a live
role) and the run's automationDetails.id is mlops-audit-iam/<project>/.

Exit codes: 0 no finding at or above --fail-on, 3 findings at or above it, 2 usage errors.`,
    )
    .action(
      action<AuditIamFlags>(deps, async (ctx, flags) => {
        const format = FLAGS.format(flags.format)
        const failOn = FLAGS.failOn(flags.failOn)
        const unusedDays = FLAGS.unusedDays(flags.unusedDays)
        if (flags.allRoles && flags.role.length) {
          throw new UserError('ConflictingFlags', '--role and --all-roles cannot be combined.', {
            hint: 'Use --role for specific roles, or --all-roles for every role.',
          })
        }
        const { runAuditIam } = await import('../features/audit/audit-iam.js')
        const outcome = await runAuditIam(ctx, {
          roles: flags.role,
          allRoles: Boolean(flags.allRoles),
          policyFiles: flags.policyFile,
          ...(flags.input ? { input: flags.input } : {}),
          format,
          ...(failOn ? { failOn } : {}),
          ...(unusedDays ? { unusedDays } : {}),
          suggest: Boolean(flags.suggest),
          ...(flags.exclusions ? { exclusions: flags.exclusions } : {}),
        })
        if (outcome.kind === 'plan') return ctx.ui.result(outcome, () => '')
        const { report, sarif, exitCode } = outcome.result
        const { renderTable } = await import('../features/audit/report.js')
        ctx.ui.result(done(sarif ?? report), (doc, c) => (format === 'table' ? renderTable(report, c) : JSON.stringify(doc, null, 2)))
        if (exitCode === 3) throw findingsError(report.summary, report.options.failOn)
      }),
    )
}

function findingsError(summary: { atOrAboveFailOn: number; bySeverity: Record<string, number> }, failOn: FailOn): FindingsError {
  const levels = SEVERITIES.slice(0, SEVERITIES.indexOf(failOn as (typeof SEVERITIES)[number]) + 1)
  const counts = levels
    .filter((s) => summary.bySeverity[s])
    .map((s) => `${summary.bySeverity[s]} ${s}`)
    .join(', ')
  const n = summary.atOrAboveFailOn
  return new FindingsError(`${n} finding${n === 1 ? '' : 's'} at or above ${failOn} (${counts}).`, {
    hint: 'Apply the fix shown for each finding, or record accepted ones in an exclusions file (--exclusions). --fail-on none reports without failing.',
    reportAlreadyWritten: true,
    details: { atOrAboveFailOn: n, bySeverity: summary.bySeverity },
  })
}
