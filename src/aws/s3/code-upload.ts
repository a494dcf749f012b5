import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3'
import { callAws } from '../error-translation.js'
import { headObject } from './objects.js'

/**
 * Uploads a content-addressed object (the training code's sourcedir.tar.gz) unless an object is
 * already at its key: the key carries the content hash, so a present object is this very content.
 */

export interface ObjectLocation {
  readonly bucket: string
  readonly key: string
  readonly uri: string
}

/** HeadObject, then PutObject only when nothing is there. */
export async function ensureCodePackage(
  s3: S3Client,
  loc: ObjectLocation,
  pkg: { readonly body: Buffer; readonly sha256: string },
): Promise<{ uri: string; key: string; uploaded: boolean }> {
  const present = (await headObject(s3, loc.bucket, loc.key)) !== undefined
  if (!present) {
    await callAws({ service: 's3', operation: 'PutObject', resource: loc.uri }, () =>
      s3.send(new PutObjectCommand({ Bucket: loc.bucket, Key: loc.key, Body: pkg.body, ContentType: 'application/gzip', Metadata: { sha256: pkg.sha256 } })),
    )
  }
  return { uri: loc.uri, key: loc.key, uploaded: !present }
}
