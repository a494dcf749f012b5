import type { S3Client } from '@aws-sdk/client-s3'
import { moveRequestSignal } from '../request-signal.js'

/**
 * What makes the S3 client cheap per request, for `upload-data`'s thousands of small PUTs.
 *
 * The SDK resolves a command's whole middleware stack on every `send` (about a fifth of the client's
 * CPU per PutObject, measured against s3rver: 2.3 ms without the cache, 1.8 ms with it) unless the
 * client caches it (`cacheMiddleware`). The cache holds only for sends without per-call options and
 * commands without middleware of their own, so what a transfer needs per request travels in its input:
 * - the caller's AbortSignal (`withRequestSignal`, ../request-signal.ts);
 * - the SigV4 payload hash: a request whose input carries `ChecksumSHA256` for a body in memory (the
 *   body's sha256, which upload-data computes anyway) is signed with that hash, instead of the SDK
 *   hashing the body a second time.
 * With the cache on, middleware added to a single S3 command (`command.middlewareStack.add`) is not
 * honoured: the first option-less send of a command class fixes the stack every later one of that class
 * reuses (that first command's own middleware included). Per-request behaviour belongs in the input,
 * read by client-wide middleware added here.
 */
export const TRANSFER_CLIENT_CONFIG = { cacheMiddleware: true } as const

/** The client-wide middleware of the transfer path; added once, when the client is built. */
export function addTransferMiddleware(s3: S3Client): void {
  s3.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { ChecksumSHA256?: string; Body?: unknown }
      const request = args.request as { headers?: Record<string, string> }
      // Only a body in memory is sent as it is (a stream may be re-encoded as aws-chunked).
      if (input.ChecksumSHA256 && input.Body instanceof Uint8Array && request.headers && !request.headers['x-amz-content-sha256'])
        request.headers['x-amz-content-sha256'] = Buffer.from(input.ChecksumSHA256, 'base64').toString('hex')
      return next(args)
    },
    { step: 'build', name: 'mlopsPayloadHashFromChecksum' },
  )
  s3.middlewareStack.add(
    (next) => async (args) => {
      moveRequestSignal(args)
      return next(args)
    },
    { step: 'deserialize', priority: 'low', name: 'mlopsRequestSignal' },
  )
}
