import type { BreedPrediction as Prediction } from '../../aws/sagemaker/prediction.js'
import type { UrlAuthType } from '../../aws/lambda/url.js'

/** Results of the Lambda family: `lambda-setup`. */

export interface LambdaSetupResult {
  readonly dryRun: boolean
  readonly functionName: string
  readonly alias: string
  readonly functionArn?: string
  /** The version `live` points at. */
  readonly version?: string
  readonly created?: boolean
  /** A new version was published (false on a re-run with unchanged code and configuration). */
  readonly published?: boolean
  readonly codeUpdated?: boolean
  readonly configUpdated?: readonly string[]
  readonly codeSha256: string
  readonly zipBytes: number
  readonly environment: Readonly<Record<string, string>>
  readonly role: { readonly name: string; readonly arn: string; readonly created?: boolean; readonly changes?: readonly string[] }
  readonly endpoint: { readonly name: string; readonly status?: string }
  readonly url?: { readonly url: string; readonly authType: UrlAuthType; readonly managed: boolean }
  readonly test?: {
    readonly status: 'passed' | 'skipped'
    readonly reason?: string
    readonly image?: string
    readonly predictions?: readonly Prediction[]
    readonly endpointLatencyMs?: number
  }
  /** The function's page and its CloudWatch logs in the AWS console (absent in a dry run). */
  readonly consoleUrl?: string
  readonly logsConsoleUrl?: string
}

/** The facts of a lambda-setup plan that go into its JSON beside the requests. */
export type LambdaSetupPlanDetails = Pick<
  LambdaSetupResult,
  'dryRun' | 'functionName' | 'alias' | 'codeSha256' | 'zipBytes' | 'environment' | 'role' | 'endpoint' | 'url'
>
