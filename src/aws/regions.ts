/**
 * The regions mlops can run in, as data: each with its partition, its DNS suffix and the account of
 * its AWS Deep Learning Containers registry (the `<account>.dkr.ecr.<region>.<dnsSuffix>` every
 * training and serving image is pulled from). A region missing here is refused with the list.
 *
 * Sources: aws/deep-learning-containers available_images (snapshot 2026-08-21) and, for GovCloud,
 * aws/sagemaker-python-sdk image_uri_config/pytorch.json. shared/reference/aws-images-2026.md.
 */

export type Partition = 'aws' | 'aws-cn' | 'aws-us-gov'

export interface RegionRegistry {
  readonly region: string
  readonly partition: Partition
  /** Suffix of the region's endpoints and ECR registries. */
  readonly dnsSuffix: 'amazonaws.com' | 'amazonaws.com.cn'
  /** Account of the region's Deep Learning Containers registry. */
  readonly dlcAccount: string
}

const DLC_MAIN = '763104351884'
const aws = (region: string, dlcAccount = DLC_MAIN): RegionRegistry => ({ region, partition: 'aws', dnsSuffix: 'amazonaws.com', dlcAccount })

/** Every region of the reference, GovCloud and China included. */
export const REGION_REGISTRIES: readonly RegionRegistry[] = [
  aws('us-east-1'),
  aws('us-east-2'),
  aws('us-west-1'),
  aws('us-west-2'),
  aws('ca-central-1'),
  aws('sa-east-1'),
  aws('eu-west-1'),
  aws('eu-west-2'),
  aws('eu-west-3'),
  aws('eu-central-1'),
  aws('eu-north-1'),
  aws('ap-south-1'),
  aws('ap-northeast-1'),
  aws('ap-northeast-2'),
  aws('ap-southeast-1'),
  aws('ap-southeast-2'),
  aws('af-south-1', '626614931356'),
  aws('ap-east-1', '871362719292'),
  aws('ap-east-2', '975050140332'),
  aws('ap-south-2', '772153158452'),
  aws('ap-southeast-3', '907027046896'),
  aws('ap-southeast-4', '457447274322'),
  aws('ap-southeast-5', '550225433462'),
  aws('ap-southeast-6', '633930458069'),
  aws('ap-southeast-7', '590183813437'),
  aws('ap-northeast-3', '364406365360'),
  aws('ca-west-1', '204538143572'),
  aws('eu-south-1', '692866216735'),
  aws('eu-south-2', '503227376785'),
  aws('eu-central-2', '380420809688'),
  aws('il-central-1', '780543022126'),
  aws('mx-central-1', '637423239942'),
  aws('me-south-1', '217643126080'),
  aws('me-central-1', '914824155844'),
  { region: 'cn-north-1', partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn', dlcAccount: '727897471807' },
  { region: 'cn-northwest-1', partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn', dlcAccount: '727897471807' },
  { region: 'us-gov-west-1', partition: 'aws-us-gov', dnsSuffix: 'amazonaws.com', dlcAccount: '442386744353' },
  { region: 'us-gov-east-1', partition: 'aws-us-gov', dnsSuffix: 'amazonaws.com', dlcAccount: '446045086412' },
]

/** The region's registry facts; undefined for a region the table does not know. */
export function regionRegistry(region: string): RegionRegistry | undefined {
  return REGION_REGISTRIES.find((r) => r.region === region)
}
