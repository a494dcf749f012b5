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
  ['logs', '--lambda', '--since', '1h', '--filter', 'ERROR'],
  ['train-ec2'],
  ['deploy', '--model', MODEL],
  ['invoke', SAMPLE],
  ['invoke', SAMPLE, '--lambda'],
  ['scale', '--min', '1', '--max', '2'],
  ['scale', '--lambda-reserved', '5', '--lambda-provisioned', '1'],
  ['lambda-setup'],
  ['audit-iam'],
  ['status'],
  ['status', '--metrics', '--since', '6h'],
  ['teardown'],
  ['runs'],
  // Removing the reservation (DeleteFunctionConcurrency), after the form above set one.
  ['scale', '--lambda-reserved', 'none'],
  ['evaluate', '--endpoint'],
  ['predict', 'dogImages/test', '--endpoint'],
  ['predict', 's3://dogs-data/dogImages/test/', '--lambda', '-o', 's3.jsonl'],
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
    // The Ray Serve image refuses serverless (issue 25); an image of the user's own keeps it.
    name: 'serverless endpoint on an own image',
    edit: (y) => y.replace(/^endpoint:\n/m, 'endpoint:\n  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/dogs-serve:cpu\n'),
    commands: [
      ['deploy', '--serverless', '--model', MODEL],
      ['deploy', '--serverless', '--memory', '4096', '--model', MODEL],
    ],
  },
  {
    // InferenceAmiVersion is checked against botocore's enum here; ml.g4dn is a GPU family moto's
    // CreateEndpointConfig also accepts (it refuses ml.g5), so plan-vs-sent runs this form too.
    name: 'GPU endpoint on the Ray Serve CUDA image',
    commands: [['deploy', '--instance-type', 'ml.g4dn.xlarge', '--model', MODEL]],
  },
  ...['2.9.0', '2.10.0'].map((version) => ({
    name: `older training line ${version}`,
    edit: (y: string) => y.replace(/^training:\n/m, `training:\n  frameworkVersion: "${version}"\n`),
    commands: [['train', '--instances', '4'], ['tune']],
  })),
  {
    name: 'regions the old table refused: ap-south-2 and GovCloud',
    commands: [
      ['train', '--region', 'ap-south-2'],
      ['deploy', '--region', 'ap-south-2', '--model', MODEL],
      ['train', '--instances', '4', '--region', 'us-gov-west-1'],
      ['deploy', '--instance-type', 'ml.g4dn.xlarge', '--region', 'us-gov-west-1', '--model', MODEL],
      ['train-ec2', '--region', 'us-gov-west-1'],
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
      await copyFile(path.join(ROOT, 'scripts/deployment.py'), path.join(code, 'serve_dogs.py'))
      return y
        .replace(/sourceDir: .*/, `sourceDir: ${code}`)
        .replace('entryPoint: train.py', 'entryPoint: fit_dogs.py')
        .replace('entryPoint: deployment.py', 'entryPoint: serve_dogs.py')
    },
    commands: [['train'], ['tune'], ['train-ec2'], ['deploy', '--model', MODEL]],
  },
  { name: 'Lambda with a function URL', commands: [['lambda-setup', '--url']] },
  {
    // Issue 29: the notifier, its role, topic, e-mail subscription, webhook parameter and one rule per run kind.
    name: 'run notifications: e-mail, an existing topic and a webhook',
    edit: (y) => `${y}notify:\n  - ops@example.com\n  - arn:aws:sns:us-east-1:123456789012:alerts\n  - https://hooks.example.com/services/T0/B0/X\n`,
    commands: [['train'], ['tune'], ['train-ec2'], ['deploy', '--model', MODEL], ['status'], ['teardown']],
  },
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
