import type { ChalkInstance } from 'chalk'
import type { InitResult } from './init.js'

export function renderInit(r: InitResult, c: ChalkInstance): string {
  if (r.example) {
    return [
      `${r.written ? 'Wrote' : 'Would write'} a commented example of every section to ${r.path}.`,
      'Your config and scripts were not touched: copy the sections you need from it.',
    ].join('\n')
  }
  const lines = [`${r.written ? 'Wrote' : 'Would write'} ${r.path} (project ${r.project}, bucket ${r.bucket}).`]
  if (r.scripts) {
    const n = r.scripts.copied.length
    if (n)
      lines.push(
        `${r.written ? 'Copied' : 'Would copy'} ${n} file${n === 1 ? '' : 's'} of training and inference code to ${r.scripts.dir}: ${r.scripts.copied.join(', ')}.`,
      )
    if (r.scripts.kept.length) lines.push(c.gray(`Kept your ${r.scripts.kept.join(', ')} (--force replaces them).`))
  }
  if (r.sourceDir?.bundled) lines.push(`training.sourceDir is left unset: training uses the scripts bundled with mlops (${r.sourceDir.dir}).`)
  if (r.gitignore && (r.gitignore.action === 'created' || r.gitignore.action === 'appended'))
    lines.push(
      `${r.written ? (r.gitignore.action === 'created' ? 'Wrote' : 'Added .mlops/ to') : 'Would add .mlops/ to'} ${r.gitignore.path}${r.gitignore.action === 'created' ? ' (.mlops/)' : ''}: local runs and state stay out of git.`,
    )
  return lines.join('\n')
}
