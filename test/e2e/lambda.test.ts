import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs'
import {
  AttachRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam'
import {
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionUrlConfigCommand,
  GetPolicyCommand,
  GetProvisionedConcurrencyConfigCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
} from '@aws-sdk/client-lambda'
import { CreateEndpointCommand, CreateEndpointConfigCommand, CreateModelCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createAwsClientFactory, type AwsSettings } from '../../src/aws/clients.js'
import { minimalConfig, runMlops, tempProject } from '../helpers/cli.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'

const ACCOUNT = '123456789012'
const TAGS = [
  { Key: 'mlops:project', Value: 'dogs' },
  { Key: 'mlops:managed-by', Value: 'mlops' },
]
/** What the real function answers for the sample image (moto's Lambda only echoes unless told). */
const GOOD_ANSWER = JSON.stringify({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    predictions: [
      { breed: 'Golden retriever', probability: 0.91 },
      { breed: 'Labrador retriever', probability: 0.05 },
      { breed: 'Kuvasz', probability: 0.01 },
    ],
    endpointLatencyMs: 87,
    requestId: 'abc123def456',
  }),
})

/**
 * moto has no Lambda GetAccountSettings: this factory builds the normal clients against moto and
 * answers only that one operation in a middleware, so everything else really reaches moto.
 */
function factoryWithAccountSettings(limit: number, unreserved: number) {
  return (settings: AwsSettings) => {
    const inner = createAwsClientFactory({ ...settings, maxAttempts: 1 })
    return (async (names: readonly string[]) => {
      const clients = await inner(names as never)
      const lambda = (clients as { lambda?: LambdaClient }).lambda
      if (lambda && !(lambda as unknown as { patched?: boolean }).patched) {
        ;(lambda as unknown as { patched?: boolean }).patched = true
        lambda.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === 'GetAccountSettingsCommand') {
              return {
                output: { $metadata: {}, AccountLimit: { ConcurrentExecutions: limit, UnreservedConcurrentExecutions: unreserved } },
                response: {},
              } as never
            }
            return next(args)
          },
          { step: 'initialize', name: 'fakeGetAccountSettings' },
        )
      }
      return clients
    }) as ReturnType<typeof createAwsClientFactory>
  }
}

