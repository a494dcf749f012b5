import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { makeSyntheticDataset, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'
import { isReadOperation } from '../../src/shared/plan.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const noAws = noAwsFactory('a --dry-run asked for AWS clients')

const COMMANDS: [string, string[]][] = [
  ['upload-data', ['upload-data']],
  ['train', ['train', '--instances', '4']],
  ['tune', ['tune']],
  ['logs', ['logs', 'dogs-train-2026-11-22-10-00-00-000']],
  ['train-ec2', ['train-ec2']],
  ['deploy', ['deploy', '--model', 's3://dogs-data/output/j/output/model.tar.gz']],
  ['invoke', ['invoke', path.join(ROOT, 'assets/sample.jpg')]],
  ['invoke --lambda', ['invoke', path.join(ROOT, 'assets/sample.jpg'), '--lambda']],
  ['scale', ['scale', '--min', '1', '--max', '2']],
  ['scale (Lambda)', ['scale', '--lambda-reserved', '5', '--lambda-provisioned', '1']],
  ['lambda-setup', ['lambda-setup']],
  ['audit-iam', ['audit-iam']],
  ['status', ['status']],
  ['status --metrics', ['status', '--metrics']],
  ['teardown', ['teardown']],
  ['runs', ['runs']],
  ['runs compare', ['runs', 'compare', 'dogs-train-2026-11-22-10-00-00-000', 'dogs-train-2026-11-23-10-00-00-000']],
  ['evaluate --endpoint', ['evaluate', '--endpoint']],
  ['predict --endpoint', ['predict', 'dogImages/test', '--endpoint']],
  ['predict s3:// --lambda', ['predict', 's3://dogs-data/dogImages/test/', '--lambda', '-o', 's3.jsonl']],
]

describe('--dry-run of every command works offline, without credentials', () => {
  let dir: string
  beforeAll(async () => {
    dir = await tempProject()
    expect((await runMlops(['init', '--project', 'dogs', '--bucket', 'dogs-data'], { cwd: dir })).code).toBe(0)
    const cfg = path.join(dir, 'mlops.config.yaml')
    await writeFile(cfg, (await readFile(cfg, 'utf8')).replace('sourceDir: scripts', `sourceDir: ${path.join(ROOT, 'scripts')}`))
    makeSyntheticDataset(dir, { classes: 3, train: 2, valid: 1, test: 1, size: 16 })
  })

  it.each(COMMANDS)('%s', async (_name, args) => {
    const run = await runMlops([...args, '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAws })
    expect(run.code, run.stderr).toBe(0)
    const doc = run.json()
    expect(doc.dryRun).toBe(true)
    expect(Array.isArray(doc.operations)).toBe(true)
    expect(doc.operations.length).toBeGreaterThan(0)
    for (const op of doc.operations) {
      const { read, ...request } = op
      expect(request).toEqual({ service: expect.any(String), operation: expect.stringMatching(/^[A-Z][A-Za-z0-9]+$/), input: expect.anything() })
      // Reads are marked, so the policy built from plans can tell them from writes.
      expect(read, `${op.service}:${op.operation}`).toBe(isReadOperation(op.operation) ? true : undefined)
    }
    // The human rendering names each request too.
    const human = await runMlops([...args, '--dry-run'], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAws })
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toContain(doc.operations[0].operation)
    const firstRead = doc.operations.find((o: { read?: boolean }) => o.read)
    if (firstRead) expect(human.stdout).toMatch(new RegExp(`${firstRead.service} ${firstRead.operation} \\(read\\)`))
  })
})
