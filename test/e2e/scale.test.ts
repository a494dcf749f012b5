import { ApplicationAutoScalingClient, DescribeScalableTargetsCommand, DescribeScalingPoliciesCommand } from '@aws-sdk/client-application-auto-scaling'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DescribeEndpointCommand,
  SageMakerClient,
  type ProductionVariant,
} from '@aws-sdk/client-sagemaker'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { ANSWER, tinyModelTarGz } from '../fixtures/deploy.js'

/** `mlops scale` on moto: the target and the policy carry exactly the configured values. */

const RID = 'endpoint/dogs-endpoint/variant/AllTraffic'
const SCALING =
  'endpoint:\n  autoscaling:\n    minCapacity: 2\n    maxCapacity: 5\n    targetInvocationsPerInstance: 150\n    scaleInCooldown: 400\n    scaleOutCooldown: 30\n'
const ROLE = 'training:\n  roleArn: arn:aws:iam::123456789012:role/my-sagemaker\n'

let moto: MotoServer
let sm: SageMakerClient
let as: ApplicationAutoScalingClient
beforeAll(async () => {
  moto = await startMoto()
  sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  as = new ApplicationAutoScalingClient(motoClientConfig(moto.endpoint))
})
afterAll(async () => moto?.stop())
beforeEach(async () => moto.reset())

/** An endpoint as `deploy` leaves it, made directly (faster than a deploy). */
async function endpointWith(variant: Omit<ProductionVariant, 'VariantName' | 'ModelName'>): Promise<void> {
  await sm.send(
    new CreateModelCommand({
      ModelName: 'dogs-model-2026-11-21-10-00-00-000',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
      PrimaryContainer: { Image: 'img', ModelDataUrl: 's3://b/m.tar.gz' },
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'dogs-config-2026-11-21-10-00-00-000',
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'dogs-model-2026-11-21-10-00-00-000', ...variant }],
    }),
  )
  await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-2026-11-21-10-00-00-000' }))
}

