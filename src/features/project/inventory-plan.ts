import type { MlopsConfig } from '../../config/schema.js'
import { idleStopNames } from '../../shared/idle-stop-spec.js'
import { resourceNames, TAG_PROJECT } from '../../shared/naming.js'
import type { PlannedOperation } from '../../shared/plan.js'
import type { StateRecord } from '../../shared/state.js'
import { SERVICE_NAMESPACE, scalingResourceId } from '../../aws/autoscaling/scaling.js'
import { candidateNames, LIVE_INSTANCE_STATES, tuningBases } from './inventory.js'
import { ownedPrefixes } from './owned-data.js'
import { planNotifyReads } from './notify-inventory.js'

/**
 * The reads of `collectInventory`, in its order, for the plans of `status` and `teardown` (which
 * looks everything up before and after it deletes). The names looked up one by one are the same
 * candidates; what is found by listing appears once with a placeholder for each item found.
 */
export function planInventory(cfg: MlopsConfig, records: readonly StateRecord[], region: string): PlannedOperation[] {
  const n = resourceNames(cfg)
  const candidates = candidateNames(n, records, cfg.project.name)
  const tag = { Name: `tag:${TAG_PROJECT}`, Values: [cfg.project.name] }
  const listTags: PlannedOperation = {
    service: 'sagemaker',
    operation: 'ListTags',
    input: { ResourceArn: '<each job, endpoint, config or model found>' },
    note: 'ours only when tagged for this project',
  }
  return [
    { service: 'sagemaker', operation: 'ListTrainingJobs', input: { StatusEquals: 'InProgress', NameContains: cfg.project.name, MaxResults: 100 } },
    { service: 'sagemaker', operation: 'DescribeTrainingJob', input: { TrainingJobName: '<each running training job>' } },
    listTags,
    ...tuningBases(n, cfg.project.name).map((NameContains) => ({
      service: 'sagemaker',
      operation: 'ListHyperParameterTuningJobs',
      input: { StatusEquals: 'InProgress', NameContains, MaxResults: 100 },
    })),
    ...candidates.endpoints.flatMap((EndpointName) => [
      { service: 'sagemaker', operation: 'DescribeEndpoint', input: { EndpointName } },
      { service: 'sagemaker', operation: 'DescribeEndpointConfig', input: { EndpointConfigName: '<config the endpoint serves>' }, note: 'when it exists' },
    ]),
    { service: 'sagemaker', operation: 'ListEndpointConfigs', input: { NameContains: n.endpointConfigBase, MaxResults: 100 } },
    { service: 'sagemaker', operation: 'ListModels', input: { NameContains: n.modelBase, MaxResults: 100 } },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalableTargets',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceIds: candidates.endpoints.map((e) => scalingResourceId(e)) },
    },
    {
      service: 'application-autoscaling',
      operation: 'DescribeScalingPolicies',
      input: { ServiceNamespace: SERVICE_NAMESPACE, ResourceId: '<each registered target>' },
    },
    ...candidates.functions.flatMap((FunctionName) => [
      { service: 'lambda', operation: 'GetFunction', input: { FunctionName } },
      { service: 'lambda', operation: 'GetProvisionedConcurrencyConfig', input: { FunctionName, Qualifier: n.lambdaAlias }, note: 'when it exists' },
      { service: 'lambda', operation: 'GetFunctionUrlConfig', input: { FunctionName, Qualifier: n.lambdaAlias }, note: 'when it exists' },
    ]),
    ...candidates.roles.flatMap((RoleName) => [
      { service: 'iam', operation: 'GetRole', input: { RoleName } },
      { service: 'iam', operation: 'ListInstanceProfilesForRole', input: { RoleName }, note: 'when it is ours' },
    ]),
    ...candidates.instanceProfiles.map((InstanceProfileName) => ({ service: 'iam', operation: 'GetInstanceProfile', input: { InstanceProfileName } })),
    { service: 'ec2', operation: 'DescribeInstances', input: { Filters: [tag, { Name: 'instance-state-name', Values: LIVE_INSTANCE_STATES }] } },
    { service: 'ec2', operation: 'DescribeSecurityGroups', input: { Filters: [tag] } },
    ...ownedPrefixes(cfg).listed.map((Prefix) => ({ service: 's3', operation: 'ListObjectsV2', input: { Bucket: cfg.data.bucket, Prefix } })),
    { service: 's3', operation: 'GetBucketTagging', input: { Bucket: cfg.data.bucket }, note: 'when the bucket exists' },
    ...candidates.endpoints.flatMap((endpoint) => {
      const idle = idleStopNames(endpoint)
      return [
        {
          service: 'cloudwatch',
          operation: 'DescribeAlarms',
          input: { AlarmNames: [idle.alarm], AlarmTypes: ['MetricAlarm'] },
          note: 'when the reaper exists',
        },
        { service: 'sns', operation: 'ListTopics', input: {}, note: `only when the alarm does not name its topic ${idle.topic}` },
      ]
    }),
    ...planNotifyReads(cfg.project.name, region),
  ]
}
