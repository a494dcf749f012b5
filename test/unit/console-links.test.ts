import { describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/aws/arn.js'
import {
  alarmConsoleUrl,
  endpointConsoleUrl,
  endpointLogsConsoleUrl,
  lambdaFunctionConsoleUrl,
  lambdaLogsConsoleUrl,
  trainingJobConsoleUrl,
  trainingLogsConsoleUrl,
  tuningJobConsoleUrl,
} from '../../src/aws/console-links.js'

const JOB = 'dogs-train-2026-11-22-10-00-00-000'

describe('console links per partition and region', () => {
  it.each([
    ['us-east-1', 'aws', 'https://console.aws.amazon.com'],
    ['eu-west-1', 'aws', 'https://console.aws.amazon.com'],
    ['cn-north-1', 'aws-cn', 'https://console.amazonaws.cn'],
    ['cn-northwest-1', 'aws-cn', 'https://console.amazonaws.cn'],
    ['us-gov-west-1', 'aws-us-gov', 'https://console.amazonaws-us-gov.com'],
    ['us-gov-east-1', 'aws-us-gov', 'https://console.amazonaws-us-gov.com'],
  ])('%s (%s) uses %s', (region, partition, host) => {
    expect(partitionOf(region)).toBe(partition)
    expect(trainingJobConsoleUrl(region, JOB)).toBe(`${host}/sagemaker/home?region=${region}#/jobs/${JOB}`)
    expect(tuningJobConsoleUrl(region, 'dogs-261122-1000')).toBe(`${host}/sagemaker/home?region=${region}#/hyper-tuning-jobs/dogs-261122-1000`)
    expect(endpointConsoleUrl(region, 'dogs-endpoint')).toBe(`${host}/sagemaker/home?region=${region}#/endpoints/dogs-endpoint`)
    expect(lambdaFunctionConsoleUrl(region, 'dogs-invoke')).toBe(`${host}/lambda/home?region=${region}#/functions/dogs-invoke`)
    expect(alarmConsoleUrl(region, 'dogs-endpoint-idle')).toBe(`${host}/cloudwatch/home?region=${region}#alarmsV2:alarm/dogs-endpoint-idle`)
  })

  it('a region newer than the table takes its partition from its name', () => {
    expect(trainingJobConsoleUrl('cn-south-9', 'j')).toBe('https://console.amazonaws.cn/sagemaker/home?region=cn-south-9#/jobs/j')
    expect(trainingJobConsoleUrl('us-gov-central-7', 'j')).toBe('https://console.amazonaws-us-gov.com/sagemaker/home?region=us-gov-central-7#/jobs/j')
  })

  it('log groups are encoded as the CloudWatch console writes them', () => {
    expect(trainingLogsConsoleUrl('us-east-1', JOB)).toBe(
      `https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs$3FlogStreamNameFilter$3D${JOB}$252F`,
    )
    expect(lambdaLogsConsoleUrl('cn-north-1', 'dogs-invoke')).toBe(
      'https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Fdogs-invoke',
    )
    expect(endpointLogsConsoleUrl('us-gov-west-1', 'dogs-endpoint')).toBe(
      'https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FEndpoints$252Fdogs-endpoint',
    )
  })
})
