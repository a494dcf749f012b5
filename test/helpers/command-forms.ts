import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { expect } from 'vitest'
import { makeSyntheticDataset, runMlops, tempProject } from './cli.js'

/**
 * Every command form that plans AWS requests, over the config variants that change what is sent.
 * The request contract (botocore checks every planned request) and the plan-versus-sent test (moto
 * records every request really sent) both walk this one list, so neither can leave a form out.
 */

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const MODEL = 's3://dogs-data/output/j/output/model.tar.gz'
export const SAMPLE = path.join(ROOT, 'assets/sample.jpg')
const KMS_KEY = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'

/** Every command form that plans requests: the same list as dry-run-all, so no command is left out. */
export const DEFAULT_COMMANDS: string[][] = [
  ['upload-data'],
  ['train'],
  ['train', '--instances', '4'],
  ['tune'],
  ['logs', 'dogs-train-2026-11-22-10-00-00-000'],
  ['train-ec2'],
  ['deploy', '--model', MODEL],
  ['invoke', SAMPLE],
  ['invoke', SAMPLE, '--lambda'],
  ['scale', '--min', '1', '--max', '2'],
  ['scale', '--lambda-reserved', '5', '--lambda-provisioned', '1'],
  ['lambda-setup'],
  ['audit-iam'],
  ['status'],
  ['teardown'],
]

export interface Variant {
  readonly name: string
  /** Edits to the config written by `mlops init`. */
  readonly edit?: (yaml: string, dir: string) => Promise<string> | string
  readonly commands: string[][]
}

export const VARIANTS: Variant[] = [
  { name: 'defaults', commands: DEFAULT_COMMANDS },
  {
    name: 'four spot instances with a KMS key',
    edit: (y) => y.replace(/^data:\n/m, `data:\n  kmsKeyId: ${KMS_KEY}\n`),
    commands: [['upload-data'], ['train', '--instances', '4', '--spot'], ['tune'], ['train-ec2', '--spot'], ['deploy', '--model', MODEL]],
  },
  { name: 'Hyperband tuning', edit: (y) => y.replace('strategy: Bayesian', 'strategy: Hyperband'), commands: [['tune']] },
  {
    name: 'serverless endpoint',
    commands: [
      ['deploy', '--serverless', '--model', MODEL],
      ['deploy', '--serverless', '--memory', '4096', '--model', MODEL],
    ],
  },
  {
    name: 'custom entry points',
    edit: async (y, dir) => {
      // A project whose code has its own names for both scripts.
      const code = path.join(dir, 'code')
      await mkdir(code, { recursive: true })
      for (const f of await readdir(path.join(ROOT, 'scripts')))
        if (f.endsWith('.py') || f.endsWith('.json')) await copyFile(path.join(ROOT, 'scripts', f), path.join(code, f))
      await copyFile(path.join(ROOT, 'scripts/train.py'), path.join(code, 'fit_dogs.py'))
      await copyFile(path.join(ROOT, 'scripts/inference.py'), path.join(code, 'serve_dogs.py'))
      return y
        .replace(/sourceDir: .*/, `sourceDir: ${code}`)
        .replace('entryPoint: train.py', 'entryPoint: fit_dogs.py')
        .replace('entryPoint: inference.py', 'entryPoint: serve_dogs.py')
    },
    commands: [['train'], ['tune'], ['train-ec2'], ['deploy', '--model', MODEL]],
  },
  { name: 'Lambda with a function URL', commands: [['lambda-setup', '--url']] },
]

/** A project for `variant`: `mlops init` (project dogs, bucket dogs-data), its config edit, a tiny dataset. */
export async function variantProject(variant: Variant): Promise<string> {
  const dir = await tempProject()
  expect((await runMlops(['init', '--project', 'dogs', '--bucket', 'dogs-data'], { cwd: dir })).code).toBe(0)
  const cfgPath = path.join(dir, 'mlops.config.yaml')
  let yaml = (await readFile(cfgPath, 'utf8')).replace(/sourceDir: .*/, `sourceDir: ${path.join(ROOT, 'scripts')}`)
  if (variant.edit) yaml = await variant.edit(yaml, dir)
  await writeFile(cfgPath, yaml)
  makeSyntheticDataset(dir, { classes: 3, train: 2, valid: 1, test: 1, size: 16 })
  return dir
}

/** How a form is named in messages: `variant: mlops <args>`, the sample image by its file name. */
export function formLabel(variant: Variant, args: readonly string[]): string {
  return `${variant.name}: mlops ${args.map((a) => (a === SAMPLE ? 'sample.jpg' : a)).join(' ')}`
}
