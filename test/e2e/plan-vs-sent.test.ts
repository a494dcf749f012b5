import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainedModelTarGz } from '../fixtures/deploy.js'
import { noAwsFactory } from '../helpers/aws.js'
import { fastClock, OFFLINE_ENV, runMlops } from '../helpers/cli.js'
import { formLabel, MODEL, variantProject, VARIANTS, type Variant } from '../helpers/command-forms.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { recordingAwsFactory, unplannedCalls, type PlanEntry, type SentCall } from '../helpers/sent-calls.js'

/**
 * A dry-run plan lists every request its command really makes (issue 24, part 2). Each command form
 * of the request contract runs twice in the same project: with --dry-run (offline) for its plan, and
 * for real against moto with every request recorded by a middleware on the product's own clients.
 * Every mutating request sent must be planned, in the plan's order; every read sent must be listed
 * (marked as a read). The least-privilege policy for the person running mlops comes from these plans,
 * so a request missing here is a denied call on a real account.
 */

/** What a form needs in the account before it can run, and what it leaves there. */
type Need = 'data' | 'job' | 'model' | 'endpoint' | 'function'

/** The order a person runs the pipeline in: a variant's forms run in this order, whatever the list order. */
const STAGES = [
  'upload-data',
  'train',
  'tune',
  'logs',
  'runs',
  'train-ec2',
  'deploy',
  'lambda-setup',
  'invoke',
  'evaluate',
  'predict',
  'scale',
  'audit-iam',
  'status',
  'teardown',
]

/** Commands that converge what exists: each is run a second time, and what that run sends is compared too. */
const CONVERGING = new Set(['upload-data', 'deploy', 'lambda-setup', 'scale'])

function needs(args: readonly string[]): Need[] {
  const [cmd] = args
  if (cmd === 'train' || cmd === 'tune' || cmd === 'train-ec2') return ['data']
  // --lambda reads the log group lambda-setup makes (with its retention) before the function's first run.
  if (cmd === 'logs') return args.includes('--lambda') ? ['function'] : ['job']
  if (cmd === 'deploy') return ['model']
  // With a URL it runs over an existing function: the converge path (GetFunction, GetAlias, ...) is checked too.
  if (cmd === 'lambda-setup') return args.includes('--url') ? ['endpoint', 'function'] : ['endpoint']
  if (cmd === 'invoke') return args.includes('--lambda') ? ['endpoint', 'function'] : ['endpoint']
  // evaluate/predict through the deployed model; an s3:// prefix is the uploaded dataset.
  if (cmd === 'evaluate' || cmd === 'predict') {
    const data: Need[] = args.some((a) => a.startsWith('s3://')) ? ['data'] : []
    return [...data, ...(args.includes('--lambda') ? (['endpoint', 'function'] as Need[]) : (['endpoint'] as Need[]))]
  }
  if (cmd === 'scale') return args.some((a) => a.startsWith('--lambda')) ? ['function'] : ['endpoint']
  // With an endpoint, --metrics reads its variant and scaling policy before GetMetricData.
  if (cmd === 'status' && args.includes('--metrics')) return ['endpoint']
  return []
}

function provides(args: readonly string[]): Need[] {
  const [cmd] = args
  if (cmd === 'upload-data') return ['data']
  if (cmd === 'deploy') return ['model', 'endpoint']
  if (cmd === 'lambda-setup') return ['function']
  return []
}

/**
 * The answers moto gives InvokeEndpoint and Lambda Invoke (deploy's and lambda-setup's smoke tests,
 * invoke, evaluate, predict). The label is the synthetic dataset's class 0, so `evaluate --endpoint`
 * finds the test images labelled with one of the model's classes.
 */
const PREDICTION = { predictions: [{ label: 'Affenpinscher', index: 0, probability: 0.91 }], top_k: 1, model: { arch: 'resnet18' } }
const LAMBDA_ANSWER = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ predictions: [{ breed: 'Golden retriever', probability: 0.91 }], endpointLatencyMs: 40, requestId: 'abcdef123456' }),
}

