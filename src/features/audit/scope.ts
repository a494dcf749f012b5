import { TAG_PROJECT } from '../../shared/naming.js'
import type { RoleInput, RolePurpose } from './types.js'

/**
 * Which roles an audit looks at. By default the project's: roles tagged mlops:project=<project>, and
 * the roles its resources use (SageMaker execution role, the Lambda's role, the instance profile's
 * role). `--all-roles` takes every role; `--role` takes exactly the named ones.
 */

export interface ProjectRoles {
  readonly project: string
  /** Role names mlops gives the project's roles (`<project>-lambda`, `-sagemaker`, `-ec2`). */
  readonly lambdaRole: string
  readonly trainingRole: string
  readonly ec2Role: string
  readonly instanceProfile: string
  /** The Lambda function's actual role (live lookup), when known. */
  readonly functionRole?: string
  /** Roles the project's SageMaker resources run with (training.roleArn, the endpoint's model). */
  readonly executionRoles?: readonly string[]
  /** audit.roles from the config. */
  readonly extraRoles?: readonly string[]
}

export type Scope =
  { readonly mode: 'all' } | { readonly mode: 'named'; readonly names: readonly string[] } | { readonly mode: 'project'; readonly project: ProjectRoles }

export interface ScopedRoles {
  readonly roles: RoleInput[]
  /** Why each role is in scope, by role name. */
  readonly reasons: ReadonlyMap<string, string>
  /** Names asked for (by --role or config) that do not exist. */
  readonly missing: string[]
}

/** `arn:aws:iam::1:role/path/name` or `name` -> `name`. */
export function roleNameOf(nameOrArn: string): string {
  return nameOrArn.includes(':role/') ? nameOrArn.split('/').pop()! : nameOrArn
}

/** What mlops knows a role is for, from the project's naming (enables --suggest). */
export function purposeOf(role: RoleInput, project?: ProjectRoles): RolePurpose | undefined {
  if (!project) return undefined
  if (role.name === project.lambdaRole || role.name === project.functionRole) return 'lambda'
  if (role.name === project.trainingRole || project.executionRoles?.includes(role.name)) return 'training'
  if (role.name === project.ec2Role || role.instanceProfiles.includes(project.instanceProfile)) return 'instance'
  return undefined
}

export function selectRoles(all: readonly RoleInput[], scope: Scope, project?: ProjectRoles): ScopedRoles {
  const reasons = new Map<string, string>()
  const missing: string[] = []
  const byName = new Map(all.map((r) => [r.name.toLowerCase(), r]))
  const withPurpose = (r: RoleInput): RoleInput => {
    const purpose = purposeOf(r, project)
    return purpose ? { ...r, purpose } : r
  }
  if (scope.mode === 'all') {
    for (const r of all) reasons.set(r.name, '--all-roles')
    return { roles: all.map(withPurpose), reasons, missing }
  }
  if (scope.mode === 'named') {
    const roles: RoleInput[] = []
    for (const n of scope.names) {
      const role = byName.get(roleNameOf(n).toLowerCase())
      if (!role) missing.push(n)
      else if (!reasons.has(role.name)) {
        reasons.set(role.name, '--role')
        roles.push(withPurpose(role))
      }
    }
    return { roles, reasons, missing }
  }
  const p = scope.project
  const add = (role: RoleInput | undefined, why: string) => {
    if (role && !reasons.has(role.name)) reasons.set(role.name, why)
  }
  for (const r of all) if (r.tags[TAG_PROJECT] === p.project) add(r, `tagged ${TAG_PROJECT}=${p.project}`)
  add(byName.get(p.trainingRole.toLowerCase()), 'SageMaker execution role of the project')
  for (const n of p.executionRoles ?? []) add(byName.get(roleNameOf(n).toLowerCase()), "runs the project's SageMaker jobs or endpoint")
  add(byName.get(p.lambdaRole.toLowerCase()), 'Lambda role of the project')
  if (p.functionRole) add(byName.get(p.functionRole.toLowerCase()), "role of the project's Lambda function")
  add(byName.get(p.ec2Role.toLowerCase()), 'EC2 instance role of the project')
  for (const r of all) if (r.instanceProfiles.includes(p.instanceProfile)) add(r, `role of instance profile ${p.instanceProfile}`)
  for (const n of p.extraRoles ?? []) {
    const role = byName.get(roleNameOf(n).toLowerCase())
    if (!role) missing.push(n)
    else add(role, 'audit.roles in the config')
  }
  const roles = all.filter((r) => reasons.has(r.name)).map(withPurpose)
  return { roles, reasons, missing }
}
