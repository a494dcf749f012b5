import { runSimulation } from '@cloud-copilot/iam-simulate'
import { describe, expect, it } from 'vitest'
import { parseConfigText } from '../../src/config/load.js'
import { roleTarget } from '../../src/aws/iam/role-target.js'
import { configuredImageUris } from '../../src/aws/sagemaker/images.js'
import { executionRoleSpec } from '../../src/shared/roles/execution-role.js'
import { minimalConfig } from '../helpers/cli.js'

// Issue 25 item 5: the execution role's ECR grant comes from the image URIs actually used. Each
// request below is evaluated offline by @cloud-copilot/iam-simulate against the real generated document.
const ACCOUNT = '123456789012'
const PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'] as const

function roleDocument(extra: string, region: string) {
  const cfg = parseConfigText(minimalConfig(extra), 'mlops.config.yaml')
  const spec = executionRoleSpec(cfg, roleTarget(ACCOUNT, region, configuredImageUris(region, cfg)))
  return { cfg, policy: spec.inlinePolicies['mlops-execution'] }
}

/**
 * The decision for the role pulling from `repositoryArn`. A repository in another account must also
 * allow the pull in its own policy (the DLC registries allow every account); that side is given here
 * as allowing everyone, so the answer is the role's own document.
 */
async function pull(policy: unknown, repositoryArn: string, action: string = 'ecr:BatchGetImage', partition = 'aws'): Promise<string> {
  const [, , , , account] = repositoryArn.split(':')
  const crossAccount = account !== ACCOUNT
  const r = await runSimulation(
    {
      identityPolicies: [{ name: 'mlops-execution', policy: policy as never }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(crossAccount
        ? {
            resourcePolicy: {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['ecr:*'], Resource: repositoryArn }],
            } as never,
          }
        : {}),
      request: {
        action,
        principal: `arn:${partition}:iam::${ACCOUNT}:role/dogs-sagemaker`,
        resource: { accountId: account, resource: repositoryArn },
        contextVariables: {},
      },
    },
    {},
  )
  if (r.resultType === 'error') throw new Error(`the simulation could not run: ${JSON.stringify(r.errors)}`)
  expect(r.resultType).toBe('single')
  return (r as { overallResult: string }).overallResult
}

describe('execution role: ECR grant from the images it pulls', () => {
  it('overrides: the configured repositories are allowed, any other repository is denied', async () => {
    const own = `${ACCOUNT}.dkr.ecr.ap-south-2.amazonaws.com/dogs/train:2026-12`
    const theirs = '444455556666.dkr.ecr.ap-south-2.amazonaws.com/shared-serving@sha256:' + 'a'.repeat(64)
    const { policy } = roleDocument(`training:\n  image: ${own}\nendpoint:\n  image: ${theirs}\n`, 'ap-south-2')
    const ownRepo = `arn:aws:ecr:ap-south-2:${ACCOUNT}:repository/dogs/train`
    const theirRepo = 'arn:aws:ecr:ap-south-2:444455556666:repository/shared-serving'
    for (const action of PULL) {
      expect(await pull(policy, ownRepo, action), action).toBe('Allowed')
      expect(await pull(policy, theirRepo, action), action).toBe('Allowed')
    }
    for (const other of [
      `arn:aws:ecr:ap-south-2:${ACCOUNT}:repository/dogs/other`,
      `arn:aws:ecr:ap-south-2:${ACCOUNT}:repository/dogs`,
      `arn:aws:ecr:us-east-1:${ACCOUNT}:repository/dogs/train`,
      'arn:aws:ecr:ap-south-2:444455556666:repository/shared-serving-2',
      // No fixed DLC grant is left behind: the default repositories are not pulled here.
      'arn:aws:ecr:ap-south-2:772153158452:repository/pytorch',
      'arn:aws:ecr:ap-south-2:772153158452:repository/ray',
      'arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training',
    ]) {
      expect(await pull(policy, other), other).toBe('ImplicitlyDenied')
    }
  })

  it('defaults: the region’s DLC pytorch and ray repositories only (ap-south-2 uses 772153158452)', async () => {
    const { policy } = roleDocument('', 'ap-south-2')
    expect(await pull(policy, 'arn:aws:ecr:ap-south-2:772153158452:repository/pytorch')).toBe('Allowed')
    expect(await pull(policy, 'arn:aws:ecr:ap-south-2:772153158452:repository/ray', 'ecr:GetDownloadUrlForLayer')).toBe('Allowed')
    for (const other of [
      'arn:aws:ecr:ap-south-2:772153158452:repository/pytorch-inference',
      'arn:aws:ecr:ap-south-2:772153158452:repository/pytorch-training',
      'arn:aws:ecr:ap-south-2:763104351884:repository/pytorch',
      'arn:aws:ecr:ap-south-2:772153158452:repository/tensorflow-training',
    ]) {
      expect(await pull(policy, other), other).toBe('ImplicitlyDenied')
    }
  })

  it('an older training line is granted its own repository (pytorch-training), not the AL2023 one', async () => {
    const { policy } = roleDocument('training:\n  frameworkVersion: "2.10.0"\n', 'us-east-1')
    expect(await pull(policy, 'arn:aws:ecr:us-east-1:763104351884:repository/pytorch-training')).toBe('Allowed')
    expect(await pull(policy, 'arn:aws:ecr:us-east-1:763104351884:repository/pytorch')).toBe('ImplicitlyDenied')
  })

  it('GovCloud: the grant is in the aws-us-gov partition and the GovCloud registry', async () => {
    const { policy } = roleDocument('', 'us-gov-west-1')
    expect(await pull(policy, 'arn:aws-us-gov:ecr:us-gov-west-1:442386744353:repository/pytorch', 'ecr:BatchGetImage', 'aws-us-gov')).toBe('Allowed')
    expect(await pull(policy, 'arn:aws:ecr:us-gov-west-1:442386744353:repository/pytorch', 'ecr:BatchGetImage', 'aws-us-gov')).not.toBe('Allowed')
  })
})
