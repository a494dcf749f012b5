import type { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling'
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { IAMClient } from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import type { SNSClient } from '@aws-sdk/client-sns'
import type { SSMClient } from '@aws-sdk/client-ssm'
import type { STSClient } from '@aws-sdk/client-sts'
import type { AwsCredentialIdentityProvider } from '@smithy/types'

/** Every AWS client mlops uses. Core logic asks for the subset it needs: `Pick<AwsClients, 's3' | 'sts'>`. */
export interface AwsClients {
  s3: S3Client
  sagemaker: SageMakerClient
  sagemakerRuntime: SageMakerRuntimeClient
  ec2: EC2Client
  ssm: SSMClient
  iam: IAMClient
  lambda: LambdaClient
  autoscaling: ApplicationAutoScalingClient
  logs: CloudWatchLogsClient
  sts: STSClient
  cloudwatch: CloudWatchClient
  sns: SNSClient
}
export type AwsClientName = keyof AwsClients

/** Resolved connection settings, after flags > environment > config precedence (see `resolveAwsSettings`). */
export interface AwsSettings {
  readonly region: string
  readonly profile?: string
  /** Every call goes here (a local emulator). S3 then uses path-style addressing. */
  readonly endpointUrl?: string
  /** At most this many attempts per call, backoff included. @default 4 */
  readonly maxAttempts?: number
  /** Explicit credentials (tests); otherwise the SDK's default provider chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | AwsCredentialIdentityProvider
  /** Appended to the SDK's user agent as `mlops/<version>`. */
  readonly version: string
}

/** Builds clients on demand. */
export type AwsClientFactory = <K extends AwsClientName>(names: readonly K[]) => Promise<Pick<AwsClients, K>>

/**
 * Each SDK package is imported only when a command asks for its client, so `mlops --help` and
 * commands that touch one service do not pay for loading all ten.
 */
const LOADERS: { [K in AwsClientName]: (cfg: Record<string, unknown>) => Promise<AwsClients[K]> } = {
  s3: async (cfg) => new (await import('@aws-sdk/client-s3')).S3Client({ ...cfg, forcePathStyle: Boolean(cfg.endpoint) }),
  sagemaker: async (cfg) => new (await import('@aws-sdk/client-sagemaker')).SageMakerClient(cfg),
  sagemakerRuntime: async (cfg) => new (await import('@aws-sdk/client-sagemaker-runtime')).SageMakerRuntimeClient(cfg),
  ec2: async (cfg) => new (await import('@aws-sdk/client-ec2')).EC2Client(cfg),
  ssm: async (cfg) => new (await import('@aws-sdk/client-ssm')).SSMClient(cfg),
  iam: async (cfg) => new (await import('@aws-sdk/client-iam')).IAMClient(cfg),
  lambda: async (cfg) => new (await import('@aws-sdk/client-lambda')).LambdaClient(cfg),
  autoscaling: async (cfg) => new (await import('@aws-sdk/client-application-auto-scaling')).ApplicationAutoScalingClient(cfg),
  logs: async (cfg) => new (await import('@aws-sdk/client-cloudwatch-logs')).CloudWatchLogsClient(cfg),
  sts: async (cfg) => new (await import('@aws-sdk/client-sts')).STSClient(cfg),
  cloudwatch: async (cfg) => new (await import('@aws-sdk/client-cloudwatch')).CloudWatchClient(cfg),
  sns: async (cfg) => new (await import('@aws-sdk/client-sns')).SNSClient(cfg),
}

/** The shared client configuration: region, endpoint, credentials, capped retries, user agent. */
export async function buildClientConfig(settings: AwsSettings): Promise<Record<string, unknown>> {
  const { ConfiguredRetryStrategy } = await import('@smithy/util-retry')
  const maxAttempts = settings.maxAttempts ?? 4
  let credentials = settings.credentials
  if (!credentials && settings.profile) {
    // fromNodeProviderChain honours the profile (SSO, assume-role, credential_process included).
    const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers')
    credentials = fromNodeProviderChain({ profile: settings.profile })
  }
  return {
    region: settings.region,
    ...(settings.endpointUrl ? { endpoint: settings.endpointUrl } : {}),
    ...(credentials ? { credentials } : {}),
    // Capped exponential backoff: uncapped backoff under throttling looks like a hang to the user.
    retryStrategy: new ConfiguredRetryStrategy(maxAttempts, (attempt: number) => Math.min(300 * 2 ** attempt, 15_000)),
    customUserAgent: [[`mlops/${settings.version}`]],
  }
}

/** The one place that constructs SDK clients. Clients are cached per factory. */
export function createAwsClientFactory(settings: AwsSettings): AwsClientFactory {
  const cache = new Map<AwsClientName, Promise<unknown>>()
  let config: Promise<Record<string, unknown>> | undefined
  return (async <K extends AwsClientName>(names: readonly K[]) => {
    config ??= buildClientConfig(settings)
    const cfg = await config
    const out: Partial<AwsClients> = {}
    for (const name of names) {
      if (!cache.has(name)) cache.set(name, LOADERS[name](cfg))
      ;(out as Record<string, unknown>)[name] = await cache.get(name)
    }
    return out as Pick<AwsClients, K>
  }) as AwsClientFactory
}

export interface SettingsSources {
  readonly flags: { region?: string; profile?: string; endpointUrl?: string }
  readonly env: Readonly<Record<string, string | undefined>>
  readonly config?: { region?: string; profile?: string; endpointUrl?: string }
  readonly version: string
}

/** Precedence: flags > environment (AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE, AWS_ENDPOINT_URL) > config > us-east-1. */
export function resolveAwsSettings(src: SettingsSources): AwsSettings {
  const { flags, env, config } = src
  const region = flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? config?.region ?? 'us-east-1'
  const profile = flags.profile ?? env.AWS_PROFILE ?? config?.profile
  const endpointUrl = flags.endpointUrl ?? env.AWS_ENDPOINT_URL ?? config?.endpointUrl
  return {
    region,
    ...(profile ? { profile } : {}),
    ...(endpointUrl ? { endpointUrl } : {}),
    version: src.version,
  }
}
