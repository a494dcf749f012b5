import {
  GenerateServiceLastAccessedDetailsCommand,
  GetAccountAuthorizationDetailsCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetServiceLastAccessedDetailsCommand,
  IAMClient,
} from '@aws-sdk/client-iam'
import { GetFunctionConfigurationCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda'
import { DescribeEndpointCommand, SageMakerClient } from '@aws-sdk/client-sagemaker'
import { sdkMock } from '../helpers/mock-sdk.js'
import { beforeEach, describe, expect, it } from 'vitest'
import type { AuditReport } from '../../src/features/audit/report.js'
import type { AwsClientFactory } from '../../src/aws/clients.js'
import { managedDoc } from '../fixtures/audit/helpers.js'
import { fastClock, minimalConfig, runMlops, tempProject } from '../helpers/cli.js'

/**
 * What moto cannot show: pagination, RoleLastUsed from GetRole, managed policy documents fetched
 * when the listing lacks them, last-accessed jobs that take a while, and AWS refusing the audit.
 */

const creds = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }
const iamMock = sdkMock(IAMClient)
const lambdaMock = sdkMock(LambdaClient)
const smMock = sdkMock(SageMakerClient)
const awsFactory = () =>
  (async () => ({ iam: new IAMClient(creds), lambda: new LambdaClient(creds), sagemaker: new SageMakerClient(creds) })) as unknown as AwsClientFactory

const ACCOUNT = '123456789012'
const enc = (d: unknown) => encodeURIComponent(JSON.stringify(d))
const trust = (service: string) =>
  enc({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } }],
  })
const tags = [{ Key: 'mlops:project', Value: 'dogs' }]

beforeEach(() => {
  lambdaMock.on(GetFunctionConfigurationCommand).rejects(new ResourceNotFoundException({ message: 'Function not found', $metadata: {} }))
  smMock.on(DescribeEndpointCommand).rejects(Object.assign(new Error('Could not find endpoint "dogs-endpoint".'), { name: 'ValidationException' }))
})

