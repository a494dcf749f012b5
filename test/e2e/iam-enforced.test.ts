import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam'
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import type { PolicyDocument, PolicyStatement } from '../../src/features/audit/iam-policy.js'
import { GrantBuilder } from '../../src/features/audit/policy-grants.js'
import { trainedModelTarGz } from '../fixtures/deploy.js'
import { noAwsFactory } from '../helpers/aws.js'
import { fastClock, OFFLINE_ENV, runMlops } from '../helpers/cli.js'
import { variantProject, VARIANTS } from '../helpers/command-forms.js'
import { motoClientConfig, motoEnv, startMoto, type MotoServer } from '../helpers/moto.js'
import { recordingAwsFactory, type SentCall } from '../helpers/sent-calls.js'

/**
 * Issue 26 item 4: the pipeline on moto with IAM enforced, run as an IAM user that holds exactly
 * `mlops iam-policy`'s document; then, for each statement, the command that first needs it fails
 * with mlops's AccessDenied hint (not a stack trace) once that one statement is removed.
 *
 * moto enforces IAM once it has answered INITIAL_NO_AUTH_ACTION_COUNT requests (set here with POST
 * /moto-api/reset-auth): the first requests create the users unauthenticated, every later one is
 * signed and authorised. What moto checks, with the launcher's fixes (emulator/moto_server.py):
 * the action of every request it authorises (IAM names: s3:ListBucket for HeadBucket, cloudwatch:
 * for CloudWatch, lambda:InvokeFunction), the resource for IAM role requests and S3 (bucket, key);
 * every other request is checked by action only, and conditions (iam:PassedToService,
 * aws:ResourceTag) are not evaluated. iam:PassRole and the implied actions (sagemaker:AddTags,
 * s3:PutBucketOwnershipControls, the autoscaling alarms) are never requested, so moto cannot check
 * them: the test lists those statements and the audit and service-needs tests cover them.
 */

const ACCOUNT = '123456789012'
/**
 * The pipeline steps, in a person's order; train-ec2 and audit-iam too, so that the EC2, SSM and
 * IAM-reading statements are checked (train-ec2 early: the removals it is first to need replay less).
 */
const STEPS: readonly (readonly string[])[] = [
  ['upload-data'],
  ['train-ec2'],
  ['train'],
  ['deploy'],
  ['lambda-setup'],
  ['scale', '--min', '1', '--max', '2'],
  ['audit-iam'],
  ['status'],
  ['teardown'],
]
const PREDICTION = { predictions: [{ label: 'Golden retriever', index: 0, probability: 0.91 }], top_k: 1, model: { arch: 'resnet18' } }
const LAMBDA_ANSWER = {
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ predictions: [{ breed: 'Golden retriever', probability: 0.91 }], endpointLatencyMs: 40, requestId: 'abcdef123456' }),
}
/**
 * Actions a command can do without: list prices come from the Price List API when allowed, else
 * from the built-in table with a note (the same as MLOPS_PRICE_LIST=off).
 */
const OPTIONAL = new Set(['pricing:GetProducts'])
/** mlops's AccessDenied rendering: the denial on a ✖ line, then a hint (what to grant, or what to do now). */
const DENIED = /^✖ .*\bdenied\b.*\n(.*\n)*hint: \S/m
const list = (v: string | string[]) => (Array.isArray(v) ? v : [v])

interface Keys {
  readonly user: { accessKeyId: string; secretAccessKey: string }
  readonly admin: { accessKeyId: string; secretAccessKey: string }
}

