import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam'
import { CreateAliasCommand, CreateFunctionCommand, LambdaClient, PublishVersionCommand } from '@aws-sdk/client-lambda'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createZip } from '../../src/shared/zip-writer.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { ANSWER } from '../fixtures/deploy.js'

/** `mlops invoke` on moto: the endpoint directly, and through the Lambda's live alias. */

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01])

let moto: MotoServer
let dir: string
beforeAll(async () => {
  moto = await startMoto()
})
afterAll(async () => moto?.stop())
beforeEach(async () => {
  await moto.reset()
  const sm = new SageMakerClient(motoClientConfig(moto.endpoint))
  await sm.send(
    new CreateModelCommand({
      ModelName: 'm',
      ExecutionRoleArn: 'arn:aws:iam::123456789012:role/r',
      PrimaryContainer: { Image: 'img', ModelDataUrl: 's3://b/m.tar.gz' },
    }),
  )
  await sm.send(
    new CreateEndpointConfigCommand({
      EndpointConfigName: 'c',
      ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'm', InstanceType: 'ml.m5.large', InitialInstanceCount: 1 }],
    }),
  )
  await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'c' }))
  dir = await tempProject(minimalConfig(), { 'photos/rex.jpg': JPEG, 'photos/big.png': Buffer.alloc(7 * 1024 * 1024) })
})

const invoke = (args: string[]) => runMlops(['invoke', ...args], { cwd: dir, env: motoEnv(moto.endpoint), clock: fastClock() })

describe('mlops invoke on moto', () => {
  it('prints the top-k breeds as a table, and as JSON', async () => {
    await moto.setEndpointResults([{ Body: JSON.stringify(ANSWER), ContentType: 'application/json' }])
    const run = await invoke(['photos/rex.jpg'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toMatch(/#\s+Breed\s+Probability/)
    expect(run.stdout).toMatch(/1\s+Affenpinscher\s+91\.0%/)
    expect(run.stdout).toMatch(/3\s+Airedale_terrier\s+2\.0%/)
    expect(run.stdout).not.toContain('Akita')
    expect(run.stdout).toMatch(/\d+ ms round trip via endpoint dogs-endpoint/)
    const json = await invoke(['photos/rex.jpg', '--top', '2', '--json'])
    expect(json.code, json.stderr).toBe(0)
    expect(json.json()).toMatchObject({
      target: 'endpoint',
      name: 'dogs-endpoint',
      input: { kind: 'file', bytes: JPEG.length, contentType: 'image/jpeg' },
      predictions: ANSWER.predictions.slice(0, 2),
      model: { arch: 'resnet50' },
    })
    expect(typeof json.json().latencyMs).toBe('number')
  })

  it('an https URL goes as {"url"} JSON; an answer of the wrong shape exits 1', async () => {
    await moto.setEndpointResults([{ Body: JSON.stringify({ error: 'nope' }), ContentType: 'application/json' }])
    const run = await invoke(['https://example.com/dog.jpg'])
    expect(run.code).toBe(1)
    expect(run.stderr).toContain('Endpoint dogs-endpoint answered something that is not a prediction list (no "predictions" list)')
    const big = await invoke(['photos/big.png'])
    expect(big.code).toBe(2)
    expect(big.stderr).toContain('big.png is 7.0 MB; an endpoint request may be at most 6 MB.')
  })

  it('--lambda goes through the live alias and reads the proxy-style answer', async () => {
    const iam = new IAMClient(motoClientConfig(moto.endpoint))
    const lambda = new LambdaClient(motoClientConfig(moto.endpoint))
    const role = await iam.send(
      new CreateRoleCommand({
        RoleName: 'dogs-lambda',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
        }),
      }),
    )
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'dogs-invoke',
        Runtime: 'nodejs20.x',
        Handler: 'index.handler',
        Role: role.Role!.Arn,
        Code: { ZipFile: createZip([{ name: 'index.js', data: Buffer.from('exports.handler = async () => ({})') }]) },
      }),
    )
    const version = await lambda.send(new PublishVersionCommand({ FunctionName: 'dogs-invoke' }))
    await lambda.send(new CreateAliasCommand({ FunctionName: 'dogs-invoke', Name: 'live', FunctionVersion: version.Version }))
    await moto.setLambdaResults([
      JSON.stringify({
        statusCode: 200,
        headers: {},
        body: JSON.stringify({
          predictions: [
            { breed: 'Golden retriever', probability: 0.88 },
            { breed: 'Kuvasz', probability: 0.07 },
          ],
          endpointLatencyMs: 80,
          requestId: 'abc123def456',
        }),
      }),
      JSON.stringify({
        statusCode: 400,
        headers: {},
        body: JSON.stringify({ error: { code: 'InvalidTopK', message: '"top_k" must be a whole number from 1 to 20.' }, requestId: 'fff000' }),
      }),
    ])
    const run = await invoke(['photos/rex.jpg', '--lambda', '--json'])
    expect(run.code, run.stderr).toBe(0)
    expect(run.json()).toMatchObject({
      target: 'lambda',
      name: 'dogs-invoke:live',
      predictions: [
        { label: 'Golden retriever', probability: 0.88 },
        { label: 'Kuvasz', probability: 0.07 },
      ],
      requestId: 'abc123def456',
    })
    const refused = await invoke(['photos/rex.jpg', '--lambda', '--top', '50'])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('Lambda dogs-invoke answered HTTP 400: "top_k" must be a whole number from 1 to 20. (request id fff000)')
    // Unset, moto's Lambda echoes the event back: that is not an answer.
    const echoed = await invoke(['https://example.com/dog.jpg', '--lambda'])
    expect(echoed.code).toBe(1)
    expect(echoed.stderr).toContain('Lambda dogs-invoke answered something that is not a prediction list')
  })
})
