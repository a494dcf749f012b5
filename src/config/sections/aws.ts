import { z } from 'zod'
import { region } from '../common.js'

/**
 * `aws`: where to talk to AWS. Environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL) overrides
 * these, and flags (--region, --profile, --endpoint-url) override both.
 */
export const AwsSchema = z.strictObject({
  /**
   * Unset: the profile's region, else us-east-1 (resolveAwsSettings in aws/clients.ts). No schema
   * default here, so the config is read once and an absent region never hides the profile's.
   */
  region: region.optional(),
  /** A named profile from ~/.aws/config (SSO profiles work). Unset: the SDK's default chain. */
  profile: z.string().min(1).optional(),
  /** Send every AWS call to this URL (a local emulator such as moto). */
  endpointUrl: z.url({ protocol: /^https?$/, error: 'expected a URL with http:// or https://, such as http://127.0.0.1:5000' }).optional(),
})
