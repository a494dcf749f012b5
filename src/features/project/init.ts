import { access, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseConfigText } from '../../config/load.js'
import { configTemplate } from '../../config/template.js'
import type { CommandContext } from '../../context.js'
import { UserError } from '../../shared/errors.js'

export interface InitResult {
  readonly path: string
  readonly project: string
  readonly bucket: string
  readonly dataDir: string
  readonly written: boolean
}

/** Writes the commented template; validates it before writing so a bad --project never lands on disk. */
export async function runInit(ctx: CommandContext, opts: { project?: string; bucket?: string; force?: boolean }): Promise<InitResult> {
  const file = ctx.configPath
  const region = ctx.awsSettings().region
  const project = opts.project ?? sanitize(path.basename(ctx.projectDir))
  const bucket = opts.bucket ?? `${project}-mlops-${region}`.slice(0, 63)
  const text = configTemplate({ project, bucket, region })
  try {
    parseConfigText(text, file)
  } catch (e) {
    throw new UserError('InvalidInitValue', `--project "${project}" or --bucket "${bucket}" is not valid.`, {
      hint: 'Project: 2-32 lower-case letters, digits or hyphens, starting with a letter. Bucket: 3-63 lower-case letters, digits, dots or hyphens.',
      cause: e,
    })
  }
  const exists = await access(file).then(
    () => true,
    () => false,
  )
  if (exists && !opts.force) {
    throw new UserError('ConfigExists', `${file} already exists; nothing was written.`, { hint: 'Pass --force to overwrite it, or -c <other-path>.' })
  }
  const result = { path: file, project, bucket, dataDir: ctx.resolvePath('dogImages'), written: !ctx.dryRun }
  if (!ctx.dryRun) await writeFile(file, text)
  return result
}

function sanitize(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 32)
  return s.length >= 2 ? s : 'mlops-project'
}
