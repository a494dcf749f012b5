import { describe, expect, it } from 'vitest'
import { defaultImageLine, endOfPatchWarning, IMAGE_LIFECYCLE, imageLines, type ImageLife } from '../../src/aws/lifecycle.js'
import { REGION_REGISTRIES, regionRegistry } from '../../src/aws/regions.js'
import { dnsSuffixOf, partitionOf } from '../../src/aws/arn.js'
import { trainingImageUri } from '../../src/aws/sagemaker/images.js'
import { DEFAULT_DLAMI_PARAMETER } from '../../src/config/sections/ec2.js'
import { fastClock, minimalConfig, OFFLINE_ENV, runMlops, tempProject } from '../helpers/cli.js'

// Issue 25 item 4: images, AMIs and registries as data, with dates; defaults chosen from the table.
const NOW = Date.parse('2026-12-07T00:00:00Z')
const DAY = 86_400_000
const USES: readonly ImageLife['use'][] = ['training', 'serving', 'ec2']

/** The defaults within `days` of their end of patch at `nowMs` (a rolling tag has none). */
function defaultsNearEndOfPatch(nowMs: number, days = 60): string[] {
  return USES.map(defaultImageLine)
    .filter((l) => l.endOfPatch !== undefined && (Date.parse(l.endOfPatch) - nowMs) / DAY <= days)
    .map((l) => `${l.use} ${l.repository}:${l.version} (end of patch ${l.endOfPatch})`)
}

describe('image lifecycle table', () => {
  it('no default is within 60 days of its end of patch, on the real clock and on the injected one', () => {
    // Real time on purpose: this is the test that fails before users run on an unpatched default.
    expect(defaultsNearEndOfPatch(Date.now())).toEqual([])
    expect(defaultsNearEndOfPatch(NOW)).toEqual([])
  })

  it('fails once the clock is moved to 60 days before a default’s end of patch', () => {
    for (const line of USES.map(defaultImageLine).filter((l) => l.endOfPatch)) {
      const late = Date.parse(line.endOfPatch!) - 60 * DAY
      expect(defaultsNearEndOfPatch(late)).toContain(`${line.use} ${line.repository}:${line.version} (end of patch ${line.endOfPatch})`)
      expect(defaultsNearEndOfPatch(late - DAY)).not.toContain(`${line.use} ${line.repository}:${line.version} (end of patch ${line.endOfPatch})`)
    }
  })

  it('defaults are the newest rows: 2.13 AL2023 training, the Ray Serve image, the PyTorch 2.11 DLAMI', () => {
    expect(defaultImageLine('training')).toMatchObject({ repository: 'pytorch', version: '2.13.0', python: 'py312', cuda: 'cu133', endOfPatch: '2027-07-20' })
    expect(defaultImageLine('serving')).toMatchObject({ repository: 'ray', tags: { cpu: 'serve-ml-sagemaker-cpu-v1', gpu: 'serve-ml-sagemaker-cuda-v1' } })
    expect(defaultImageLine('ec2').repository).toBe('/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.11-ubuntu-24.04/latest/ami-id')
    // The config layer cannot import aws/: its default must be the table's.
    expect(DEFAULT_DLAMI_PARAMETER).toBe(defaultImageLine('ec2').repository)
  })

  it('every row has its columns; dates are real and GA comes before end of patch', () => {
    for (const l of IMAGE_LIFECYCLE) {
      expect(l.python, l.version).toMatch(/^py3\d+$/)
      expect(l.cuda, l.version).toMatch(/^cu\d+$/)
      if (l.use !== 'ec2') expect(l.tags, l.version).toBeDefined()
      for (const d of [l.ga, l.endOfPatch].filter(Boolean)) expect(Number.isNaN(Date.parse(d!)), d).toBe(false)
      if (l.ga && l.endOfPatch) expect(Date.parse(l.ga)).toBeLessThan(Date.parse(l.endOfPatch))
    }
    expect(imageLines('training').map((l) => l.version)).toEqual(['2.6.0', '2.7.1', '2.8.0', '2.9.0', '2.10.0', '2.11.0', '2.12.1', '2.13.0'])
  })

  it('a row past its end of patch warns with the newest supported alternative and the setting', () => {
    const v29 = imageLines('training').find((l) => l.version === '2.9.0')!
    expect(endOfPatchWarning(v29, NOW)).toBe(
      'pytorch-training:2.9.0 is past its end of patch (2026-10-15): AWS no longer ships security fixes for it. The newest supported is pytorch:2.13.0 (patched to 2027-07-20): set training.frameworkVersion: 2.13.0, or remove the setting for the default.',
    )
    const v210 = imageLines('training').find((l) => l.version === '2.10.0')!
    expect(endOfPatchWarning(v210, NOW)).toBeUndefined()
    expect(endOfPatchWarning(v210, Date.parse('2027-01-22T00:00:00Z'))).toMatch(/^pytorch-training:2\.10\.0 is past its end of patch \(2027-01-21\)/)
    expect(endOfPatchWarning(imageLines('ec2')[0], NOW)).toMatch(
      /the PyTorch 2\.9 Deep Learning AMI is past its end of patch \(2026-10-15\).*set ec2\.amiParameter: \/aws\/service\/.*pytorch-2\.11-/,
    )
  })
})

