import type { ChalkInstance } from 'chalk'
import type { DoctorResult } from './doctor.js'

/** `mlops doctor`: one line per check, a mark for its status, the fix under each failure. */
export function renderDoctor(r: DoctorResult, c: ChalkInstance): string {
  const mark = { ok: c.green('✔'), fail: c.red('✖'), warn: c.yellow('!'), skip: c.gray('-') } as const
  const lines = [c.bold(`mlops doctor (${r.region})`)]
  for (const check of r.checks) {
    lines.push(`${mark[check.status]} ${check.name.padEnd(14)} ${check.detail}`)
    if (check.fix) lines.push(`  ${c.gray('fix:')} ${check.fix}`)
  }
  const failed = r.checks.filter((x) => x.status === 'fail').length
  lines.push('', failed ? c.red(`${failed} check${failed === 1 ? '' : 's'} failed.`) : c.green('Every check passed (or could not run: see the ! lines).'))
  return lines.join('\n')
}
