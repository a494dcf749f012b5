import { SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm'
import { sdkMock } from '../helpers/mock-sdk.js'
import { describe, expect, it } from 'vitest'
import { sendCommand } from '../../src/aws/ssm/run-command.js'
import { fastClock } from '../helpers/cli.js'

/** SendCommand's bounded retry while SSM still calls a just-registered instance invalid. */

const ssmMock = sdkMock(SSMClient)
const invalid = () => Object.assign(new Error('Instances [[i-1]] not in a valid state'), { name: 'InvalidInstanceId', $metadata: {} })
const input = { InstanceIds: ['i-1'], DocumentName: 'AWS-RunShellScript' }

function recordingClock() {
  const clock = fastClock()
  const sleeps: number[] = []
  return { sleeps, clock: { ...clock, sleep: (ms: number, signal?: AbortSignal) => (sleeps.push(ms), clock.sleep(ms, signal)) } }
}

describe('sendCommand', () => {
  it('retries InvalidInstanceId every 5 s and returns the command id', async () => {
    ssmMock
      .on(SendCommandCommand)
      .rejectsOnce(invalid())
      .rejectsOnce(invalid())
      .resolves({ Command: { CommandId: 'c-1' } })
    const { clock, sleeps } = recordingClock()
    await expect(sendCommand(new SSMClient({}), input, { clock })).resolves.toBe('c-1')
    expect(sleeps).toEqual([5000, 5000])
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(3)
  })

  it('gives up after 6 attempts (5 pauses of 5 s) with the last error', async () => {
    ssmMock.on(SendCommandCommand).rejects(invalid())
    const { clock, sleeps } = recordingClock()
    await expect(sendCommand(new SSMClient({}), input, { clock })).rejects.toMatchObject({ name: 'InvalidInstanceId' })
    expect(sleeps).toEqual([5000, 5000, 5000, 5000, 5000])
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(6)
  })

  it('does not retry other errors, nor a reply without a command id', async () => {
    const { clock, sleeps } = recordingClock()
    ssmMock.on(SendCommandCommand).rejects(Object.assign(new Error('bad'), { name: 'InvalidDocument', $metadata: {} }))
    await expect(sendCommand(new SSMClient({}), input, { clock })).rejects.toMatchObject({ name: 'InvalidDocument' })
    ssmMock.reset()
    ssmMock.on(SendCommandCommand).resolves({ Command: {} })
    await expect(sendCommand(new SSMClient({}), input, { clock })).rejects.toMatchObject({ code: 'SendCommandFailed' })
    expect(sleeps).toEqual([])
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1)
  })

  it('stops waiting when the signal is aborted', async () => {
    ssmMock.on(SendCommandCommand).rejects(invalid())
    const { clock } = recordingClock()
    const ac = new AbortController()
    ac.abort()
    await expect(sendCommand(new SSMClient({}), input, { clock, signal: ac.signal })).rejects.toMatchObject({ name: 'InterruptedError' })
    expect(ssmMock.commandCalls(SendCommandCommand)).toHaveLength(1)
  })
})
