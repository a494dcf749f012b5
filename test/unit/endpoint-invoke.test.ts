import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda'
import { InvokeEndpointCommand, SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory } from '../helpers/aws.js'

/** `mlops invoke` errors moto cannot produce: missing function, function errors, model errors, latency. */

const rt = sdkMock(SageMakerRuntimeClient)
const lambda = sdkMock(LambdaClient)
const factory = fakeAwsFactory()
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])

let dir: string
beforeEach(async () => {
  dir = await tempProject(minimalConfig(), { 'rex.jpg': JPEG })
})
const invoke = (args: string[], clock = fastClock()) => runMlops(['invoke', ...args], { cwd: dir, awsFactory: factory, clock })

describe('invoke against fakes', () => {
  it('sends the raw bytes with their type and measures latency on the injected clock', async () => {
    const clock = fastClock()
    rt.on(InvokeEndpointCommand).callsFake(() => {
      clock.advance(137)
      return {
        Body: new TextEncoder().encode(JSON.stringify({ predictions: [{ label: 'Akita', index: 3, probability: 0.7 }] })),
        ContentType: 'application/json',
      }
    })
    const run = await invoke(['rex.jpg', '--json'], clock)
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({ latencyMs: 137, predictions: [{ label: 'Akita', probability: 0.7 }] })
    expect(rt).toHaveReceivedCommandWith(InvokeEndpointCommand, {
      EndpointName: 'dogs-endpoint',
      ContentType: 'image/jpeg',
      Accept: 'application/json',
      Body: new Uint8Array(JPEG),
    })
  })

  it('a missing endpoint is a usage error; a model error is an operation error with the log group', async () => {
    rt.on(InvokeEndpointCommand)
      .rejectsOnce(
        Object.assign(new Error('Endpoint dogs-endpoint of account 123456789012 not found.'), { name: 'ValidationError', $metadata: { httpStatusCode: 400 } }),
      )
      .rejectsOnce(
        Object.assign(new Error('Received client error (400) from primary with message "not an image"'), {
          name: 'ModelError',
          OriginalStatusCode: 400,
          $metadata: { httpStatusCode: 424 },
        }),
      )
    const missing = await invoke(['rex.jpg'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Endpoint dogs-endpoint does not exist')
    expect(missing.stderr).toContain('mlops deploy')
    const model = await invoke(['rex.jpg'])
    expect(model.code).toBe(1)
    expect(model.stderr).toContain(
      'Endpoint dogs-endpoint could not answer (HTTP 400 from the model): Received client error (400) from primary with message "not an image"',
    )
    expect(model.stderr).toContain('/aws/sagemaker/Endpoints/dogs-endpoint')
  })

  it('--lambda: a missing function says to run lambda-setup; a function error is exit 1', async () => {
    lambda
      .on(InvokeCommand)
      .rejectsOnce(
        Object.assign(new Error('Function not found: arn:aws:lambda:us-east-1:123456789012:function:dogs-invoke:live'), {
          name: 'ResourceNotFoundException',
          $metadata: { httpStatusCode: 404 },
        }),
      )
      .resolvesOnce({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(JSON.stringify({ errorMessage: 'Task timed out after 30.03 seconds', errorType: 'TimeoutError' })),
      } as never)
    const missing = await invoke(['rex.jpg', '--lambda'])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('Lambda function dogs-invoke:live does not exist.')
    expect(missing.stderr).toContain('`mlops lambda-setup`')
    const failed = await invoke(['rex.jpg', '--lambda', '--top', '5'])
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('Lambda dogs-invoke failed (Unhandled): Task timed out after 30.03 seconds')
    const sent = JSON.parse(Buffer.from(lambda.commandCalls(InvokeCommand)[1].args[0].input.Payload as Uint8Array).toString())
    expect(sent).toEqual({ image: JPEG.toString('base64'), top_k: 5 })
    expect(lambda.commandCalls(InvokeCommand)[0].args[0].input).toMatchObject({ FunctionName: 'dogs-invoke', Qualifier: 'live' })
  })
})
