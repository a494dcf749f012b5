import { CloudWatchLogsClient, FilterLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs'
import { beforeEach, describe, expect, it } from 'vitest'
import { sdkMock } from '../helpers/mock-sdk.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { fakeAwsFactory, noAwsFactory } from '../helpers/aws.js'

/** `mlops logs --endpoint/--lambda` against FilterLogEvents fakes: pages, de-duplication, flags. */

const logs = sdkMock(CloudWatchLogsClient)
const T0 = Date.parse('2026-11-22T10:00:00Z')
const GROUP = '/aws/sagemaker/Endpoints/dogs-endpoint'
const ev = (id: string, t: number, stream: string, message: string) => ({ eventId: id, timestamp: t, logStreamName: stream, message })

let dir: string
beforeEach(async () => {
  dir = await tempProject(minimalConfig())
})

const run = (args: string[], o: { clock?: ReturnType<typeof fastClock>; signal?: AbortSignal } = {}) =>
  runMlops(['logs', ...args], { cwd: dir, awsFactory: fakeAwsFactory(), clock: o.clock ?? fastClock(), ...(o.signal ? { signal: o.signal } : {}) })

describe('mlops logs --endpoint / --lambda (fakes)', () => {
  it('follows nextToken across pages and prints every stream in time order', async () => {
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [ev('b', T0 - 50_000, 'AllTraffic/i-2', 'second'), ev('a', T0 - 60_000, 'AllTraffic/i-1', 'first')], nextToken: 'p2' })
      .resolvesOnce({ events: [ev('c', T0 - 40_000, 'AllTraffic/i-1', 'third')] })
    const r = await run(['--endpoint', '--since', '30m', '--filter', 'ERROR'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toEqual([
      '2026-11-22T09:59:00.000Z [AllTraffic/i-1] first',
      '2026-11-22T09:59:10.000Z [AllTraffic/i-2] second',
      '2026-11-22T09:59:20.000Z [AllTraffic/i-1] third',
    ])
    const sent = logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input)
    expect(sent).toEqual([
      { logGroupName: GROUP, startTime: T0 - 30 * 60_000, filterPattern: 'ERROR' },
      { logGroupName: GROUP, startTime: T0 - 30 * 60_000, filterPattern: 'ERROR', nextToken: 'p2' },
    ])
  })

  it('--json is one document with the events; --lambda reads the function group; default --since is 10m', async () => {
    logs.on(FilterLogEventsCommand).resolves({ events: [ev('a', T0 - 1000, '2026/11/22/[$LATEST]abc', 'START RequestId: 1')] })
    const r = await run(['--lambda', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.json()).toEqual({
      source: 'lambda',
      name: 'dogs-invoke',
      logGroup: '/aws/lambda/dogs-invoke',
      since: '2026-11-22T09:50:00.000Z',
      events: [{ timestamp: '2026-11-22T09:59:59.000Z', stream: '2026/11/22/[$LATEST]abc', message: 'START RequestId: 1', eventId: 'a' }],
      consoleUrl: 'https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fdogs-invoke',
    })
    expect(logs.commandCalls(FilterLogEventsCommand)[0].args[0].input).toEqual({ logGroupName: '/aws/lambda/dogs-invoke', startTime: T0 - 600_000 })
  })

  it('--follow prints each event once (by eventId) though polls overlap, and stops at --timeout', async () => {
    logs
      .on(FilterLogEventsCommand)
      .resolvesOnce({ events: [ev('a', T0 - 5000, 's1', 'one')] })
      .resolvesOnce({ events: [ev('a', T0 - 5000, 's1', 'one'), ev('b', T0 + 1000, 's2', 'two')] })
      .resolvesOnce({ events: [ev('b', T0 + 1000, 's2', 'two'), ev('c', T0 + 500, 's1', 'late')] })
      .resolves({ events: [] })
    const r = await run(['--endpoint', '--follow', '--timeout', '10s'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n')).toEqual([
      '2026-11-22T09:59:55.000Z [s1] one',
      '2026-11-22T10:00:01.000Z [s2] two',
      '2026-11-22T10:00:00.500Z [s1] late',
    ])
    expect(r.stderr).toMatch(/reached --timeout \(3 lines\)/)
    const starts = logs.commandCalls(FilterLogEventsCommand).map((c) => c.args[0].input.startTime)
    // Each poll starts a minute before the newest event seen, so late events are still read.
    expect(starts.slice(0, 3)).toEqual([T0 - 600_000, T0 - 5000 - 60_000, T0 + 1000 - 60_000])
    // Bounded: 10 s at a 2 s interval.
    expect(starts.length).toBeLessThanOrEqual(7)
  })

  it('--follow --json writes JSON lines; Ctrl-C stops it with exit 130', async () => {
    const ac = new AbortController()
    let polls = 0
    logs.on(FilterLogEventsCommand).callsFake(async () => {
      polls++
      if (polls === 3) ac.abort()
      return { events: polls === 1 ? [ev('a', T0, 's1', 'one')] : [] }
    })
    const r = await run(['--endpoint', '--follow', '--json'], { signal: ac.signal })
    expect(r.code).toBe(130)
    const [first] = r.stdout.split('\n')
    expect(JSON.parse(first)).toEqual({ timestamp: '2026-11-22T10:00:00.000Z', stream: 's1', message: 'one', eventId: 'a' })
    expect(r.stderr).toMatch(/stopped following \/aws\/sagemaker\/Endpoints\/dogs-endpoint after 1 lines/)
    expect(polls).toBe(3)
  })

  it('a missing log group says the endpoint has not logged yet, with a hint (exit 2)', async () => {
    logs.on(FilterLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log group does not exist.', $metadata: {} }))
    const r = await run(['--endpoint'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('No log group /aws/sagemaker/Endpoints/dogs-endpoint: the endpoint dogs-endpoint has not logged yet, or does not exist.')
    expect(r.stderr).toMatch(/hint: Deploy it with `mlops deploy`/)
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/)
  })

  it('--dry-run plans the FilterLogEvents read with its input and sends nothing', async () => {
    const r = await runMlops(['logs', '--lambda', '--since', '1h', '--filter', 'timed out', '--dry-run', '--json'], {
      cwd: dir,
      awsFactory: noAwsFactory(),
      clock: fastClock(),
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.json()).toEqual({
      dryRun: true,
      operations: [
        {
          service: 'logs',
          operation: 'FilterLogEvents',
          input: { logGroupName: '/aws/lambda/dogs-invoke', startTime: T0 - 3_600_000, filterPattern: 'timed out' },
          read: true,
        },
      ],
      logGroup: '/aws/lambda/dogs-invoke',
    })
  })

  it.each([
    [['--endpoint', '--lambda'], /--endpoint and --lambda cannot be combined/],
    [['--since', '1h'], /--since only applies with --endpoint or --lambda/],
    [['--follow'], /--follow only applies with --endpoint or --lambda/],
    [['--endpoint', '--since', 'soon'], /--since: .*duration/],
    [['--endpoint', '--timeout', '5m'], /--timeout only applies with --follow/],
    [['--endpoint', 'some-job'], /a job name does not apply/],
  ])('refuses %j with exit 2 before any AWS call', async (args, message) => {
    const r = await runMlops(['logs', ...args], { cwd: dir, awsFactory: noAwsFactory() })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })
})
