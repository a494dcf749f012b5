import { dnsSuffixOf, partitionOf } from '../arn.js'
import { UserError } from '../../shared/errors.js'

/**
 * PyTorch Deep Learning Container image URIs, as the SageMaker Python SDK resolves them
 * (image_uris.retrieve, pytorch.json @ v2.257.6): `<account>.dkr.ecr.<region>.<domain>/pytorch-<kind>:<version>-<cpu|gpu>-<py>`.
 * The registry account differs by region, so it is a table, never one hard-coded account.
 */
const DEFAULT_REGISTRY = '763104351884'
const REGISTRY_BY_REGION: Record<string, string> = {
  'us-east-1': DEFAULT_REGISTRY,
  'us-east-2': DEFAULT_REGISTRY,
  'us-west-1': DEFAULT_REGISTRY,
  'us-west-2': DEFAULT_REGISTRY,
  'ca-central-1': DEFAULT_REGISTRY,
  'sa-east-1': DEFAULT_REGISTRY,
  'eu-west-1': DEFAULT_REGISTRY,
  'eu-west-2': DEFAULT_REGISTRY,
  'eu-west-3': DEFAULT_REGISTRY,
  'eu-central-1': DEFAULT_REGISTRY,
  'eu-north-1': DEFAULT_REGISTRY,
  'ap-south-1': DEFAULT_REGISTRY,
  'ap-northeast-1': DEFAULT_REGISTRY,
  'ap-northeast-2': DEFAULT_REGISTRY,
  'ap-southeast-1': DEFAULT_REGISTRY,
  'ap-southeast-2': DEFAULT_REGISTRY,
  'ap-east-1': '871362719292',
  'af-south-1': '626614931356',
  'me-south-1': '217643126080',
  'eu-south-1': '692866216735',
  'cn-north-1': '727897471807',
  'cn-northwest-1': '727897471807',
}

/** Versions the SDK's table lists, newest last. */
export const TRAINING_VERSIONS: Record<string, string> = {
  '1.13.1': 'py39',
  '2.0.1': 'py310',
  '2.1.0': 'py310',
  '2.2.0': 'py310',
  '2.3.0': 'py311',
  '2.4.0': 'py311',
  '2.5.1': 'py311',
  '2.6.0': 'py312',
  '2.7.1': 'py312',
  '2.8.0': 'py312',
}
export const INFERENCE_VERSIONS: Record<string, string> = {
  '1.13.1': 'py39',
  '2.0.1': 'py310',
  '2.1.0': 'py310',
  '2.2.0': 'py310',
  '2.3.0': 'py311',
  '2.4.0': 'py311',
  '2.5.1': 'py311',
  '2.6.0': 'py312',
}

export type ImageKind = 'training' | 'inference'

/** GPU images for the ml.g and ml.p families (and EC2 g and p types), CPU otherwise. */
export function processorFor(instanceType: string): 'gpu' | 'cpu' {
  const family = instanceType.replace(/^ml\./, '')
  return /^(g|p)\d/.test(family) ? 'gpu' : 'cpu'
}

export interface ImageRequest {
  readonly region: string
  readonly kind: ImageKind
  readonly frameworkVersion: string
  readonly pyVersion: string
  readonly instanceType: string
}

/** The DLC image URI; UserError (exit 2) for a region or version the table does not know. */
export function pytorchImageUri(req: ImageRequest): string {
  const registry = REGISTRY_BY_REGION[req.region]
  if (!registry) {
    throw new UserError('UnknownImageRegion', `No PyTorch container registry is known for region ${req.region}.`, {
      hint: `Known regions: ${Object.keys(REGISTRY_BY_REGION).join(', ')}. Use one of them, or set the image explicitly in the config.`,
    })
  }
  const versions = req.kind === 'training' ? TRAINING_VERSIONS : INFERENCE_VERSIONS
  const expectedPy = versions[req.frameworkVersion]
  if (!expectedPy) {
    throw new UserError('UnknownFrameworkVersion', `PyTorch ${req.frameworkVersion} has no SageMaker ${req.kind} image.`, {
      hint: `Supported ${req.kind} versions: ${Object.keys(versions).join(', ')} (set ${req.kind === 'training' ? 'training' : 'endpoint'}.frameworkVersion).`,
    })
  }
  if (expectedPy !== req.pyVersion) {
    throw new UserError('UnknownPythonVersion', `The PyTorch ${req.frameworkVersion} ${req.kind} image is built for ${expectedPy}, not ${req.pyVersion}.`, {
      hint: `Set ${req.kind === 'training' ? 'training' : 'endpoint'}.pyVersion: ${expectedPy}.`,
    })
  }
  return `${registry}.dkr.ecr.${req.region}.${dnsSuffixOf(req.region)}/pytorch-${req.kind}:${req.frameworkVersion}-${processorFor(req.instanceType)}-${req.pyVersion}`
}

/** ECR repository ARN of the DLC images (for least-privilege pull permissions). */
export function pytorchRepositoryArns(region: string): string[] {
  const registry = REGISTRY_BY_REGION[region] ?? DEFAULT_REGISTRY
  return ['training', 'inference'].map((k) => `arn:${partitionOf(region)}:ecr:${region}:${registry}:repository/pytorch-${k}`)
}

// SageMaker Debugger rule images: one registry account per region (the SDK's
// src/sagemaker/image_uri_config/debugger.json).
const DEBUGGER_REGISTRY: Record<string, string> = {
  'af-south-1': '314341159256',
  'ap-east-1': '199566480951',
  'ap-northeast-1': '430734990657',
  'ap-northeast-2': '578805364391',
  'ap-northeast-3': '479947661362',
  'ap-south-1': '904829902805',
  'ap-southeast-1': '972752614525',
  'ap-southeast-2': '184798709955',
  'ca-central-1': '519511493484',
  'cn-north-1': '618459771430',
  'cn-northwest-1': '658757709296',
  'eu-central-1': '482524230118',
  'eu-north-1': '314864569078',
  'eu-south-1': '563282790590',
  'eu-west-1': '929884845733',
  'eu-west-2': '250201462417',
  'eu-west-3': '447278800020',
  'me-south-1': '986000313247',
  'sa-east-1': '818342061345',
  'us-east-1': '503895931360',
  'us-east-2': '915447279597',
  'us-gov-west-1': '515509971035',
  'us-west-1': '685455198987',
  'us-west-2': '895741380848',
}

/** The Debugger rule evaluator image of the region; undefined where Debugger has none. */
export function debuggerRuleImageUri(region: string): string | undefined {
  const account = DEBUGGER_REGISTRY[region]
  return account ? `${account}.dkr.ecr.${region}.${dnsSuffixOf(region)}/sagemaker-debugger-rules:latest` : undefined
}

/** ECR repository ARN of the rule image (the execution role pulls it for the rule processing jobs). */
export function debuggerRuleRepositoryArn(region: string): string | undefined {
  const account = DEBUGGER_REGISTRY[region]
  return account ? `arn:${partitionOf(region)}:ecr:${region}:${account}:repository/sagemaker-debugger-rules` : undefined
}
