import { DeleteModelCommand, ListModelsCommand, ListTagsCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { S3Client } from '@aws-sdk/client-s3'
import { LambdaClient } from '@aws-sdk/client-lambda'
import { IAMClient } from '@aws-sdk/client-iam'
import { EC2Client } from '@aws-sdk/client-ec2'
import { ApplicationAutoScalingClient } from '@aws-sdk/client-application-auto-scaling'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { SNSClient } from '@aws-sdk/client-sns'
import { SSMClient } from '@aws-sdk/client-ssm'
import { sdkMock } from '../helpers/mock-sdk.js'
import { describe, expect, it } from 'vitest'
import { fakeAwsFactory } from '../helpers/aws.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

const sagemaker = sdkMock(SageMakerClient)
type AnyMock = { onAnyCommand(): { resolves(v: object): void } }
const mocks: AnyMock[] = [
  sagemaker as unknown as AnyMock,
  ...[
    sdkMock(S3Client),
    sdkMock(LambdaClient),
    sdkMock(IAMClient),
    sdkMock(EC2Client),
    sdkMock(ApplicationAutoScalingClient),
    sdkMock(EventBridgeClient),
    sdkMock(SNSClient),
    sdkMock(SSMClient),
  ].map((m) => m as unknown as AnyMock),
]

describe('Ctrl-C during teardown (issue 19)', () => {
  it('exits 130 with what was deleted so far, not 1 with the interrupted delete counted as a failure', async () => {
    for (const m of mocks) m.onAnyCommand().resolves({})
    sagemaker.on(ListModelsCommand).resolves({
      Models: [
        { ModelName: 'dogs-model-a', ModelArn: 'arn:a', CreationTime: new Date(0) },
        { ModelName: 'dogs-model-b', ModelArn: 'arn:b', CreationTime: new Date(0) },
      ],
    })
    sagemaker.on(ListTagsCommand).resolves({ Tags: [{ Key: 'mlops:project', Value: 'dogs' }] })
    const controller = new AbortController()
    let deletes = 0
    sagemaker.on(DeleteModelCommand).callsFake(async () => {
      deletes++
      if (deletes === 1) return {}
      controller.abort()
      throw Object.assign(new Error('Request aborted'), { name: 'AbortError' })
    })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['teardown', '--yes'], { cwd: dir, awsFactory: fakeAwsFactory(), signal: controller.signal })
    expect(run.code, run.stderr).toBe(130)
    expect(run.stderr).toContain('Interrupted during teardown (at model dogs-model-b). Deleted so far: model dogs-model-a.')
    expect(run.stderr).toContain('Run `mlops teardown` again to finish')
    expect(deletes).toBe(2)
  })
})
