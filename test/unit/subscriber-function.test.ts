import {
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { ensureSubscriberFunction } from '../../src/aws/sns/subscriber-function.js'
import { fastClock } from '../helpers/cli.js'

/** The idle-stop reaper's function on a re-deploy: configuration converged, every update awaited (issue 26). */

const lambdaMock = mockClient(LambdaClient)
const lambda = new LambdaClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } })
const SPEC = {
  name: 'dogs-endpoint-idle-stop',
  roleArn: 'arn:aws:iam::123456789012:role/dogs-endpoint-idle-stop',
  runtime: 'nodejs24.x',
  handler: 'reaper.handler',
  description: 'mlops idle stop',
  environment: { ENDPOINT_NAME: 'dogs-endpoint', ALARM_NAME: 'dogs-endpoint-idle-stop' },
  tags: { 'mlops:project': 'dogs' },
  zip: new Uint8Array([1, 2, 3]),
}
const LIVE = {
  FunctionName: SPEC.name,
  FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${SPEC.name}`,
  Runtime: 'nodejs22.x',
  Handler: SPEC.handler,
  Role: SPEC.roleArn,
  Description: SPEC.description,
  MemorySize: 128,
  Timeout: 30,
  Environment: { Variables: SPEC.environment },
} as const

/** The order of the calls sent, as operation names. */
const sent = () => lambdaMock.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''))

beforeEach(() => {
  lambdaMock.reset()
  lambdaMock.on(GetFunctionCommand).resolves({ Configuration: { ...LIVE } })
})

describe('ensureSubscriberFunction on an existing function', () => {
  it('moves an old runtime to the spec, waiting for each update to settle before the next', async () => {
    let status: 'Successful' | 'InProgress' = 'Successful'
    let runtime: string = LIVE.Runtime
    lambdaMock.on(GetFunctionConfigurationCommand).callsFake(() => {
      const now = { ...LIVE, Runtime: runtime, State: 'Active', LastUpdateStatus: status }
      status = 'Successful'
      return now
    })
    lambdaMock.on(UpdateFunctionConfigurationCommand).callsFake((input: { Runtime: string }) => {
      runtime = input.Runtime
      status = 'InProgress'
      return {}
    })
    lambdaMock.on(UpdateFunctionCodeCommand).callsFake(() => {
      status = 'InProgress'
      return {}
    })
    const arn = await ensureSubscriberFunction(lambda, SPEC, { clock: fastClock() })
    expect(arn).toBe(LIVE.FunctionArn)
    expect(lambdaMock).toHaveReceivedCommandWith(UpdateFunctionConfigurationCommand, {
      FunctionName: SPEC.name,
      Runtime: 'nodejs24.x',
      Handler: 'reaper.handler',
      Role: SPEC.roleArn,
      MemorySize: 128,
      Timeout: 30,
      Environment: { Variables: SPEC.environment },
    })
    // Each update is followed by polls until it is no longer InProgress.
    expect(sent()).toEqual([
      'GetFunction',
      'GetFunctionConfiguration',
      'UpdateFunctionConfiguration',
      'GetFunctionConfiguration',
      'GetFunctionConfiguration',
      'UpdateFunctionCode',
      'GetFunctionConfiguration',
      'GetFunctionConfiguration',
    ])
  })

  it('leaves a configuration that already matches alone and only replaces the code', async () => {
    lambdaMock.on(GetFunctionConfigurationCommand).resolves({ ...LIVE, Runtime: 'nodejs24.x', State: 'Active', LastUpdateStatus: 'Successful' })
    await ensureSubscriberFunction(lambda, SPEC, { clock: fastClock() })
    expect(lambdaMock).toHaveReceivedCommandTimes(UpdateFunctionConfigurationCommand, 0)
    expect(lambdaMock).toHaveReceivedCommandWith(UpdateFunctionCodeCommand, { FunctionName: SPEC.name, ZipFile: SPEC.zip })
  })

  it('a code update that fails (LastUpdateStatus Failed) is an error naming the reason', async () => {
    let failed = false
    lambdaMock.on(GetFunctionConfigurationCommand).callsFake(() => ({
      ...LIVE,
      Runtime: 'nodejs24.x',
      State: 'Active',
      LastUpdateStatus: failed ? 'Failed' : 'Successful',
      LastUpdateStatusReason: 'bad zip',
    }))
    lambdaMock.on(UpdateFunctionCodeCommand).callsFake(() => {
      failed = true
      return {}
    })
    await expect(ensureSubscriberFunction(lambda, SPEC, { clock: fastClock() })).rejects.toThrow(`Lambda ${SPEC.name} update failed: bad zip`)
  })
})
