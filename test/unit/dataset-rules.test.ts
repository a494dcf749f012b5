import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { scanDataset } from '../../src/shared/dataset-layout.js'
import { UserError } from '../../src/shared/errors.js'
import { jpeg } from '../helpers/images.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { noAwsFactory } from '../helpers/aws.js'

/**
 * One dataset validator for upload-data and train --local (issue 31 item 11), and the training-input
 * cases of issue 27: TIFF accepted like the predictor accepts it, names that are not UTF-8 refused
 * with the rename to make, one class or no test/ refused before anything starts.
 */

const TIFF_LE = Buffer.from([0x49, 0x49, 0x2a, 0x00, 8, 0, 0, 0])
const TIFF_BE = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8])

async function write(root: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true })
    await writeFile(path.join(root, rel), typeof content === 'string' ? jpeg(content) : content)
  }
  return root
}

function dataset(classes = ['cat', 'dog'], splits = ['train', 'valid', 'test']): Record<string, string> {
  const files: Record<string, string> = {}
  for (const s of splits) for (const c of classes) files[`${s}/${c}/a.jpg`] = `${s}${c}`
  return files
}

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'mlops-rules-'))
}

async function refusal(root: string, options: Parameters<typeof scanDataset>[1] = {}): Promise<UserError> {
  const err = await scanDataset(root, options).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(UserError)
  return err as UserError
}

describe('the dataset validator', () => {
  it('accepts TIFF images (multi-page too: training and the predictor read the first page) by name and signature', async () => {
    const root = await write(await tmp(), { ...dataset(), 'train/cat/scan.tiff': TIFF_LE, 'train/dog/scan.TIF': TIFF_BE })
    const scan = await scanDataset(root)
    expect(scan.files.map((f) => f.rel)).toEqual(expect.arrayContaining(['train/cat/scan.tiff', 'train/dog/scan.TIF']))
    expect(scan.skipped).toEqual([])
  })

  it('refuses a class folder whose name is not UTF-8, naming it escaped with the rename to make', async () => {
    const root = await write(await tmp(), dataset())
    const latin1 = Buffer.concat([Buffer.from(path.join(root, 'train') + '/'), Buffer.from([0x63, 0x61, 0x66, 0xe9])])
    await mkdir(latin1)
    await writeFile(Buffer.concat([latin1, Buffer.from('/a.jpg')]), jpeg('x'))
    const err = await refusal(root)
    expect(err.code).toBe('InvalidDatasetLayout')
    expect(err.details!.problems).toContain(
      "train/caf\\xe9: the name is not UTF-8 (labels and S3 keys must be); rename it, e.g. mv $'train/caf\\xe9' 'train/café' (and the same class folder in the other splits)",
    )
    // --no-validate cannot upload it either: an S3 key is Unicode.
    expect((await refusal(root, { validate: false })).code).toBe('NonUtf8Name')
  })

  it('shows the expected tree and the split command in the one layout message', async () => {
    const root = await write(await tmp(), dataset(['only']))
    const err = await refusal(root)
    expect(err.message).toContain('only one class (only): a classifier needs at least two')
    expect(err.message).toContain('  train/<class>/<image>    e.g. train/001.Affenpinscher/a.jpg')
    expect(err.message).toContain('  test/<class>/<image>')
    expect(err.hint).toContain('`mlops split-data <folder> --out <dir>`')
    expect(err.hint).toContain('--no-validate')
  })

  it('points a folder of class folders at split-data', async () => {
    const root = await write(await tmp(), { 'cat/a.jpg': 'a', 'dog/b.jpg': 'b' })
    const err = await refusal(root)
    expect(err.details!.problems).toEqual([
      `missing train/, valid/, test/ (expected train/, valid/ and test/ directly inside ${root}); it holds class folders with images: split them with mlops split-data ${root} --out ${root}-split`,
    ])
  })
})

describe('train --local uses the same validator (before Python starts)', () => {
  async function project(files: Record<string, string>): Promise<string> {
    const dir = await tempProject(minimalConfig())
    await write(path.join(dir, 'dogImages'), files)
    return dir
  }

  it('refuses one class with the same message as upload-data, worded for training', async () => {
    const dir = await project(dataset(['only']))
    const r = await runMlops(['train', '--local', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('only one class (only): a classifier needs at least two')
    expect(r.stderr).toContain('nothing was started')
    expect(r.stderr).toContain('mlops split-data')
    expect(r.stderr).not.toContain('--no-validate')
  })

  it('refuses a dataset without test/, as upload-data and train do', async () => {
    const dir = await project(dataset(['cat', 'dog'], ['train', 'valid']))
    const r = await runMlops(['train', '--local', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('missing test/')
  })

  it('refuses a file with an image name and no image inside, naming it', async () => {
    const dir = await project(dataset())
    await writeFile(path.join(dir, 'dogImages/train/cat/broken.jpg'), 'not an image')
    const r = await runMlops(['train', '--local', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain('train/cat/broken.jpg')
  })

  it('a valid dataset still plans', async () => {
    const dir = await project(dataset())
    const r = await runMlops(['train', '--local', '--dry-run'], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code, r.stderr).toBe(0)
  })
})
