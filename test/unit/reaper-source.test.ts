import { ApplicationAutoScalingClient, DeregisterScalableTargetCommand } from '@aws-sdk/client-application-auto-scaling'
import { DeleteEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { beforeEach, describe, expect, it } from 'vitest'
import { createReaper } from '../../src/lambda-runtime/reaper.js'
import { sdkMock } from '../helpers/mock-sdk.js'

/** Issue 27: the idle-stop reaper deletes only on its own topic's message from its own account; malformed events are refused. */
const sm = sdkMock(SageMakerClient)
const aas = sdkMock(ApplicationAutoScalingClient)
const creds = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }
const ACCOUNT = '123456789012'
const OTHER = '999988887777'
const ENDPOINT = 'dogs-endpoint'
const ALARM = 'dogs-endpoint-idle-stop'
const CONTEXT = { invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${ALARM}` }

function event(over: { account?: string; topicAccount?: string; topic?: string; region?: string } = {}) {
  const account = over.account ?? ACCOUNT
  const Message = JSON.stringify({
    AlarmName: ALARM,
    AWSAccountId: account,
    AlarmArn: `arn:aws:cloudwatch:${over.region ?? 'us-east-1'}:${account}:alarm:${ALARM}`,
    NewStateValue: 'ALARM',
    NewStateReason: 'Threshold Crossed',
    Trigger: { MetricName: 'Invocations', Namespace: 'AWS/SageMaker', Dimensions: [{ name: 'EndpointName', value: ENDPOINT }] },
  })
  const TopicArn = `arn:aws:sns:${over.region ?? 'us-east-1'}:${over.topicAccount ?? account}:${over.topic ?? ALARM}`
  return { Records: [{ EventSource: 'aws:sns', Sns: { TopicArn, Message } }] }
}

let logs: string[]
const reaper = () =>
  createReaper({
    client: () => new SageMakerClient(creds),
    autoscaling: () => new ApplicationAutoScalingClient(creds),
    env: { ENDPOINT_NAME: ENDPOINT, ALARM_NAME: ALARM },
    log: (l) => logs.push(l),
  })

beforeEach(() => {
  logs = []
  sm.on(DeleteEndpointCommand).resolves({})
  aas.on(DeregisterScalableTargetCommand).rejects(Object.assign(new Error('no target'), { name: 'ObjectNotFoundException' }))
})

describe('the reaper checks where a message comes from', () => {
  it('deletes on its own alarm, from its own topic in its own account and region', async () => {
    expect(await reaper()(event(), CONTEXT)).toMatchObject([{ action: 'deleted', endpoint: ENDPOINT }])
    expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(1)
  })

  it.each([
    [
      'a topic of another account',
      { account: OTHER },
      `topic arn:aws:sns:us-east-1:${OTHER}:${ALARM} is not in this function's account and region (${ACCOUNT}, us-east-1)`,
    ],
    ['our topic carrying another account', { account: OTHER, topicAccount: ACCOUNT }, `the alarm's account ${OTHER} is not ${ACCOUNT}`],
    [
      'a topic in another region',
      { region: 'eu-west-1' },
      `topic arn:aws:sns:eu-west-1:${ACCOUNT}:${ALARM} is not in this function's account and region (${ACCOUNT}, us-east-1)`,
    ],
    ['another topic of ours', { topic: 'billing-alerts' }, `topic billing-alerts is not ${ALARM}`],
  ])('refuses %s and deletes nothing', async (_what, over, reason) => {
    expect(await reaper()(event(over), CONTEXT)).toEqual([{ action: 'refused', endpoint: ENDPOINT, alarm: ALARM, reason }])
    expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(0)
    expect(JSON.parse(logs.at(-1)!)).toMatchObject({ level: 'warn', msg: 'idle stop: refused', reason })
  })

  it('refuses a record with no topic at all', async () => {
    const e = event()
    delete (e.Records[0].Sns as { TopicArn?: string }).TopicArn
    expect(await reaper()(e, CONTEXT)).toMatchObject([{ action: 'refused', reason: 'the record names no SNS topic' }])
    expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(0)
  })

  it.each([
    ['null', null, 'not an SNS event (no Records list)'],
    ['a string', 'hello', 'not an SNS event (no Records list)'],
    ['Records not a list', { Records: 5 }, 'not an SNS event (no Records list)'],
    ['a null record', { Records: [null] }, 'not a CloudWatch alarm notification'],
    ['Sns not an object', { Records: [{ Sns: 7 }] }, 'not a CloudWatch alarm notification'],
    ['a Message that is not a string', { Records: [{ Sns: { Message: { AlarmName: ALARM } } }] }, 'not a CloudWatch alarm notification'],
  ])('refuses a malformed event (%s) instead of throwing', async (_what, e, reason) => {
    expect(await reaper()(e, CONTEXT)).toEqual([{ action: 'refused', endpoint: ENDPOINT, alarm: ALARM, reason }])
    expect(sm.commandCalls(DeleteEndpointCommand)).toHaveLength(0)
  })
})
