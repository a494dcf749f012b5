import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import { callAws, isNotFound } from '../error-translation.js'

/** Reading a model archive from S3 and uploading a file, for `deploy`'s repack. */

/** The object's body as a stream; undefined when there is no such object (NoSuchKey / 404). */
export async function getObjectStream(s3: S3Client, bucket: string, key: string): Promise<Readable | undefined> {
  return callAws({ service: 's3', operation: 'GetObject', resource: `s3://${bucket}/${key}` }, async () => {
    try {
      return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as Readable | undefined
    } catch (e) {
      if (isNotFound(e)) return undefined
      throw e
    }
  })
}

export interface FileUpload {
  readonly bucket: string
  readonly key: string
  readonly file: string
  readonly contentType: string
  readonly metadata?: Readonly<Record<string, string>>
}

/** Uploads a local file (multipart when large, via lib-storage's Upload). */
export async function uploadFile(s3: S3Client, u: FileUpload): Promise<void> {
  const { Upload } = await import('@aws-sdk/lib-storage')
  await callAws({ service: 's3', operation: 'PutObject', resource: `s3://${u.bucket}/${u.key}` }, () =>
    new Upload({
      client: s3,
      params: { Bucket: u.bucket, Key: u.key, Body: createReadStream(u.file), ContentType: u.contentType, Metadata: { ...u.metadata } },
    }).done(),
  )
}
