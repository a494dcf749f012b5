import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { jpeg } from '../helpers/images.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

let moto: MotoServer
let s3: S3Client
let server: http.Server
let base = ''
let zip: Buffer
let downloads = 0

/** dogImages.zip's layout (a top-level dogImages/ folder, macOS junk included), zipped by Python. */
async function buildZip(dir: string): Promise<Buffer> {
  const src = path.join(dir, 'src', 'dogImages')
  for (const split of ['train', 'valid', 'test']) {
    for (const cls of ['001.Affenpinscher', '002.Afghan_hound']) {
      await mkdir(path.join(src, split, cls), { recursive: true })
      await writeFile(path.join(src, split, cls, `${cls.slice(4)}_00001.jpg`), jpeg(`${split}-${cls}-image`))
    }
  }
  const out = path.join(dir, 'dogImages.zip')
  execFileSync(process.env.MOTO_PYTHON ?? 'python3', [
    '-c',
    `
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        for d in sorted(dirs):
            z.write(os.path.join(root, d), os.path.relpath(os.path.join(root, d), os.path.dirname(src)) + '/')
        for f in sorted(files):
            z.write(os.path.join(root, f), os.path.relpath(os.path.join(root, f), os.path.dirname(src)))
    z.writestr('__MACOSX/dogImages/._train', 'apple double')
`,
    src,
    out,
  ])
  return readFile(out)
}

beforeAll(async () => {
  moto = await startMoto()
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
  zip = await buildZip(await tempProject())
  server = http.createServer((req, res) => {
    if (req.url !== '/dogImages.zip') return void res.writeHead(404).end()
    downloads++
    res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(zip.length) })
    // Two chunks, so progress and streaming are exercised.
    res.write(zip.subarray(0, 100))
    setTimeout(() => res.end(zip.subarray(100)), 10)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()))
  s3?.destroy()
  await moto?.stop()
})

describe('upload-data --from-url on moto', () => {
  it('downloads, verifies and unpacks the archive, syncs it, and reuses the unpacked folder on re-runs', async () => {
    const dir = await tempProject(minimalConfig())
    const env = motoEnv(moto.endpoint)
    const sha = createHash('sha256').update(zip).digest('hex')

    const plan = await runMlops(['upload-data', '--from-url', `${base}/dogImages.zip`, '--dry-run', '--json'], {
      cwd: dir,
      env: OFFLINE_ENV,
    })
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.json()).toMatchObject({ dryRun: true, wouldUpload: 0, download: { url: `${base}/dogImages.zip`, into: path.join(dir, 'dogImages') } })
    expect(downloads).toBe(0)

    const run = await runMlops(['upload-data', '--from-url', `${base}/dogImages.zip`, '--expect-sha256', sha, '--json', '--yes'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({
      uploaded: 6,
      skipped: 0,
      dataset: { validated: true, classes: 2, files: 6 },
      download: { url: `${base}/dogImages.zip`, downloaded: true, archiveBytes: zip.length, archiveSha256: sha },
    })
    expect(run.stderr).toContain('Downloaded')
    expect(run.stderr).toContain('Unpacked 6 files')
    expect((await readdir(path.join(dir, 'dogImages'))).sort()).toEqual(['test', 'train', 'valid'])
    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: 'dogs-data' }))).Contents ?? []).map((o) => o.Key).sort()
    expect(keys).toEqual([
      'data/test/001.Affenpinscher/Affenpinscher_00001.jpg',
      'data/test/002.Afghan_hound/Afghan_hound_00001.jpg',
      'data/train/001.Affenpinscher/Affenpinscher_00001.jpg',
      'data/train/002.Afghan_hound/Afghan_hound_00001.jpg',
      'data/valid/001.Affenpinscher/Affenpinscher_00001.jpg',
      'data/valid/002.Afghan_hound/Afghan_hound_00001.jpg',
    ])
    expect(downloads).toBe(1)

    const again = await runMlops(['upload-data', '--from-url', `${base}/dogImages.zip`, '--json', '--yes'], { cwd: dir, env })
    expect(again.code, again.stderr).toBe(0)
    expect(again.json()).toMatchObject({ uploaded: 0, skipped: 6, download: { downloaded: false } })
    expect(downloads).toBe(1)
  })

  it('refuses a wrong checksum and uploads nothing', async () => {
    const dir = await tempProject(minimalConfig('', 'dogs', 'other-data'))
    const run = await runMlops(['upload-data', '--from-url', `${base}/dogImages.zip`, '--expect-sha256', 'f'.repeat(64), '--yes'], {
      cwd: dir,
      env: motoEnv(moto.endpoint),
    })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain(`not the expected ${'f'.repeat(64)}`)
    expect(await readdir(dir)).not.toContain('dogImages')
    await expect(s3.send(new ListObjectsV2Command({ Bucket: 'other-data' }))).rejects.toMatchObject({ name: 'NoSuchBucket' })
  })
})
