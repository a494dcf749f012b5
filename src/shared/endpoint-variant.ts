import type { ProductionVariant } from '@aws-sdk/client-sagemaker'

/**
 * What an endpoint serves on: instances or serverless. `deploy` builds one from flags and config and
 * compares it with the one it replaces; `scale` reads it to refuse a serverless endpoint and to price
 * the instances.
 */
export type VariantSpec =
  | { readonly kind: 'instance'; readonly instanceType: string; readonly instanceCount: number }
  | { readonly kind: 'serverless'; readonly memoryMb: number; readonly maxConcurrency: number }

/** The variant an existing endpoint config describes (from DescribeEndpointConfig). */
export function variantFromConfig(pv: ProductionVariant | undefined): VariantSpec | undefined {
  if (!pv) return undefined
  if (pv.ServerlessConfig)
    return { kind: 'serverless', memoryMb: pv.ServerlessConfig.MemorySizeInMB ?? 0, maxConcurrency: pv.ServerlessConfig.MaxConcurrency ?? 0 }
  if (pv.InstanceType) return { kind: 'instance', instanceType: pv.InstanceType, instanceCount: pv.InitialInstanceCount ?? 1 }
  return undefined
}

/** The variant `mlops deploy` makes from the config alone (no flags): serverless when configured. */
export function configuredVariant(ep: {
  readonly instanceType: string
  readonly instanceCount: number
  readonly serverless?: { readonly memoryMb: number; readonly maxConcurrency: number } | undefined
}): VariantSpec {
  return ep.serverless
    ? { kind: 'serverless', memoryMb: ep.serverless.memoryMb, maxConcurrency: ep.serverless.maxConcurrency }
    : { kind: 'instance', instanceType: ep.instanceType, instanceCount: ep.instanceCount }
}