describe('registry table', () => {
  it('holds every region of the reference with its partition and DNS suffix', () => {
    expect(REGION_REGISTRIES).toHaveLength(38)
    for (const r of REGION_REGISTRIES) {
      expect(r.partition, r.region).toBe(partitionOf(r.region))
      expect(r.dnsSuffix, r.region).toBe(dnsSuffixOf(r.region))
      expect(r.dlcAccount, r.region).toMatch(/^\d{12}$/)
    }
    expect(regionRegistry('ap-south-2')?.dlcAccount).toBe('772153158452')
    expect(regionRegistry('us-gov-west-1')).toEqual({
      region: 'us-gov-west-1',
      partition: 'aws-us-gov',
      dnsSuffix: 'amazonaws.com',
      dlcAccount: '442386744353',
    })
    expect(regionRegistry('cn-northwest-1')).toMatchObject({ partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn', dlcAccount: '727897471807' })
    // The 16 the old table refused.
    for (const region of [
      'ap-south-2',
      'ap-southeast-3',
      'ap-southeast-7',
      'ap-northeast-3',
      'ap-east-2',
      'ca-west-1',
      'eu-central-2',
      'eu-south-2',
      'il-central-1',
      'mx-central-1',
      'me-central-1',
      'us-gov-east-1',
    ]) {
      expect(() => trainingImageUri({ region, instanceType: 'ml.m5.large' }), region).not.toThrow()
    }
    expect(() => trainingImageUri({ region: 'xx-nowhere-1', instanceType: 'ml.m5.large' })).toThrow(
      /No Deep Learning Containers registry is known for region xx-nowhere-1/,
    )
  })
})

type Op = { service: string; operation: string; input: Record<string, unknown> }
const ops = (json: { operations: Op[] }, operation: string) => json.operations.filter((o) => o.operation === operation)
const trainingImageOf = (json: { operations: Op[] }) =>
  (ops(json, 'CreateTrainingJob')[0].input.AlgorithmSpecification as { TrainingImage: string }).TrainingImage

describe('train --dry-run on the lifecycle table', () => {
  const dry = async (extra: string, args: string[] = []) => {
    const dir = await tempProject(minimalConfig(extra))
    return runMlops(['train', '--dry-run', '--json', ...args], { cwd: dir, env: OFFLINE_ENV, clock: fastClock(NOW) })
  }

  it('plans pytorch:2.13.0 with the cu133 tag on GPU types and the cpu tag on CPU types', async () => {
    const gpu = await dry('')
    expect(gpu.code, gpu.stderr).toBe(0)
    expect(trainingImageOf(gpu.json())).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker')
    expect(gpu.stderr).not.toContain('end of patch')
    const cpu = await dry('', ['--instance-type', 'ml.m5.xlarge'])
    expect(trainingImageOf(cpu.json())).toBe('763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch:2.13.0-cpu-amzn2023-sagemaker')
  })

  it('2.9.0 and 2.10.0 stay selectable; the request is otherwise identical; 2.9.0 warns past its end of patch', async () => {
    const base = (await dry('training:\n  instanceCount: 2\n')).json()
    for (const [version, image, warns] of [
      ['2.9.0', '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.9.0-gpu-py312', true],
      ['2.10.0', '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10.0-gpu-py313', false],
    ] as const) {
      const r = await dry(`training:\n  instanceCount: 2\n  frameworkVersion: "${version}"\n`)
      expect(r.code, r.stderr).toBe(0)
      expect(trainingImageOf(r.json())).toBe(image)
      const strip = (j: { operations: Op[] }) => {
        const req = structuredClone(ops(j, 'CreateTrainingJob')[0].input) as { AlgorithmSpecification: { TrainingImage?: string } }
        delete req.AlgorithmSpecification.TrainingImage
        return req
      }
      // Same sagemaker_* script-mode keys, the same torch_distributed flags, the same everything.
      expect(strip(r.json())).toEqual(strip(base))
      expect((ops(r.json(), 'CreateTrainingJob')[0].input.HyperParameters as Record<string, string>).sagemaker_torch_distributed_enabled).toBe('true')
      if (warns) expect(r.stderr).toContain('pytorch-training:2.9.0 is past its end of patch (2026-10-15)')
      else expect(r.stderr).not.toContain('end of patch')
    }
  })

  it('ap-south-2 pulls from 772153158452; us-gov-west-1 works in the aws-us-gov partition, ARNs included', async () => {
    const south = await dry('', ['--region', 'ap-south-2'])
    expect(south.code, south.stderr).toBe(0)
    expect(trainingImageOf(south.json())).toBe('772153158452.dkr.ecr.ap-south-2.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker')
    const gov = await dry('', ['--region', 'us-gov-west-1'])
    expect(gov.code, gov.stderr).toBe(0)
    expect(trainingImageOf(gov.json())).toBe('442386744353.dkr.ecr.us-gov-west-1.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker')
    expect(ops(gov.json(), 'CreateTrainingJob')[0].input.RoleArn).toMatch(/^arn:aws-us-gov:iam::<account-id>:role\/dogs-/)
    const policy = JSON.parse(ops(gov.json(), 'PutRolePolicy')[0].input.PolicyDocument as string) as { Statement: { Sid?: string; Resource?: unknown }[] }
    expect(policy.Statement.find((s) => s.Sid === 'PullImages')?.Resource).toEqual([
      'arn:aws-us-gov:ecr:us-gov-west-1:442386744353:repository/pytorch',
      'arn:aws-us-gov:ecr:us-gov-west-1:442386744353:repository/ray',
    ])
    expect(JSON.stringify(policy)).not.toMatch(/arn:aws:/)
  })

  it('an unknown version exits 2 naming the field and the supported versions', async () => {
    const r = await dry('training:\n  frameworkVersion: "2.5.1"\n')
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('PyTorch 2.5.1 has no SageMaker training image')
    expect(r.stderr).toContain('training.frameworkVersion')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('deploy and train-ec2 --dry-run on the lifecycle table', () => {
  it('deploy plans the Ray Serve image; GPU variants set InferenceAmiVersion, CPU variants do not', async () => {
    const dir = await tempProject(minimalConfig())
    const model = ['--model', 's3://dogs-data/output/job/output/model.tar.gz', '--no-smoke-test']
    const cpu = await runMlops(['deploy', '--dry-run', '--json', ...model], { cwd: dir, env: OFFLINE_ENV, clock: fastClock(NOW) })
    expect(cpu.code, cpu.stderr).toBe(0)
    expect((ops(cpu.json(), 'CreateModel')[0].input.PrimaryContainer as { Image: string }).Image).toBe(
      '763104351884.dkr.ecr.us-east-1.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1',
    )
    const cpuVariant = (ops(cpu.json(), 'CreateEndpointConfig')[0].input.ProductionVariants as Record<string, unknown>[])[0]
    expect(cpuVariant).not.toHaveProperty('InferenceAmiVersion')
    const gpu = await runMlops(['deploy', '--dry-run', '--json', ...model, '--instance-type', 'ml.g5.xlarge', '--region', 'ap-south-2'], {
      cwd: dir,
      env: OFFLINE_ENV,
      clock: fastClock(NOW),
    })
    expect(gpu.code, gpu.stderr).toBe(0)
    expect((ops(gpu.json(), 'CreateModel')[0].input.PrimaryContainer as { Image: string }).Image).toBe(
      '772153158452.dkr.ecr.ap-south-2.amazonaws.com/ray:serve-ml-sagemaker-cuda-v1',
    )
    expect((ops(gpu.json(), 'CreateEndpointConfig')[0].input.ProductionVariants as Record<string, unknown>[])[0]).toMatchObject({
      InstanceType: 'ml.g5.xlarge',
      InferenceAmiVersion: 'al2-ami-sagemaker-inference-gpu-3-1',
    })
  })

  it('deploy --serverless exits 2 with why and the alternative; the retired endpoint.frameworkVersion exits 2 too', async () => {
    const dir = await tempProject(minimalConfig())
    const r = await runMlops(['deploy', '--dry-run', '--serverless', '--model', 's3://dogs-data/m.tar.gz'], { cwd: dir, env: OFFLINE_ENV })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Serverless endpoints are not offered on the Ray Serve image')
    expect(r.stderr).toContain('endpoint.idleStop')
    const old = await tempProject(minimalConfig('endpoint:\n  frameworkVersion: "2.6.0"\n'))
    const o = await runMlops(['deploy', '--dry-run', '--model', 's3://dogs-data/m.tar.gz'], { cwd: old, env: OFFLINE_ENV })
    expect(o.code).toBe(2)
    expect(o.stderr).toContain('endpoint.frameworkVersion and endpoint.pyVersion picked a TorchServe pytorch-inference image')
  })

  it('train-ec2 resolves the PyTorch 2.11 DLAMI by default and warns for the 2.9 line past its end of patch', async () => {
    const dir = await tempProject(minimalConfig())
    const r = await runMlops(['train-ec2', '--dry-run', '--json'], { cwd: dir, env: OFFLINE_ENV, clock: fastClock(NOW) })
    expect(r.code, r.stderr).toBe(0)
    expect(ops(r.json(), 'GetParameter')[0].input.Name).toBe(
      '/aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.11-ubuntu-24.04/latest/ami-id',
    )
    expect(r.stderr).not.toContain('end of patch')
    const old = await tempProject(
      minimalConfig('ec2:\n  amiParameter: /aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.9-ubuntu-24.04/latest/ami-id\n'),
    )
    const w = await runMlops(['train-ec2', '--dry-run', '--json'], { cwd: old, env: OFFLINE_ENV, clock: fastClock(NOW) })
    expect(w.code, w.stderr).toBe(0)
    expect(w.stderr).toContain('the PyTorch 2.9 Deep Learning AMI is past its end of patch (2026-10-15)')
  })
})
