import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { setMaxListeners } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/**
 * The server's ceiling: a bare loop of concurrent PutObject calls with the same files, nothing else
 * (no hashing, no listing, no progress, SDK defaults). Only the loop is timed: not process start-up,
 * not the file listing, not the bucket creation.
 */
export async function runCeiling(o: {
  endpoint: string
  dir: string
  bucket: string
  concurrency: number
  limitS: number
}): Promise<{ files: number; bytes: number; seconds: number; cpuS: number; concurrency: number }> {
  const s3 = new S3Client({ endpoint: o.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } })
  try {
    await s3.send(new CreateBucketCommand({ Bucket: o.bucket }))
    const files = (await readdir(o.dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name))
    const signal = AbortSignal.timeout(o.limitS * 1000)
    setMaxListeners(0, signal)
    let next = 0
    let bytes = 0
    const started = performance.now()
    const cpu = process.cpuUsage()
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < files.length) {
          const file = files[next++]
          const body = await readFile(file)
          await s3.send(new PutObjectCommand({ Bucket: o.bucket, Key: `data/${path.relative(o.dir, file)}`, Body: body }), { abortSignal: signal })
          bytes += body.length
        }
      }),
    )
    const used = process.cpuUsage(cpu)
    return { files: files.length, bytes, seconds: (performance.now() - started) / 1000, cpuS: (used.user + used.system) / 1e6, concurrency: o.concurrency }
  } finally {
    s3.destroy()
  }
}