describe('every request a command sends is in its --dry-run plan (moto)', () => {
  let moto: MotoServer
  let env: Record<string, string>
  let s3: S3Client
  beforeAll(async () => {
    moto = await startMoto()
    // With the preflight on (the helpers turn it off): its reads must be planned too. moto has
    // neither SageMaker quotas nor SimulatePrincipalPolicy, so it warns and goes on.
    env = { ...motoEnv(moto.endpoint), MLOPS_PREFLIGHT: 'on' }
    s3 = new S3Client({ ...motoClientConfig(moto.endpoint), forcePathStyle: true })
  })
  afterAll(async () => moto?.stop())

  /** A model.tar.gz where training would have left it (MODEL), as the pipeline test makes one. */
  async function putModel(): Promise<void> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(MODEL)!
    await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined) // upload-data may have made it
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await trainedModelTarGz() }))
  }

  async function runVariant(variant: Variant): Promise<string[]> {
    const dir = await variantProject(variant)
    await moto.reset()
    const clock = fastClock(Date.parse('2026-11-22T09:00:00Z'))
    const have = new Set<Need>()
    const mlops = async (args: string[], opts: { record?: SentCall[]; clock?: ReturnType<typeof fastClock> } = {}) => {
      // moto keeps canned answers per region: the smoke test and invoke ask the form's own region.
      const at = args.indexOf('--region')
      const region = at >= 0 ? args[at + 1] : 'us-east-1'
      await moto.setEndpointResults(
        Array.from({ length: 5 }, () => ({ Body: JSON.stringify(PREDICTION), ContentType: 'application/json' })),
        region,
      )
      await moto.setLambdaResults(
        Array.from({ length: 5 }, () => JSON.stringify(LAMBDA_ANSWER)),
        region,
      )
      clock.advance(60_000)
      const run = await runMlops([...args, '--yes'], { cwd: dir, env, clock: opts.clock ?? clock, awsFactory: recordingAwsFactory(opts.record ?? []) })
      expect(run.code, `${formLabel(variant, args)}\n${run.stderr}`).toBe(0)
    }
    // Prerequisites run unrecorded, only when the variant's own earlier forms did not provide them.
    const ensure = async (need: Need): Promise<void> => {
      if (have.has(need)) return
      if (need === 'data') await mlops(['upload-data'])
      if (need === 'job') {
        // The job `logs` names: train's name at the default clock's instant (10:00:00.000).
        await ensure('data')
        await mlops(['train'], { clock: fastClock() })
      }
      if (need === 'model') await putModel()
      if (need === 'endpoint') {
        await ensure('model')
        await mlops(['deploy', '--model', MODEL])
      }
      if (need === 'function') {
        await ensure('endpoint')
        await mlops(['lambda-setup'])
      }
      have.add(need)
    }

    const problems: string[] = []
    const forms = [...variant.commands].sort((a, b) => STAGES.indexOf(a[0]) - STAGES.indexOf(b[0]))
    for (const args of forms) {
      const label = formLabel(variant, args)
      const dry = await runMlops([...args, '--dry-run', '--json'], {
        cwd: dir,
        env: { ...OFFLINE_ENV, MLOPS_PREFLIGHT: 'on' },
        awsFactory: noAwsFactory('a --dry-run asked for AWS clients'),
      })
      expect(dry.code, `${label} --dry-run\n${dry.stderr}`).toBe(0)
      const plan: PlanEntry[] = dry.json().operations
      for (const need of needs(args)) await ensure(need)
      const sent: SentCall[] = []
      await mlops(args, { record: sent })
      expect(sent.length, `${label}: the recorder saw no request`).toBeGreaterThan(0)
      problems.push(...unplannedCalls(label, plan, sent))
      if (CONVERGING.has(args[0])) {
        // A second run finds everything in place: the update path must be planned too.
        const again: SentCall[] = []
        await mlops(args, { record: again })
        problems.push(...unplannedCalls(`${label} (run again)`, plan, again))
      }
      for (const p of provides(args)) have.add(p)
    }
    return problems
  }

  it('covers every form of the request contract', () => {
    const forms = VARIANTS.flatMap((v) => v.commands.map((args) => formLabel(v, args)))
    expect(forms.length).toBe(new Set(forms).size)
    expect(new Set(VARIANTS.flatMap((v) => v.commands.map((a) => a[0])))).toEqual(new Set(STAGES))
  })

  it.each(VARIANTS.map((v) => [v.name, v] as const))(
    '%s',
    async (_name, variant) => {
      const problems = await runVariant(variant)
      expect(problems.join('\n'), 'requests sent that the --dry-run plan does not list').toBe('')
    },
    300_000,
  )
})

describe('the plan-versus-sent comparison itself', () => {
  const plan: PlanEntry[] = [
    { service: 'sagemaker', operation: 'DescribeEndpoint', read: true },
    { service: 'iam', operation: 'CreateRole' },
    { service: 'sagemaker', operation: 'CreateModel' },
    { service: 'sagemaker', operation: 'DeleteModel' },
  ]
  const call = (k: string) => ({ service: k.split(':')[0], operation: k.split(':')[1] })

  it('accepts skipped and repeated planned requests, and reads anywhere', () => {
    const sent = ['sagemaker:DescribeEndpoint', 'sagemaker:CreateModel', 'sagemaker:DescribeEndpoint', 'sagemaker:DeleteModel', 'sagemaker:DeleteModel']
    expect(unplannedCalls('mlops x', plan, sent.map(call))).toEqual([])
  })

  it('names the command and the request: unplanned, out of order, an unlisted read, a wrong mark', () => {
    expect(unplannedCalls('mlops x', plan, [call('lambda:CreateFunction')])).toEqual(['mlops x: sent lambda:CreateFunction that its plan does not list'])
    expect(unplannedCalls('mlops x', plan, [call('sagemaker:CreateModel'), call('iam:CreateRole')])).toEqual([
      "mlops x: sent iam:CreateRole out of the plan's order (after sagemaker:CreateModel; the plan has it earlier)",
    ])
    expect(unplannedCalls('mlops x', plan, [call('sts:GetCallerIdentity')])).toEqual([
      'mlops x: sent sts:GetCallerIdentity (a read) that its plan does not list',
    ])
    expect(unplannedCalls('mlops x', [{ service: 'iam', operation: 'GetRole' }], [])).toEqual(['mlops x: plan marks iam:GetRole as mutating, but it is not'])
  })
})