describe('lambda-setup and Lambda concurrency on moto', () => {
  let moto: MotoServer
  let lambda: LambdaClient
  let iam: IAMClient
  let sm: SageMakerClient
  let logs: CloudWatchLogsClient
  let dir: string
  const run = (args: string[], extra: Parameters<typeof runMlops>[1] = {}) => runMlops([...args, '--yes'], { cwd: dir, env: motoEnv(moto.endpoint), ...extra })

  async function createEndpoint() {
    await sm.send(
      new CreateModelCommand({
        ModelName: 'dogs-model-1',
        ExecutionRoleArn: `arn:aws:iam::${ACCOUNT}:role/dogs-sagemaker`,
        PrimaryContainer: { Image: '763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312', ModelDataUrl: 's3://dogs-data/m.tar.gz' },
      }),
    )
    await sm.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: 'dogs-config-1',
        ProductionVariants: [{ VariantName: 'AllTraffic', ModelName: 'dogs-model-1', InitialInstanceCount: 1, InstanceType: 'ml.m5.large' }],
      }),
    )
    await sm.send(new CreateEndpointCommand({ EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-1', Tags: TAGS }))
  }

  beforeAll(async () => {
    moto = await startMoto()
    const cfg = motoClientConfig(moto.endpoint)
    lambda = new LambdaClient(cfg)
    iam = new IAMClient(cfg)
    sm = new SageMakerClient(cfg)
    logs = new CloudWatchLogsClient(cfg)
  })
  afterAll(async () => {
    await moto?.stop()
  })
  beforeEach(async () => {
    await moto.reset()
    dir = await tempProject(minimalConfig())
    await createEndpoint()
  })

  it('creates role, log group, function, version and alias, tests it, and a re-run publishes nothing', async () => {
    await moto.setLambdaResults([GOOD_ANSWER])
    const first = await run(['lambda-setup', '--json'])
    expect(first.stderr).not.toMatch(/✖/)
    expect(first.code).toBe(0)
    const r = first.json()
    expect(r).toMatchObject({
      dryRun: false,
      functionName: 'dogs-invoke',
      alias: 'live',
      version: '1',
      created: true,
      published: true,
      role: { name: 'dogs-lambda', created: true },
      endpoint: { name: 'dogs-endpoint', status: 'InService' },
      test: { status: 'passed', image: 'assets/sample.jpg', predictions: [{ breed: 'Golden retriever', probability: 0.91 }, {}, {}] },
    })

    // The function: env var from the config, Node runtime, our handler, the role, tags.
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'dogs-invoke' }))
    expect(fn.Configuration).toMatchObject({
      Runtime: 'nodejs24.x',
      Handler: 'handler.handler',
      MemorySize: 256,
      Timeout: 30,
      Architectures: ['arm64'],
      Role: `arn:aws:iam::${ACCOUNT}:role/dogs-lambda`,
      Environment: { Variables: { ENDPOINT_NAME: 'dogs-endpoint', TOP_K: '3', MAX_BODY_BYTES: '5242880' } },
      CodeSha256: r.codeSha256,
    })
    expect(fn.Tags).toMatchObject({ 'mlops:project': 'dogs', 'mlops:managed-by': 'mlops' })
    expect(r.zipBytes).toBeLessThan(100 * 1024)
    const alias = await lambda.send(new GetAliasCommand({ FunctionName: 'dogs-invoke', Name: 'live' }))
    expect(alias.FunctionVersion).toBe('1')

    // The role: exactly the two statements, trust lambda.amazonaws.com with aws:SourceAccount, nothing attached.
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'dogs-lambda' }))).Role!
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!))).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'lambda.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
        },
      ],
    })
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'dogs-lambda' }))).PolicyNames).toEqual(['mlops-lambda'])
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: 'dogs-lambda', PolicyName: 'mlops-lambda' }))
    expect(JSON.parse(decodeURIComponent(policy.PolicyDocument!)).Statement).toEqual([
      {
        Sid: 'InvokeModelEndpoint',
        Effect: 'Allow',
        Action: 'sagemaker:InvokeEndpoint',
        Resource: `arn:aws:sagemaker:us-east-1:${ACCOUNT}:endpoint/dogs-endpoint`,
      },
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/aws/lambda/dogs-invoke:*`,
      },
    ])
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'dogs-lambda' }))).AttachedPolicies).toEqual([])

    // The log group exists with a retention period.
    const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/aws/lambda/dogs-invoke' }))
    expect(groups.logGroups?.map((g) => [g.logGroupName, g.retentionInDays])).toEqual([['/aws/lambda/dogs-invoke', 30]])

    // State.
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8'))
    expect(state.resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'role', name: 'dogs-lambda', details: { purpose: 'lambda' } }),
        expect.objectContaining({
          kind: 'function',
          name: 'dogs-invoke',
          details: expect.objectContaining({ alias: 'live', version: '1', roleName: 'dogs-lambda' }),
        }),
      ]),
    )

    // Someone attaches the course's FullAccess policy by hand; the re-run removes it and publishes nothing.
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'dogs-lambda', PolicyArn: 'arn:aws:iam::aws:policy/AmazonSageMakerFullAccess' }))
    await moto.setLambdaResults([GOOD_ANSWER])
    const again = await run(['lambda-setup'])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/dogs-invoke:live -> version 1 \(unchanged: no new version\)/)
    expect(again.stdout).toMatch(/detached:arn:aws:iam::aws:policy\/AmazonSageMakerFullAccess/)
    expect(again.stdout).toMatch(/test +passed with assets\/sample.jpg: 1\. Golden retriever 91\.0%/)
    expect((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'dogs-lambda' }))).AttachedPolicies).toEqual([])
    const versions = await lambda.send(new ListVersionsByFunctionCommand({ FunctionName: 'dogs-invoke' }))
    expect(versions.Versions?.map((v) => v.Version)).toEqual(['$LATEST', '1'])
  })

  it('a configuration change updates by value, publishes one new version and moves the alias', async () => {
    expect((await run(['lambda-setup', '--no-test'])).code).toBe(0)
    const res = await run(['lambda-setup', '--no-test', '--memory', '512', '--json'])
    expect(res.code).toBe(0)
    expect(res.json()).toMatchObject({ version: '2', published: true, codeUpdated: false, configUpdated: ['MemorySize'], test: { status: 'skipped' } })
    expect((await lambda.send(new GetAliasCommand({ FunctionName: 'dogs-invoke', Name: 'live' }))).FunctionVersion).toBe('2')
    expect((await lambda.send(new GetFunctionCommand({ FunctionName: 'dogs-invoke', Qualifier: '2' }))).Configuration?.MemorySize).toBe(512)
  })

  it('function URL: AWS_IAM by default, public only with --public and a warning, and back', async () => {
    const iamUrl = await run(['lambda-setup', '--no-test', '--url', '--json'])
    expect(iamUrl.code).toBe(0)
    expect(iamUrl.json().url).toMatchObject({ authType: 'AWS_IAM', managed: true, url: expect.stringMatching(/^https:\/\/.+\.lambda-url\.us-east-1\.on\.aws/) })
    expect(iamUrl.stderr).not.toMatch(/PUBLIC/)
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))).AuthType).toBe('AWS_IAM')

    const pub = await run(['lambda-setup', '--no-test', '--url', '--public'])
    expect(pub.code).toBe(0)
    expect(pub.stderr).toMatch(/PUBLIC \(AuthType NONE\): anyone on the internet can call it/)
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))).AuthType).toBe('NONE')
    const statements = JSON.parse((await lambda.send(new GetPolicyCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))).Policy!).Statement
    expect(statements.map((s: { Sid: string; Action: string; Principal: unknown }) => [s.Sid, s.Action, s.Principal])).toEqual([
      ['mlops-public-url', 'lambda:InvokeFunctionUrl', '*'],
      ['mlops-public-url-invoke', 'lambda:InvokeFunction', '*'],
    ])

    const back = await run(['lambda-setup', '--no-test', '--url'])
    expect(back.code).toBe(0)
    expect((await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))).AuthType).toBe('AWS_IAM')
    // No statements left: AWS (and moto) then answer GetPolicy with ResourceNotFoundException.
    await expect(lambda.send(new GetPolicyCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    })

    // Without --url the existing URL is reported, not touched.
    const plain = await run(['lambda-setup', '--no-test'])
    expect(plain.stdout).toMatch(/url +https:\/\/.+ \(AWS_IAM: callers sign requests with SigV4\) — not managed in this run/)
  })

  it('a function whose test answer is wrong fails with exit 1 and says so', async () => {
    // moto's default answer is an echo of the request: not a proxy response with predictions.
    const res = await run(['lambda-setup'])
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/The function was deployed, but its test invocation failed: the function's answer is not a \{statusCode, body\} response/)
    await moto.setLambdaResults([
      JSON.stringify({ statusCode: 502, body: JSON.stringify({ error: { code: 'EndpointError', message: 'The model endpoint could not answer.' } }) }),
    ])
    const bad = await run(['lambda-setup'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/answered 502 \(EndpointError: The model endpoint could not answer\.\)/)
    expect(bad.stderr).toMatch(/mlops invoke/)
  })

  it('without an endpoint: warns, creates the function, skips the test', async () => {
    const other = await tempProject(minimalConfig('endpoint:\n  name: Not-Deployed-Yet\n'))
    const res = await runMlops(['lambda-setup', '--yes', '--json'], { cwd: other, env: motoEnv(moto.endpoint) })
    expect(res.code).toBe(0)
    expect(res.stderr).toMatch(/Endpoint Not-Deployed-Yet does not exist yet/)
    expect(res.json().test).toEqual({ status: 'skipped', reason: 'endpoint Not-Deployed-Yet does not exist (run `mlops deploy`)' })
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: 'dogs-lambda', PolicyName: 'mlops-lambda' }))
    // IAM matches SageMaker endpoint ARNs in lower case.
    expect(decodeURIComponent(policy.PolicyDocument!)).toContain(`endpoint/not-deployed-yet"`)
  })

  it('scale sets reserved and provisioned concurrency on the live alias, with cost and preflight', async () => {
    expect((await run(['lambda-setup', '--no-test'])).code).toBe(0)
    const awsFactory = factoryWithAccountSettings(1000, 1000)
    const res = await runScale(['--lambda-reserved', '5', '--lambda-provisioned', '2'], awsFactory)
    expect(res.stderr).not.toMatch(/✖/)
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/reserved +5 \(was none\)/)
    expect(res.stdout).toMatch(/provisioned +2 READY \(was none\)/)
    expect(res.stdout).toMatch(/about \$0\.00\d+\/hour, \$[\d.]+\/month \(2 x 256 MB\)\. Billed while configured, even when idle/)
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'dogs-invoke' }))).ReservedConcurrentExecutions).toBe(5)
    const pcc = await lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName: 'dogs-invoke', Qualifier: 'live' }))
    expect(pcc).toMatchObject({ RequestedProvisionedConcurrentExecutions: 2, Status: 'READY' })
    const state = JSON.parse(await readFile(path.join(dir, '.mlops/state.json'), 'utf8'))
    expect(state.resources.find((r: { kind: string }) => r.kind === 'function').details).toMatchObject({
      alias: 'live',
      version: '1',
      reservedConcurrency: 5,
      provisionedConcurrency: 2,
    })

    // Preflight refuses a new account's tiny limit before changing anything.
    const small = await runScale(['--lambda-reserved', '10'], factoryWithAccountSettings(50, 45))
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/concurrency limit in this region is 50/)
    expect(small.stderr).toMatch(/Service Quotas/)
    expect((await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: 'dogs-invoke' }))).ReservedConcurrentExecutions).toBe(5)
  })

  it('scale refuses before lambda-setup has made the alias', async () => {
    const res = await runScale(['--lambda-reserved', '5'], factoryWithAccountSettings(1000, 1000))
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/has no "live" alias yet/)
    expect(res.stderr).toMatch(/mlops lambda-setup/)
  })

  function runScale(args: string[], awsFactory: ReturnType<typeof factoryWithAccountSettings>) {
    return run(['scale', ...args], { awsFactory })
  }
})