async function current() {
  const targets = await as.send(
    new DescribeScalableTargetsCommand({ ServiceNamespace: 'sagemaker', ResourceIds: [RID], ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' }),
  )
  const policies = await as.send(
    new DescribeScalingPoliciesCommand({ ServiceNamespace: 'sagemaker', ResourceId: RID, ScalableDimension: 'sagemaker:variant:DesiredInstanceCount' }),
  )
  return { targets: targets.ScalableTargets ?? [], policies: policies.ScalingPolicies ?? [] }
}

describe('mlops scale on moto', () => {
  it('registers the target and the target-tracking policy with the configured values, then flags override them', async () => {
    await endpointWith({ InstanceType: 'ml.m5.large', InitialInstanceCount: 1 })
    const dir = await tempProject(minimalConfig(SCALING))
    const env = motoEnv(moto.endpoint)
    const run = await runMlops(['scale', '--json'], { cwd: dir, env })
    expect(run.code, run.stderr).toBe(0)
    expect(run.json().endpoint).toMatchObject({
      resourceId: RID,
      minCapacity: 2,
      maxCapacity: 5,
      targetValue: 150,
      targetRps: 2.5,
      scaleInCooldown: 400,
      scaleOutCooldown: 30,
      instanceType: 'ml.m5.large',
    })
    let now = await current()
    expect(now.targets).toEqual([expect.objectContaining({ ResourceId: RID, MinCapacity: 2, MaxCapacity: 5 })])
    expect(now.policies).toHaveLength(1)
    expect(now.policies[0]).toMatchObject({
      PolicyName: 'dogs-invocations-target',
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: {
        TargetValue: 150,
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantInvocationsPerInstance' },
        ScaleInCooldown: 400,
        ScaleOutCooldown: 30,
      },
    })
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8')).resources
    expect(state).toEqual([expect.objectContaining({ kind: 'scaling-target', name: RID })])

    const again = await runMlops(['scale', '--min', '1', '--max', '8', '--target-rps', '4', '--scale-out-cooldown', '15'], { cwd: dir, env })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toContain(`Autoscaling on ${RID}: 1-8 instances`)
    expect(again.stdout).toContain('240 invocations per instance per minute (≈ 4 requests/s per instance)')
    expect(again.stdout).toContain('(was 2-5 instances, target 150)')
    now = await current()
    expect(now.targets[0]).toMatchObject({ MinCapacity: 1, MaxCapacity: 8 })
    expect(now.policies).toHaveLength(1)
    expect(now.policies[0].TargetTrackingScalingPolicyConfiguration).toMatchObject({ TargetValue: 240, ScaleInCooldown: 400, ScaleOutCooldown: 15 })

    const show = await runMlops(['scale', '--show'], { cwd: dir, env })
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain(`${RID}: 1-8 instances`)
    expect(show.stdout).toMatch(/dogs-invocations-target\s+SageMakerVariantInvocationsPerInstance\s+240\s+4\s+400s\s+15s/)
    const showJson = await runMlops(['scale', '--show', '--json'], { cwd: dir, env })
    expect(showJson.json()).toMatchObject({
      endpoint: 'dogs-endpoint',
      variant: { kind: 'instance', instanceType: 'ml.m5.large' },
      scaling: { minCapacity: 1, maxCapacity: 8 },
    })
  })

  it('--show on an endpoint without autoscaling says so; a serverless endpoint is refused with a clear message', async () => {
    await endpointWith({ ServerlessConfig: { MemorySizeInMB: 2048, MaxConcurrency: 5 } })
    const dir = await tempProject(minimalConfig())
    const env = motoEnv(moto.endpoint)
    const show = await runMlops(['scale', '--show'], { cwd: dir, env })
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain('serverless (2048 MB, up to 5 concurrent): scales by itself')
    const run = await runMlops(['scale', '--min', '1', '--max', '3'], { cwd: dir, env })
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('is serverless: it scales by itself')
    expect((await current()).targets).toEqual([])
  })

  it('deploy with a new instance type on the autoscaled endpoint keeps the same scaling afterwards', async () => {
    const s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: 'dogs-data' }))
    await s3.send(new PutObjectCommand({ Bucket: 'dogs-data', Key: 'output/j/output/model.tar.gz', Body: await tinyModelTarGz() }))
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    const dir = await tempProject(minimalConfig(ROLE + SCALING))
    const env = motoEnv(moto.endpoint)
    const clock = fastClock()
    const model = ['--model', 's3://dogs-data/output/j/output/model.tar.gz']
    expect((await runMlops(['deploy', '--yes', ...model], { cwd: dir, env, clock })).code).toBe(0)
    expect((await runMlops(['scale'], { cwd: dir, env, clock })).code).toBe(0)
    clock.advance(60_000)
    const redeploy = await runMlops(['deploy', '--yes', '--json', '--instance-type', 'ml.c5.xlarge', ...model], { cwd: dir, env, clock })
    expect(redeploy.code, redeploy.stderr).toBe(0)
    expect(redeploy.json().autoscaling).toEqual({ action: 're-registered', minCapacity: 2, maxCapacity: 5 })
    expect(redeploy.stderr).toContain('Taking autoscaling off endpoint/dogs-endpoint/variant/AllTraffic for the instance-type change')
    const now = await current()
    expect(now.targets[0]).toMatchObject({ MinCapacity: 2, MaxCapacity: 5 })
    expect(now.policies.map((p) => [p.PolicyName, p.TargetTrackingScalingPolicyConfiguration?.TargetValue])).toEqual([['dogs-invocations-target', 150]])
    const d = await sm.send(new DescribeEndpointCommand({ EndpointName: 'dogs-endpoint' }))
    expect(d.EndpointConfigName).toBe(redeploy.json().endpointConfig)
  })
})
