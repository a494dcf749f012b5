/**
 * ARNs, partitions and S3 URIs: the one parser and the one partition rule (six regexes and three
 * partition functions used to disagree, and one of them sent GovCloud to `aws`).
 */

/** `aws`, `aws-cn` or `aws-us-gov`: ARNs, managed policy ARNs and service principals differ by partition. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn'
  if (region.startsWith('us-gov-')) return 'aws-us-gov'
  return 'aws'
}

/** DNS suffix of the region's endpoints and registries (`amazonaws.com`, or `amazonaws.com.cn` in China). */
export function dnsSuffixOf(region: string): string {
  return region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com'
}

/** The account id in an IAM ARN (`arn:aws:iam::111122223333:role/x` -> `111122223333`), any partition. */
export function iamAccountOf(arn: string): string | undefined {
  return /^arn:aws[\w-]*:iam::(\d{12}):/.exec(arn)?.[1]
}

export interface S3Location {
  readonly bucket: string
  /** The key (or prefix) after the bucket, without a leading slash; '' for `s3://bucket` or `s3://bucket/`. */
  readonly key: string
  readonly uri: string
}

// Bucket names as S3 allows them today (3-63 of lowercase letters, digits, dots and hyphens, starting
// and ending with a letter or digit).
const S3_URI = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/

/** `s3://bucket/key` -> parts; undefined when it is not an S3 URI. With `requireKey`, a bare bucket is refused too. */
export function parseS3Uri(uri: string, { requireKey = false } = {}): S3Location | undefined {
  const m = S3_URI.exec(uri)
  if (!m) return undefined
  const key = m[2] ?? ''
  if (requireKey && key === '') return undefined
  return { bucket: m[1], key, uri }
}
