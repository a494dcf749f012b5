import { readFileSync } from 'node:fs'
import path from 'node:path'

/**
 * The `region` of a profile in the AWS shared config file (AWS_CONFIG_FILE, else ~/.aws/config),
 * as the AWS CLI reads it: `[default]` for the default profile, `[profile name]` for the others.
 * The home folder comes from the environment we were given, so a test (or an embedding program)
 * decides which file is read; without HOME or AWS_CONFIG_FILE no file is read.
 */
export function profileRegion(env: Readonly<Record<string, string | undefined>>, profile: string | undefined): string | undefined {
  const home = env.HOME || env.USERPROFILE
  const file = env.AWS_CONFIG_FILE || (home ? path.join(home, '.aws', 'config') : undefined)
  if (!file) return undefined
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined // no config file is the common case, not an error
  }
  const name = profile ?? 'default'
  const wanted = name === 'default' ? ['default', 'profile default'] : [`profile ${name}`]
  let inSection = false
  for (const line of text.split(/\r?\n/)) {
    const section = /^\s*\[\s*([^\]]+?)\s*\]\s*$/.exec(line)
    if (section) {
      inSection = wanted.includes(section[1].replace(/\s+/g, ' '))
      continue
    }
    if (!inSection) continue
    const kv = /^\s*region\s*=\s*([^\s#;]+)/.exec(line)
    if (kv) return kv[1]
  }
  return undefined
}
