import { describe, expect, it } from 'vitest'
import { ec2QuotaNeeds, ec2Vcpus, permissionChecks, trainingQuotaNeeds } from '../../src/shared/preflight.js'

/** The pure half of the preflight: which action on which resource each planned request needs, and the quotas. */

const scope = { partition: 'aws', region: 'eu-west-1', accountId: '111122223333' }
const op = (service: string, operation: string, input: unknown) => ({ service, operation, input })

describe('permissionChecks', () => {
  it('maps operations to IAM actions and scopes resources from the inputs', () => {
    expect(
      permissionChecks(
        [
          op('sts', 'GetCallerIdentity', {}),
          op('servicequotas', 'ListServiceQuotas', { ServiceCode: 'sagemaker' }),
          op('s3', 'HeadBucket', { Bucket: 'b' }),
          op('s3', 'HeadObject', { Bucket: 'b', Key: 'k/x.tar.gz' }),
          op('s3', 'PutObject', { Bucket: 'b', Key: 'k/x.tar.gz' }),
          op('sagemaker', 'CreateEndpointConfig', { EndpointConfigName: 'Dogs-Config-1', ProductionVariants: [{ ModelName: 'm' }] }),
          op('sagemaker', 'CreateEndpoint', { EndpointName: 'dogs-endpoint', EndpointConfigName: 'dogs-config-1' }),
          op('sagemaker', 'CreateModel', { ModelName: 'm', ExecutionRoleArn: 'arn:aws:iam::<account-id>:role/dogs-sagemaker' }),
          op('sagemaker-runtime', 'InvokeEndpoint', { EndpointName: 'dogs-endpoint' }),
          op('lambda', 'Invoke', { FunctionName: 'dogs-invoke' }),
          op('logs', 'FilterLogEvents', { logGroupName: '/aws/sagemaker/TrainingJobs' }),
          op('ec2', 'TerminateInstances', { InstanceIds: ['<instance-id>'] }),
          op('s3', 'PutObject', { Bucket: 'b', Key: 'k/x.tar.gz' }),
        ],
        scope,
      ),
    ).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::b' },
      { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k/x.tar.gz' },
      { action: 's3:PutObject', resource: 'arn:aws:s3:::b/k/x.tar.gz' },
      // An upload large enough for multipart is aborted on failure: that needs its own action.
      { action: 's3:AbortMultipartUpload', resource: 'arn:aws:s3:::b/k/x.tar.gz' },
      { action: 'sagemaker:CreateEndpointConfig', resource: 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint-config/dogs-config-1' },
      { action: 'sagemaker:CreateEndpoint', resource: 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint/dogs-endpoint' },
      { action: 'sagemaker:CreateModel', resource: 'arn:aws:sagemaker:eu-west-1:111122223333:model/m' },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::111122223333:role/dogs-sagemaker' },
      { action: 'sagemaker:InvokeEndpoint', resource: 'arn:aws:sagemaker:eu-west-1:111122223333:endpoint/dogs-endpoint' },
      { action: 'lambda:InvokeFunction', resource: 'arn:aws:lambda:eu-west-1:111122223333:function:dogs-invoke' },
      { action: 'logs:FilterLogEvents', resource: 'arn:aws:logs:eu-west-1:111122223333:log-group:/aws/sagemaker/TrainingJobs:*' },
      { action: 'ec2:TerminateInstances', resource: '*' },
    ])
  })
})

describe('permissionChecks asks IAM about real action names (the table iam-policy uses too)', () => {
  it('bucket settings: the SDK operation names are not IAM actions', () => {
    const checks = permissionChecks(
      [
        op('s3', 'GetPublicAccessBlock', { Bucket: 'b' }),
        op('s3', 'PutBucketEncryption', { Bucket: 'b' }),
        op('s3', 'PutBucketLifecycleConfiguration', { Bucket: 'b' }),
      ],
      scope,
    )
    expect(checks.map((c) => c.action)).toEqual(['s3:GetBucketPublicAccessBlock', 's3:PutEncryptionConfiguration', 's3:PutLifecycleConfiguration'])
    expect(checks.map((c) => c.resource)).toEqual(['arn:aws:s3:::b', 'arn:aws:s3:::b', 'arn:aws:s3:::b'])
  })
})

describe('quota needs', () => {
  it('training: spot and on-demand quotas by name, a warm pool, tuning in parallel', () => {
    expect(trainingQuotaNeeds({ instanceType: 'ml.g5.xlarge', instanceCount: 2, spot: true }).map((q) => [q.quotaName, q.needed])).toEqual([
      ['ml.g5.xlarge for spot training job usage', 2],
    ])
    expect(
      trainingQuotaNeeds({ instanceType: 'ml.g5.xlarge', instanceCount: 2, spot: false, keepAliveSeconds: 600, parallel: 3 }).map((q) => [
        q.quotaName,
        q.needed,
      ]),
    ).toEqual([
      ['ml.g5.xlarge for training job usage', 6],
      ['ml.g5.xlarge for training warm pool usage', 6],
    ])
  })

  it('EC2: vCPUs by size, the family quota by code, none for what it does not know', () => {
    expect([ec2Vcpus('g4dn.xlarge'), ec2Vcpus('g5.12xlarge'), ec2Vcpus('m5.large'), ec2Vcpus('g5.metal')]).toEqual([4, 48, 2, undefined])
    expect(ec2QuotaNeeds('g5.2xlarge', 1, false)).toMatchObject([{ serviceCode: 'ec2', quotaCode: 'L-DB2E81BA', needed: 8 }])
    expect(ec2QuotaNeeds('g5.2xlarge', 1, true)).toMatchObject([{ quotaCode: 'L-3819A6DF', needed: 8 }])
    expect(ec2QuotaNeeds('p4d.24xlarge', 1, false)).toMatchObject([{ quotaCode: 'L-417A185B', needed: 96 }])
    expect(ec2QuotaNeeds('inf2.xlarge', 1, false)).toEqual([])
  })
})
