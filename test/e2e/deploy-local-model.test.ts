import { GetObjectCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { ANSWER, trainedModelTarGz } from '../fixtures/deploy.js'

/**
 * Issue 31 item 3: a model trained on this machine goes to the cloud. `deploy --model ./model.tar.gz`
 * and `--model <local run>` (its name in the state file, or its .mlops/local/<job>/ folder) repack the
 * file and upload it content-addressed as for an S3 model; the project bucket is created when missing.
 */
const RUN = 'dogs-local-2026-12-07-06-00-00-000'
const ROLE = 'training:\n  roleArn: arn:aws:iam::123456789012:role/my-sagemaker\n'

let moto: MotoServer
let s3: S3Client
beforeAll(async () => {
  moto = await startMoto()
  s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
})
afterAll(async () => moto?.stop())
beforeEach(async () => moto.reset())

/** A project with one local run (its model.tar.gz and the state record train --local writes). */
async function projectWithLocalRun(): Promise<{ dir: string; artifact: string }> {
  const dir = await tempProject(minimalConfig(ROLE))
  const artifact = path.join(dir, '.mlops', 'local', RUN, 'model.tar.gz')
  await mkdir(path.dirname(artifact), { recursive: true })
  await writeFile(artifact, await trainedModelTarGz())
  const state = {
    version: 1,
    resources: [{ kind: 'local-model', name: RUN, region: 'local', createdAt: '2026-12-07T06:00:00.000Z', details: { modelArtifact: artifact } }],
  }
  await writeFile(path.join(dir, '.mlops', 'state.json'), JSON.stringify(state))
  return { dir, artifact }
}

describe('deploy --model from this machine', () => {
  it('a local run by name: repacked, uploaded content-addressed into a bucket it creates, deployed and smoke-tested', async () => {
    const { dir, artifact } = await projectWithLocalRun()
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    const run = await runMlops(['deploy', '--model', RUN, '--yes', '--json'], { cwd: dir, env: motoEnv(moto.endpoint) })
    expect(run.code, run.stderr).toBe(0)
    const r = run.json()
    expect(r.source).toEqual({ uri: artifact, kind: 'local', jobName: RUN, foundIn: 'flag' })
    expect(r.modelDataUrl).toMatch(/^s3:\/\/dogs-data\/dogs\/models\/[0-9a-f]{64}\/model\.tar\.gz$/)
    expect(r.modelUploaded).toBe(true)
    expect(r.smokeTest.predictions[0]).toMatchObject({ label: 'Affenpinscher' })
    expect(run.stderr).toContain(`Model: ${artifact} (local run ${RUN})`)
    // Content-addressed: the key carries the sha256 of the bytes uploaded.
    const [, key] = /^s3:\/\/dogs-data\/(.+)$/.exec(r.modelDataUrl)!
    const body = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'dogs-data', Key: key }))).Body!.transformToByteArray())
    expect(key).toContain(createHash('sha256').update(body).digest('hex'))
    await s3.send(new HeadBucketCommand({ Bucket: 'dogs-data' }))
  })

  it('./model.tar.gz and the run folder: the same archive, so the second upload is skipped', async () => {
    const { dir, artifact } = await projectWithLocalRun()
    const env = motoEnv(moto.endpoint)
    const byFile = await runMlops(['deploy', '--model', path.relative(dir, artifact), '--no-smoke-test', '--yes', '--json'], { cwd: dir, env })
    expect(byFile.code, byFile.stderr).toBe(0)
    expect(byFile.json().source).toMatchObject({ uri: artifact, kind: 'local', jobName: RUN })
    const byFolder = await runMlops(['deploy', '--model', `.mlops/local/${RUN}`, '--no-smoke-test', '--yes', '--json'], { cwd: dir, env })
    expect(byFolder.code, byFolder.stderr).toBe(0)
    expect(byFolder.json()).toMatchObject({ modelDataUrl: byFile.json().modelDataUrl, modelUploaded: false, action: 'updated' })
  })

  it('--dry-run reads no S3 object for a local model and plans the project bucket', async () => {
    const { dir, artifact } = await projectWithLocalRun()
    const plan = await runMlops(['deploy', '--model', RUN, '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV })
    expect(plan.code, plan.stderr).toBe(0)
    const ops = (plan.json().operations as { operation: string }[]).map((o) => o.operation)
    expect(ops).not.toContain('GetObject')
    expect(ops).toEqual(expect.arrayContaining(['HeadBucket', 'CreateBucket', 'HeadObject', 'PutObject', 'CreateModel']))
    const text = await runMlops(['deploy', '--model', RUN, '--dry-run'], { cwd: dir, env: OFFLINE_ENV })
    expect(text.stdout).toMatch(new RegExp(`HeadBucket \\(read\\) +— the model is on this machine \\(${artifact.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')};`))
  })

  it('a missing path, a folder without a model, a run whose archive was cleaned: exit 2 naming --model, nothing created', async () => {
    const { dir, artifact } = await projectWithLocalRun()
    const env = motoEnv(moto.endpoint)
    const cases: [string, string][] = [
      ['./nope/model.tar.gz', `--model ./nope/model.tar.gz: no such file or folder (${path.join(dir, 'nope/model.tar.gz')}).`],
      ['./.mlops', `--model ./.mlops: the folder ${path.join(dir, '.mlops')} holds no model.tar.gz.`],
    ]
    for (const [model, message] of cases) {
      const r = await runMlops(['deploy', '--model', model, '--yes'], { cwd: dir, env })
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(message)
    }
    const { rm } = await import('node:fs/promises')
    await rm(artifact)
    const gone = await runMlops(['deploy', '--model', RUN, '--yes'], { cwd: dir, env })
    expect(gone.code).toBe(2)
    expect(gone.stderr).toContain(`--model ${RUN}: the local run's model.tar.gz is gone (${artifact}).`)
    await expect(s3.send(new HeadBucketCommand({ Bucket: 'dogs-data' }))).rejects.toThrow()
  })
})