describe('the pipeline on moto with IAM enforced, as a user holding only `mlops iam-policy`', () => {
  let moto: MotoServer
  let dir: string
  let doc: PolicyDocument
  let grants: GrantBuilder

  beforeAll(async () => {
    moto = await startMoto()
    dir = await variantProject(VARIANTS[0])
    const run = await runMlops(['iam-policy', '--json', '--account-id', ACCOUNT], { cwd: dir, env: OFFLINE_ENV, awsFactory: noAwsFactory('iam-policy') })
    expect(run.code, run.stderr).toBe(0)
    doc = run.json<PolicyDocument>()
    grants = new GrantBuilder({ cfg: await loadConfig(path.join(dir, 'mlops.config.yaml'), dir), region: 'us-east-1', account: ACCOUNT, partition: 'aws' })
  }, 120_000)
  afterAll(async () => {
    // Back to no enforcement for whoever reuses the server, then stop it.
    await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: 'inf' }).catch(() => undefined)
    await moto?.stop()
  })

  /** Fresh state; users `ci` (the policy) and `admin` (everything, for the test's own calls) made by the only unauthenticated requests. */
  async function freshAccount(policy: PolicyDocument): Promise<Keys> {
    await moto.reset()
    const setup = new IAMClient(motoClientConfig(moto.endpoint))
    const calls = 6
    await fetch(`${moto.endpoint}/moto-api/reset-auth`, { method: 'POST', body: String(calls) })
    await setup.send(new CreateUserCommand({ UserName: 'ci' }))
    await setup.send(new PutUserPolicyCommand({ UserName: 'ci', PolicyName: 'mlops', PolicyDocument: JSON.stringify(policy) }))
    const user = (await setup.send(new CreateAccessKeyCommand({ UserName: 'ci' }))).AccessKey!
    await setup.send(new CreateUserCommand({ UserName: 'admin' }))
    const all = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }
    await setup.send(new PutUserPolicyCommand({ UserName: 'admin', PolicyName: 'all', PolicyDocument: JSON.stringify(all) }))
    const admin = (await setup.send(new CreateAccessKeyCommand({ UserName: 'admin' }))).AccessKey!
    return {
      user: { accessKeyId: user.AccessKeyId!, secretAccessKey: user.SecretAccessKey! },
      admin: { accessKeyId: admin.AccessKeyId!, secretAccessKey: admin.SecretAccessKey! },
    }
  }

  const clock = fastClock(Date.parse('2026-11-22T09:00:00Z'))

  async function step(keys: Keys, args: readonly string[], record?: SentCall[]) {
    await moto.setEndpointResults(Array.from({ length: 5 }, () => ({ Body: JSON.stringify(PREDICTION), ContentType: 'application/json' })))
    await moto.setLambdaResults(Array.from({ length: 5 }, () => JSON.stringify(LAMBDA_ANSWER)))
    clock.advance(60_000)
    const env = { ...motoEnv(moto.endpoint), AWS_ACCESS_KEY_ID: keys.user.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.user.secretAccessKey }
    const run = await runMlops([...args, '--yes', '--json'], { cwd: dir, env, clock, awsFactory: recordingAwsFactory(record ?? []) })
    // What SageMaker would have written: the model where training left it (put as admin).
    if (args[0] === 'train' && run.code === 0) await putModel(keys, run.json().modelArtifact)
    return run
  }

  async function putModel(keys: Keys, uri: string): Promise<void> {
    const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri)!
    const s3 = new S3Client({ ...motoClientConfig(moto.endpoint), credentials: keys.admin, forcePathStyle: true })
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: await trainedModelTarGz() }))
  }

  /** The IAM action each request sent is authorised as (the first grant of its mapping). */
  const actionOf = (c: SentCall) => grants.grantsFor({ service: c.service, operation: c.operation, input: {} })[0]?.action
  /** Per step: the actions its requests were authorised as, in the positive run. */
  const used = new Map<string, Set<string>>()

  it('completes upload-data, train-ec2, train, deploy, lambda-setup, scale, audit-iam, status and teardown', async () => {
    const keys = await freshAccount(doc)
    for (const args of STEPS) {
      const sent: SentCall[] = []
      const run = await step(keys, args, sent)
      expect(run.code, `mlops ${args.join(' ')}\n${run.stderr}`).toBe(0)
      used.set(args.join(' '), new Set(sent.map(actionOf).filter((a): a is string => a !== undefined)))
    }
    // The user really is limited: a request outside the policy is refused.
    const outside = await runMlops(['upload-data', '--bucket', 'someone-elses-data', '--yes'], {
      cwd: dir,
      env: { ...motoEnv(moto.endpoint), AWS_ACCESS_KEY_ID: keys.user.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.user.secretAccessKey },
      clock,
    })
    expect(outside.code).toBe(1)
    expect(outside.stderr).toMatch(DENIED)
  }, 120_000)

  it('without any one statement, the first command that needs it fails with the AccessDenied hint', async () => {
    expect(used.size, 'the positive run ran first').toBe(STEPS.length)
    const unchecked: string[] = []
    const problems: string[] = []
    const optional: string[] = []
    let checked = 0
    const sameActionElsewhere: string[] = []
    // Removals that need the same step share one setup (replaying the steps before it is the cost);
    // where the shared state may have changed the step's path (it succeeded, or was denied something
    // else), the removal is run again on a fresh account, so sharing can never hide a problem.
    const targetOf = (s: PolicyStatement) => STEPS.findIndex((args) => list(s.Action).some((a) => used.get(args.join(' '))?.has(a)))
    let shared: { target: number; keys: Keys } | undefined
    const attempt = async (statement: PolicyStatement, target: number, fresh: boolean) => {
      if (fresh || shared?.target !== target) {
        const keys = await freshAccount(doc)
        for (const args of STEPS.slice(0, target)) {
          const run = await step(keys, args)
          expect(run.code, `setup mlops ${args.join(' ')}\n${run.stderr}`).toBe(0)
        }
        shared = { target, keys }
      }
      await withoutStatement(shared.keys, statement)
      return step(shared.keys, STEPS[target])
    }
    const ordered = doc.Statement.map((s) => ({ s, target: targetOf(s) })).sort((a, b) => a.target - b.target)
    for (const { s: statement, target } of ordered) {
      const actions = list(statement.Action)
      if (target < 0) {
        unchecked.push(statement.Sid)
        continue
      }
      if (actions.every((a) => doc.Statement.some((o) => o !== statement && list(o.Action).includes(a)))) {
        // Its actions are granted again on other resources (ssm:SendCommand on the document and on
        // the project's boxes): moto checks these by action only, so only AWS can tell them apart.
        sameActionElsewhere.push(statement.Sid)
        continue
      }
      const optionalOnly = actions.every((a) => OPTIONAL.has(a))
      const fits = (r: { code: number; stderr: string }) => {
        if (optionalOnly) return r.code === 0
        if (r.code === 0 || !DENIED.test(r.stderr)) return false
        const denied = /AWS denied ([a-z0-9-]+):(\w+)/.exec(r.stderr)
        return !denied || actions.includes(actionOf({ service: denied[1], operation: denied[2] }) ?? '')
      }
      let run = await attempt(statement, target, false)
      if (!fits(run)) run = await attempt(statement, target, true)
      const label = `without ${statement.Sid} (${actions.join(', ')}): mlops ${STEPS[target].join(' ')}`
      if (optionalOnly) {
        // Optional by design: the command goes on without it, and says so.
        if (run.code !== 0) problems.push(`${label} failed, but its statement is optional:\n${run.stderr}`)
        optional.push(statement.Sid)
      } else if (run.code === 0) problems.push(`${label} succeeded`)
      else if (!DENIED.test(run.stderr)) problems.push(`${label} failed without the AccessDenied hint:\n${run.stderr}`)
      else if (!fits(run)) problems.push(`${label} was denied something else:\n${run.stderr}`)
      else if (/\n\s+at /.test(run.stderr)) problems.push(`${label} printed a stack trace`)
      checked += 1
    }
    expect(problems.join('\n\n')).toBe('')
    expect(optional).toEqual(['PricingReadAll'])
    // Exactly the two ssm:SendCommand grants (the document, and the project's boxes by tag); their Sids
    // are numbered in the order the policy is built, so they are found by what they grant.
    const sendCommand = doc.Statement.filter((s) => list(s.Action).includes('ssm:SendCommand')).map((s) => s.Sid)
    expect(sendCommand).toHaveLength(2)
    expect(sameActionElsewhere.sort()).toEqual(sendCommand.sort())
    expect(checked + unchecked.length + sameActionElsewhere.length).toBe(doc.Statement.length)
    // The statements moto cannot check: only requests it never sees (PassRole, implied actions) and
    // commands outside this run (tune, train-ec2, invoke, loadtest, audit-iam).
    for (const sid of unchecked) {
      const s = doc.Statement.find((x) => x.Sid === sid)!
      expect(
        list(s.Action).some((a) => [...used.values()].some((u) => u.has(a))),
        sid,
      ).toBe(false)
    }
    expect(doc.Statement.filter((s) => list(s.Action).includes('iam:PassRole')).every((s) => unchecked.includes(s.Sid))).toBe(true)
  }, 600_000)

  async function withoutStatement(keys: Keys, statement: PolicyStatement): Promise<void> {
    const iam = new IAMClient({ ...motoClientConfig(moto.endpoint), credentials: keys.admin })
    const reduced = { ...doc, Statement: doc.Statement.filter((s) => s !== statement) }
    await iam.send(new PutUserPolicyCommand({ UserName: 'ci', PolicyName: 'mlops', PolicyDocument: JSON.stringify(reduced) }))
  }
})