describe('audit-iam live reads (fakes)', () => {
  it('follows pagination, fills RoleLastUsed from GetRole and fetches missing managed policy documents', async () => {
    iamMock
      .on(GetAccountAuthorizationDetailsCommand)
      .resolvesOnce({
        RoleDetailList: [
          {
            RoleName: 'dogs-lambda',
            Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-lambda`,
            Path: '/',
            RoleId: 'A',
            CreateDate: new Date('2025-01-01T00:00:00Z'),
            AssumeRolePolicyDocument: trust('lambda.amazonaws.com'),
            Tags: tags,
          },
        ],
        IsTruncated: true,
        Marker: 'm1',
      })
      .resolvesOnce({
        RoleDetailList: [
          {
            RoleName: 'dogs-extra',
            Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-extra`,
            Path: '/',
            RoleId: 'B',
            CreateDate: new Date('2026-11-01T00:00:00Z'),
            AssumeRolePolicyDocument: trust('sagemaker.amazonaws.com'),
            AttachedManagedPolicies: [{ PolicyName: 'AmazonS3FullAccess', PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess' }],
            RoleLastUsed: { LastUsedDate: new Date('2026-11-20T00:00:00Z'), Region: 'us-east-1' },
            Tags: tags,
          },
        ],
        IsTruncated: false,
      })
    iamMock.on(GetRoleCommand).resolves({
      Role: {
        RoleName: 'dogs-lambda',
        Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-lambda`,
        Path: '/',
        RoleId: 'A',
        CreateDate: new Date('2025-01-01T00:00:00Z'),
        RoleLastUsed: { LastUsedDate: new Date('2026-05-06T10:00:00Z'), Region: 'eu-west-1' },
      },
    })
    iamMock.on(GetPolicyCommand).resolves({ Policy: { Arn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess', DefaultVersionId: 'v2' } })
    iamMock
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { VersionId: 'v2', IsDefaultVersion: true, Document: enc(managedDoc('AmazonS3FullAccess')) } })
    iamMock.on(GenerateServiceLastAccessedDetailsCommand).resolves({ JobId: 'job-1' })
    iamMock
      .on(GetServiceLastAccessedDetailsCommand)
      .resolvesOnce({ JobStatus: 'IN_PROGRESS', JobCreationDate: new Date(), ServicesLastAccessed: [] })
      .resolves({
        JobStatus: 'COMPLETED',
        JobCreationDate: new Date(),
        JobCompletionDate: new Date(),
        ServicesLastAccessed: [
          {
            ServiceName: 'Amazon S3',
            ServiceNamespace: 's3',
            LastAuthenticated: new Date('2026-11-19T00:00:00Z'),
            TrackedActionsLastAccessed: [{ ActionName: 'GetObject', LastAccessedTime: new Date('2026-11-19T00:00:00Z') }, { ActionName: 'PutObject' }],
          },
          { ServiceName: 'S3 Object Lambda', ServiceNamespace: 's3-object-lambda' },
        ],
      })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json', '--suggest'], { cwd: dir, awsFactory, clock: fastClock() })
    expect(run.code).toBe(3)
    const report = run.json<AuditReport>()

    expect(iamMock).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 2)
    expect(iamMock).toHaveReceivedNthCommandWith(GetAccountAuthorizationDetailsCommand, 1, { Filter: ['Role', 'LocalManagedPolicy'], MaxItems: 1000 })
    expect(iamMock).toHaveReceivedNthCommandWith(GetAccountAuthorizationDetailsCommand, 2, { Marker: 'm1' })
    // Only the role without RoleLastUsed needed GetRole.
    expect(iamMock).toHaveReceivedCommandTimes(GetRoleCommand, 1)
    expect(iamMock).toHaveReceivedCommandWith(GetRoleCommand, { RoleName: 'dogs-lambda' })
    expect(report.findings.find((f) => f.role?.name === 'dogs-lambda' && f.ruleId === 'unused-role')).toMatchObject({
      severity: 'medium',
      message: 'Last used 200 days ago (2026-05-06 in eu-west-1), more than 90 days.',
    })

    expect(iamMock).toHaveReceivedCommandWith(GetPolicyVersionCommand, { PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess', VersionId: 'v2' })
    expect(report.findings.find((f) => f.role?.name === 'dogs-extra' && f.ruleId === 'aws-managed-full-access')).toMatchObject({
      severity: 'high',
      message: expect.stringContaining('it allows 206 actions (s3:*, s3-object-lambda:*)'),
    })

    // --suggest: dogs-extra has findings and no known purpose: its last-accessed job is polled to completion.
    expect(iamMock).toHaveReceivedCommandWith(GenerateServiceLastAccessedDetailsCommand, {
      Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-extra`,
      Granularity: 'ACTION_LEVEL',
    })
    expect(iamMock).toHaveReceivedCommandTimes(GetServiceLastAccessedDetailsCommand, 2)
    expect(report.suggestions?.find((s) => s.role === 'dogs-extra')).toMatchObject({
      basis: 'last-accessed',
      policy: { Statement: [{ Action: ['s3:GetObject'], Resource: '*' }] },
      detach: ['arn:aws:iam::aws:policy/AmazonS3FullAccess'],
    })
    expect(report.suggestions?.find((s) => s.role === 'dogs-lambda')).toMatchObject({
      basis: 'mlops-purpose',
      purpose: 'lambda',
      notes: expect.arrayContaining([expect.stringContaining('it only invokes dogs-endpoint and writes its own logs')]),
    })
    expect(run.stderr).toContain('Reading last-accessed data for dogs-extra')
  })

  it('AccessDenied on GetAccountAuthorizationDetails explains which permission is missing (exit 1)', async () => {
    iamMock.on(GetAccountAuthorizationDetailsCommand).rejects(
      Object.assign(new Error('User: arn:aws:iam::123456789012:user/ci is not authorized to perform: iam:GetAccountAuthorizationDetails'), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403, requestId: 'req-1' },
      }),
    )
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json'], { cwd: dir, awsFactory })
    expect(run.code).toBe(1)
    expect(run.json()).toMatchObject({ error: { code: 'AccessDenied', requestId: 'req-1' } })
    expect(run.stderr).toContain('AWS denied iam:GetAccountAuthorizationDetails')
  })

  it('Ctrl-C while paginating stops cleanly (exit 130)', async () => {
    const ctrl = new AbortController()
    iamMock.on(GetAccountAuthorizationDetailsCommand).callsFake(async () => {
      ctrl.abort()
      return { RoleDetailList: [], IsTruncated: true, Marker: 'm' }
    })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam'], { cwd: dir, awsFactory, signal: ctrl.signal })
    expect(run.code).toBe(130)
    expect(iamMock).toHaveReceivedCommandTimes(GetAccountAuthorizationDetailsCommand, 1)
    expect(run.stderr).toContain('Interrupted while reading IAM; nothing was changed.')
  })
})

describe('audit-iam --suggest: last-accessed data of more than one page', () => {
  it('follows Marker through every page, so a service used on page 2 is kept in the suggestion', async () => {
    iamMock.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [
        {
          RoleName: 'dogs-extra',
          Arn: `arn:aws:iam::${ACCOUNT}:role/dogs-extra`,
          Path: '/',
          RoleId: 'B',
          CreateDate: new Date('2026-11-01T00:00:00Z'),
          AssumeRolePolicyDocument: trust('sagemaker.amazonaws.com'),
          AttachedManagedPolicies: [{ PolicyName: 'AmazonS3FullAccess', PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess' }],
          RoleLastUsed: { LastUsedDate: new Date('2026-11-20T00:00:00Z'), Region: 'us-east-1' },
          Tags: tags,
        },
      ],
      IsTruncated: false,
    })
    iamMock.on(GetPolicyCommand).resolves({ Policy: { Arn: 'arn:aws:iam::aws:policy/AmazonS3FullAccess', DefaultVersionId: 'v2' } })
    iamMock
      .on(GetPolicyVersionCommand)
      .resolves({ PolicyVersion: { VersionId: 'v2', IsDefaultVersion: true, Document: enc(managedDoc('AmazonS3FullAccess')) } })
    iamMock.on(GenerateServiceLastAccessedDetailsCommand).resolves({ JobId: 'job-1' })
    // Page 1: 100 services nobody used; page 2: S3, used.
    const unused = Array.from({ length: 100 }, (_, i) => ({ ServiceName: `Service ${i}`, ServiceNamespace: `svc${i}` }))
    // The more specific answer is set last: aws-sdk-client-mock uses the last matching one.
    iamMock
      .on(GetServiceLastAccessedDetailsCommand, { JobId: 'job-1' })
      .resolves({ JobStatus: 'COMPLETED', JobCreationDate: new Date(), ServicesLastAccessed: unused, IsTruncated: true, Marker: 'p2' })
    iamMock.on(GetServiceLastAccessedDetailsCommand, { JobId: 'job-1', Marker: 'p2' }).resolves({
      JobStatus: 'COMPLETED',
      JobCreationDate: new Date(),
      ServicesLastAccessed: [
        {
          ServiceName: 'Amazon S3',
          ServiceNamespace: 's3',
          LastAuthenticated: new Date('2026-11-19T00:00:00Z'),
          TrackedActionsLastAccessed: [{ ActionName: 'GetObject', LastAccessedTime: new Date('2026-11-19T00:00:00Z') }],
        },
      ],
      IsTruncated: false,
    })
    const dir = await tempProject(minimalConfig())
    const run = await runMlops(['audit-iam', '--json', '--suggest'], { cwd: dir, awsFactory, clock: fastClock() })
    expect(run.code, run.stderr).toBe(3)
    expect(iamMock).toHaveReceivedCommandTimes(GetServiceLastAccessedDetailsCommand, 2)
    expect(iamMock).toHaveReceivedNthCommandWith(GetServiceLastAccessedDetailsCommand, 2, { JobId: 'job-1', Marker: 'p2' })
    expect(run.json<AuditReport>().suggestions?.find((s) => s.role === 'dogs-extra')).toMatchObject({
      basis: 'last-accessed',
      policy: { Statement: [{ Action: ['s3:GetObject'], Resource: '*' }] },
    })
  })
})
