import { dnsSuffixOf, partitionOf } from '../arn.js'
import { UserError } from '../../shared/errors.js'
import { defaultImageLine, IMAGE_LIFECYCLE, imageLines, type ImageLife } from '../lifecycle.js'
import { REGION_REGISTRIES, regionRegistry } from '../regions.js'

/**
 * Image URIs from the two tables: the lines and their tags (aws/lifecycle.ts `IMAGE_LIFECYCLE`) and
 * the registry of each region (aws/regions.ts). A URI is `<dlc-account>.dkr.ecr.<region>.<dnsSuffix>/<repository>:<tag>`;
 * the registry account differs by region, so it always comes from the table, never one hard-coded account.
 */

/** GPU images for the ml.g and ml.p families (and EC2 g and p types), CPU otherwise. */
export function processorFor(instanceType: string): 'gpu' | 'cpu' {
  const family = instanceType.replace(/^ml\./, '')
  return /^(g|p)\d/.test(family) ? 'gpu' : 'cpu'
}

/** `<account>.dkr.ecr.<region>.<dnsSuffix>` of the region's DLC registry; UserError (exit 2) for a region the table lacks. */
export function dlcRegistryHost(region: string): string {
  const r = regionRegistry(region)
  if (!r) {
    throw new UserError('UnknownImageRegion', `No Deep Learning Containers registry is known for region ${region}.`, {
      hint: `Known regions: ${REGION_REGISTRIES.map((x) => x.region).join(', ')}. Use one of them, or set training.image / endpoint.image explicitly.`,
    })
  }
  return `${r.dlcAccount}.dkr.ecr.${region}.${r.dnsSuffix}`
}

const sameMinor = (a: string, b: string) => a.split('.').slice(0, 2).join('.') === b.split('.').slice(0, 2).join('.')

/**
 * The training line `training.frameworkVersion` names (unset: the newest). `2.12` and `2.12.0` both
 * name the 2.12 line (AWS ships one patch release per minor). UserError (exit 2) for an unknown
 * version or a `training.pyVersion` the line is not built for.
 */
export function trainingImageLine(frameworkVersion?: string, pyVersion?: string): ImageLife {
  const lines = imageLines('training')
  const line = frameworkVersion === undefined ? defaultImageLine('training') : lines.find((l) => sameMinor(l.version, frameworkVersion))
  if (!line) {
    throw new UserError('UnknownFrameworkVersion', `PyTorch ${frameworkVersion} has no SageMaker training image mlops knows.`, {
      hint: `Supported training versions: ${lines.map((l) => l.version).join(', ')} (set training.frameworkVersion, or remove it for ${defaultImageLine('training').version}).`,
    })
  }
  if (pyVersion !== undefined && pyVersion !== line.python) {
    throw new UserError('UnknownPythonVersion', `The PyTorch ${line.version} training image is built for ${line.python}, not ${pyVersion}.`, {
      hint: `Set training.pyVersion: ${line.python}, or remove it.`,
    })
  }
  return line
}

export interface TrainingImageRequest {
  readonly region: string
  /** Unset: the newest line. */
  readonly frameworkVersion?: string
  readonly pyVersion?: string
  readonly instanceType: string
}

/** The DLC training image URI for the instance type's processor. */
export function trainingImageUri(req: TrainingImageRequest): string {
  const line = trainingImageLine(req.frameworkVersion, req.pyVersion)
  return `${dlcRegistryHost(req.region)}/${line.repository}:${line.tags![processorFor(req.instanceType)]}`
}

/** The Ray Serve SageMaker image for the instance type (serverless variants are CPU). */
export function servingImageUri(region: string, instanceType: string): string {
  const line = defaultImageLine('serving')
  return `${dlcRegistryHost(region)}/${line.repository}:${line.tags![processorFor(instanceType)]}`
}

/**
 * The host AMI a GPU variant needs (`ProductionVariant.InferenceAmiVersion`): the default one's NVIDIA
 * driver is too old for the CUDA 12.9 Ray Serve image. `al2-ami-sagemaker-inference-gpu-3-1` (driver
 * 550, CUDA 12.4 with forward compatibility) is the one AWS's own Ray Serve tests use
 * (aws/deep-learning-containers test/test_utils/constants.py INFERENCE_AMI_VERSION); CPU variants take none.
 */
export const GPU_INFERENCE_AMI_VERSION = 'al2-ami-sagemaker-inference-gpu-3-1'

export interface EcrImage {
  readonly account: string
  readonly region: string
  readonly repository: string
  /** The tag; undefined for a digest or no tag. */
  readonly tag?: string
}

const ECR_URI = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)(?::([\w.-]+)|@sha256:[0-9a-f]{64})?$/

/** Parts of a private ECR image URI; undefined for anything else. */
export function parseEcrImage(uri: string): EcrImage | undefined {
  const m = ECR_URI.exec(uri)
  return m ? { account: m[1], region: m[2], repository: m[3], ...(m[4] ? { tag: m[4] } : {}) } : undefined
}

/** The repository ARN an image is pulled from (in its own region's partition); undefined for a non-ECR URI. */
export function ecrRepositoryArn(uri: string): string | undefined {
  const i = parseEcrImage(uri)
  return i ? `arn:${partitionOf(i.region)}:ecr:${i.region}:${i.account}:repository/${i.repository}` : undefined
}

/** The lifecycle row of an image URI from a DLC registry (overrides included); undefined for one mlops does not know. */
export function imageLineOf(uri: string): ImageLife | undefined {
  const i = parseEcrImage(uri)
  if (!i?.tag || !REGION_REGISTRIES.some((r) => r.dlcAccount === i.account)) return undefined
  return IMAGE_LIFECYCLE.find((l) => l.repository === i.repository && l.tags && (l.tags.cpu === i.tag || l.tags.gpu === i.tag))
}

/** The lifecycle row of a train-ec2 AMI parameter; undefined for one mlops does not know. */
export function amiLineOf(ssmParameter: string): ImageLife | undefined {
  return imageLines('ec2').find((l) => l.repository === ssmParameter)
}

/** What a project's images are configured as: plain values from `training.*` and `endpoint.*`. */
export interface ConfiguredImages {
  readonly training: { readonly image?: string; readonly frameworkVersion?: string; readonly pyVersion?: string; readonly instanceType: string }
  readonly endpoint: { readonly image?: string; readonly instanceType: string }
}

/**
 * Every image URI the execution role pulls for this project in `region`: the training image (or
 * `training.image`) and the serving image (or `endpoint.image`). CPU and GPU tags share a
 * repository, so the flags that change the instance type do not change the grant.
 */
export function configuredImageUris(region: string, c: ConfiguredImages): string[] {
  const training = c.training.image ?? trainingImageUri({ region, ...c.training })
  const serving = c.endpoint.image ?? servingImageUri(region, c.endpoint.instanceType)
  return [training, serving]
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
