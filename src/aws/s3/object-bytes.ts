import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { UserError } from '../../shared/errors.js'
import { callAws } from '../error-translation.js'

/**
 * One small object read into memory (an image to send to the model), refusing more than `maxBytes`:
 * the size S3 announces is checked before the body is read, and the body is counted while it streams
 * (a wrong Content-Length must not fill the memory).
 */
export async function getObjectBytes(s3: S3Client, bucket: string, key: string, maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
  const where = `s3://${bucket}/${key}`
  const out = await callAws({ service: 's3', operation: 'GetObject', resource: where }, () =>
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
  )
  const tooLarge = (size: number) =>
    new UserError('ImageTooLarge', `${where} is ${size} bytes; a request to the model may be at most ${maxBytes}.`, {
      hint: 'Resize or re-compress it (the model sees 224x224 pixels anyway).',
    })
  if ((out.ContentLength ?? 0) > maxBytes) {
    ;(out.Body as { destroy?: () => void } | undefined)?.destroy?.()
    throw tooLarge(out.ContentLength!)
  }
  const body = out.Body as AsyncIterable<Uint8Array> | undefined
  if (!body) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > maxBytes) {
      ;(body as { destroy?: () => void }).destroy?.()
      throw tooLarge(size)
    }
    chunks.push(chunk)
  }
  return new Uint8Array(Buffer.concat(chunks))
}
