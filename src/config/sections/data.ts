import { z } from 'zod'
import { bucketName, positiveInt, s3Prefix } from '../common.js'

/** Bidirectional controls (LRM/RLM, embeddings, overrides, isolates, ALM), zero-width and separator characters. */
const BIDI_OR_INVISIBLE = /[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/** `data`: the image folders and where they live in S3 (`upload-data`, `train`, `train-ec2`). */
export const DataSchema = z.strictObject({
  /** Folder with train/ valid/ test/ class folders. @default './dogImages' */
  localDir: z.string().min(1).default('./dogImages'),
  /** Bucket for data, code and model artifacts. Created private and encrypted if missing. */
  bucket: bucketName,
  /**
   * Key prefix of the dataset in the bucket. At most 1,000 bytes (S3 keys are 1,024 bytes with the
   * file's path below it), no control, bidirectional or invisible characters and no `.`/`..` segments. @default 'data'
   */
  prefix: s3Prefix
    .refine((v) => Buffer.byteLength(v) <= 1000, 'at most 1,000 bytes (S3 keys are at most 1,024 bytes, and the file paths go below it)')
    // eslint-disable-next-line no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f-\u009f]/.test(v), 'no NUL or other control characters')
    // Bidirectional overrides and invisible characters make a key read as something it is not
    // (`data\u202Egpj.exe`), in the console, in logs and in `mlops status` (issue 27).
    .refine(
      (v) => !BIDI_OR_INVISIBLE.test(v),
      'no right-to-left override, other bidirectional control or invisible formatting characters (U+202A-202E, U+2066-2069, U+200B-200F, U+2028-2029, U+061C, U+FEFF)',
    )
    .refine((v) => !v.split('/').some((seg) => seg === '..' || seg === '.' || seg === ''), 'no empty, "." or ".." segments')
    .default('data'),
  /** KMS key id or ARN for SSE-KMS; unset means SSE-S3. */
  kmsKeyId: z.string().min(1).optional(),
  /**
   * Parallel uploads. 32 keeps a local S3 emulator saturated (measured with `npm run bench:upload`:
   * 8 left it idle part of the time, 64 gained nothing) and hides the ~20-50 ms per-request latency
   * of real S3; above 50 requests queue for the SDK's 50 sockets. @default 32
   */
  concurrency: positiveInt('parallel uploads').max(256, 'at most 256 parallel uploads').default(32),
})
