import type { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling'
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch'
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs'
import type { EC2Client } from '@aws-sdk/client-ec2'
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import type { IAMClient } from '@aws-sdk/client-iam'
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { PricingClient } from '@aws-sdk/client-pricing'
import type { S3Client } from '@aws-sdk/client-s3'
import type { SageMakerClient } from '@aws-sdk/client-sagemaker'
import type { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import type { ServiceQuotasClient } from '@aws-sdk/client-service-quotas'
import type { SNSClient } from '@aws-sdk/client-sns'
import type { SSMClient } from '@aws-sdk/client-ssm'
import type { STSClient } from '@aws-sdk/client-sts'
import type { AwsCredentialIdentityProvider } from '@smithy/types'
import { UserError } from '../shared/errors.js'
import { proxyFromEnv, type ProxySettings } from './proxy-settings.js'
import { profileRegion } from './shared-config.js'

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
  events: EventBridgeClient
  pricing: PricingClient
  serviceQuotas: ServiceQuotasClient
}
export type AwsClientName = keyof AwsClients

/** Resolved connection settings, after flags > environment > config precedence (see `resolveAwsSettings`). */
export interface AwsSettings {
  readonly region: string
  readonly profile?: string
  /** Every call goes here (a local emulator). S3 then uses path-style addressing. */
  readonly endpointUrl?: string
  /** At most this many attempts per call, backoff included (AWS_MAX_ATTEMPTS). @default 4 */
  readonly maxAttempts?: number
  /** AWS_RETRY_MODE: `standard` (capped backoff, the default; `legacy` means the same in SDK v3) or `adaptive` (client-side rate limiting too). */
  readonly retryMode?: 'standard' | 'adaptive'
  /** HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
  readonly proxy?: ProxySettings
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
  s3: async (cfg) => {
    const [{ S3Client }, transfer, { signalAwareHttpHandler }] = await Promise.all([
      import('@aws-sdk/client-s3'),
      import('./s3/transfer-client.js'),
      import('./request-signal.js'),
    ])
    const client = new S3Client({
      ...cfg,
      forcePathStyle: Boolean(cfg.endpoint),
      ...transfer.TRANSFER_CLIENT_CONFIG,
      requestHandler: cfg.requestHandler ?? (await signalAwareHttpHandler()),
    })
    transfer.addTransferMiddleware(client)
    return client
  },
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
  events: async (cfg) => new (await import('@aws-sdk/client-eventbridge')).EventBridgeClient(cfg),
  serviceQuotas: async (cfg) => new (await import('@aws-sdk/client-service-quotas')).ServiceQuotasClient(cfg),
  // The Price List API answers only in us-east-1 (and ap-south-1, eu-central-1), whatever region is
  // priced. An endpoint override (tests, emulators) is followed so nothing leaves a test for AWS.
  pricing: async (cfg) => new (await import('@aws-sdk/client-pricing')).PricingClient({ ...cfg, ...(cfg.endpoint ? {} : { region: 'us-east-1' }) }),
}

/** The shared client configuration: region, endpoint, credentials, capped retries, user agent. */
export async function buildClientConfig(settings: AwsSettings): Promise<Record<string, unknown>> {
  const maxAttempts = settings.maxAttempts ?? DEFAULT_MAX_ATTEMPTS
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
    ...(await retryConfig(settings.retryMode, maxAttempts)),
    ...(settings.proxy ? { requestHandler: await proxiedHandler(settings.proxy) } : {}),
    customUserAgent: [[`mlops/${settings.version}`]],
  }
}

const DEFAULT_MAX_ATTEMPTS = 4

async function retryConfig(mode: AwsSettings['retryMode'], maxAttempts: number): Promise<Record<string, unknown>> {
  // The SDK's adaptive strategy adds client-side rate limiting; its backoff is already capped (20 s).
  if (mode === 'adaptive') return { retryMode: 'adaptive', maxAttempts }
  const { ConfiguredRetryStrategy } = await import('@smithy/util-retry')
  // Capped exponential backoff: uncapped backoff under throttling looks like a hang to the user.
  return { retryStrategy: new ConfiguredRetryStrategy(maxAttempts, (attempt: number) => Math.min(300 * 2 ** attempt, 15_000)) }
}

/** SDK v3 ignores HTTPS_PROXY and friends: its HTTP handler gets agents that honour them. */
async function proxiedHandler(proxy: ProxySettings): Promise<unknown> {
  const [{ signalAwareHttpHandler }, { proxyAgents }] = await Promise.all([import('./request-signal.js'), import('./proxy.js')])
  return signalAwareHttpHandler(proxyAgents(proxy))
}

/** One client; with an endpoint override, every answer but S3's must be AWS's (./answer-check.ts). */
async function loadClient(name: AwsClientName, cfg: Record<string, unknown>): Promise<unknown> {
  const client = await LOADERS[name](cfg)
  if (cfg.endpoint && name !== 's3') (await import('./answer-check.js')).requireAwsAnswers(client)
  return client
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
      if (!cache.has(name)) cache.set(name, loadClient(name, cfg))
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

/**
 * Precedence, as the AWS CLI's: flags > environment (AWS_REGION, AWS_DEFAULT_REGION, AWS_PROFILE,
 * AWS_ENDPOINT_URL) > config > the profile's `region` in the shared config file > us-east-1.
 * AWS_MAX_ATTEMPTS and AWS_RETRY_MODE override the default retries; HTTPS_PROXY, HTTP_PROXY and
 * NO_PROXY route every call.
 */
export function resolveAwsSettings(src: SettingsSources): AwsSettings {
  const { flags, env, config } = src
  const profile = flags.profile || env.AWS_PROFILE || config?.profile || undefined
  const region = flags.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || config?.region || profileRegion(env, profile) || 'us-east-1')
  const endpointUrl = flags.endpointUrl ?? (env.AWS_ENDPOINT_URL || config?.endpointUrl || undefined)
  const maxAttempts = env.AWS_MAX_ATTEMPTS ? parseMaxAttempts(env.AWS_MAX_ATTEMPTS) : undefined
  const retryMode = env.AWS_RETRY_MODE ? parseRetryMode(env.AWS_RETRY_MODE) : undefined
  const proxy = proxyFromEnv(env)
  return {
    region,
    ...(profile ? { profile } : {}),
    ...(endpointUrl ? { endpointUrl } : {}),
    ...(maxAttempts ? { maxAttempts } : {}),
    ...(retryMode ? { retryMode } : {}),
    ...(proxy ? { proxy } : {}),
    version: src.version,
  }
}

function parseMaxAttempts(value: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > 20) {
    throw new UserError('InvalidEnvironment', `AWS_MAX_ATTEMPTS must be a whole number from 1 to 20, got "${value}".`, {
      hint: 'For example AWS_MAX_ATTEMPTS=4 (1 turns retries off), or unset it for the default of 4.',
    })
  }
  return n
}

function parseRetryMode(value: string): 'standard' | 'adaptive' {
  const mode = value.trim().toLowerCase()
  if (mode === 'standard' || mode === 'legacy') return 'standard' // SDK v3 has no legacy mode; standard is its nearest
  if (mode === 'adaptive') return 'adaptive'
  throw new UserError('InvalidEnvironment', `AWS_RETRY_MODE must be standard, adaptive or legacy, got "${value}".`, {
    hint: 'Unset AWS_RETRY_MODE for the default (standard, with capped backoff).',
  })
}
