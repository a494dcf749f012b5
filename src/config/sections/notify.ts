import { z } from 'zod'

/**
 * `notify`: where mlops sends word that a run ended (`train`, `tune`, `train-ec2`, `deploy`, or their
 * `--notify` flag, checked by the same field). Each destination is an e-mail address (subscribed to the
 * project's SNS topic; the owner must confirm it), an existing SNS topic ARN (published to as it is) or
 * an https webhook URL such as Slack's (a secret: kept in SSM as a SecureString, never printed).
 */

const EMAIL = /^[^\s@<>()",;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/
const TOPIC_ARN = /^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/

/** One destination, classified. A webhook keeps its URL only to store it; everything shown uses shared/notify-spec.ts describeDestination. */
export type NotifyDestination =
  { readonly kind: 'email'; readonly address: string } | { readonly kind: 'topic'; readonly arn: string } | { readonly kind: 'webhook'; readonly url: string }

const MESSAGE =
  'expected an e-mail address (ops@example.com), an SNS topic ARN (arn:aws:sns:us-east-1:123456789012:alerts) or an https webhook URL (https://hooks.slack.com/services/...)'

function classify(value: string): NotifyDestination | string {
  const v = value.trim()
  if (v.startsWith('arn:')) return TOPIC_ARN.test(v) ? { kind: 'topic', arn: v } : 'expected an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:alerts'
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) {
    let url: URL
    try {
      url = new URL(v)
    } catch {
      return 'expected a well-formed https webhook URL'
    }
    if (url.protocol !== 'https:') return 'a webhook URL must use https:// (the URL is a secret and the message names your runs)'
    if (url.username || url.password) return 'a webhook URL must not carry a user name or password'
    if (v.length > 2048) return 'a webhook URL must be at most 2048 characters'
    return { kind: 'webhook', url: url.href }
  }
  if (EMAIL.test(v) && v.length <= 254) return { kind: 'email', address: v }
  return MESSAGE
}

/** One destination: an e-mail address, an SNS topic ARN or an https webhook URL. */
export const NotifyDestinationSchema = z.string({ error: MESSAGE }).transform((v, c): NotifyDestination => {
  const d = classify(v)
  if (typeof d === 'string') {
    c.addIssue({ code: 'custom', message: d })
    return z.NEVER
  }
  return d
})

/** Up to 5 destinations (a single one may be written without the list). @default [] (no notifications) */
export const NotifySchema = z
  .union([NotifyDestinationSchema.transform((d) => [d]), z.array(NotifyDestinationSchema).max(5, 'must have at most 5 destinations')])
  .refine((list) => list.filter((d) => d.kind === 'webhook').length <= 1, 'must have at most one webhook URL (one SSM parameter holds it)')
  .default([])
