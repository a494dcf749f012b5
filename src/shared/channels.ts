import type { MlopsConfig } from '../config/schema.js'

/** The three SageMaker input channels of a dataset and where they live in S3. */
export interface ChannelUris {
  readonly train: string
  readonly valid: string
  readonly test: string
}

/**
 * `s3://<bucket>/<prefix>/train` etc. (no trailing slash): what `upload-data` writes and what
 * `train` / `train-ec2` read. Pure, so those commands can compute it under --dry-run too.
 */
export function channelUris(cfg: Pick<MlopsConfig, 'data'>): ChannelUris {
  const base = `s3://${cfg.data.bucket}/${cfg.data.prefix.replace(/^\/+|\/+$/g, '')}`
  return { train: `${base}/train`, valid: `${base}/valid`, test: `${base}/test` }
}
