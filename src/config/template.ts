/**
 * The commented config `mlops init` writes (and the repository's example mlops.config.yaml).
 * Every key here is validated by `schema.ts`; a test parses this template to keep them in step.
 */
/**
 * The commented config. `bundledScripts`: training.sourceDir is left commented out, so training uses the
 * scripts bundled with mlops (init --no-scripts copies none into ./scripts/, and a sourceDir naming a
 * folder that does not exist would fail the first train).
 */
export function configTemplate(opts: { project: string; bucket: string; region: string; bundledScripts?: boolean }): string {
  return `# mlops.config.yaml: one file for the whole pipeline. Docs: README.md, "Config reference".
# Precedence: command-line flags > environment (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL) > this file.

project:
  # Every resource name derives from this (endpoint ${opts.project}-endpoint, role ${opts.project}-lambda, ...)
  # and every resource is tagged mlops:project=${opts.project}, mlops:managed-by=mlops.
  name: ${opts.project}

aws:
  region: ${opts.region}
  # profile: my-sso-profile         # a named profile; unset = the SDK's default credential chain
  # endpointUrl: http://127.0.0.1:5000   # send every call to a local emulator (moto)

data:
  localDir: ./dogImages             # train/ valid/ test/, one folder per class (001.Affenpinscher, ...)
  bucket: ${opts.bucket}            # created private, encrypted and TLS-only if missing
  prefix: dogImages
  concurrency: 32                   # parallel uploads
  # kmsKeyId: alias/my-key          # SSE-KMS instead of SSE-S3

training:
  # roleArn: arn:aws:iam::123456789012:role/my-sagemaker-role   # unset: mlops creates a least-privilege role
  instanceType: ml.g4dn.xlarge
  instanceCount: 1                  # > 1 runs genuinely data-parallel training
  maxRuntime: 2h
  spot: false                       # managed spot training; resumes from checkpoints
  # frameworkVersion: "2.13.0"     # unset: the newest maintained SageMaker PyTorch image (older lines warn past end of patch)
  ${opts.bundledScripts ? '# sourceDir: scripts               # unset: the scripts bundled with mlops (mlops init copies them here)' : 'sourceDir: scripts'}
  entryPoint: train.py
  distribution: auto                # auto | torch_distributed | native | none
  hyperparameters:
    arch: resnet50
    epochs: 10
    batch-size: 64
    lr: 0.001
    freeze-backbone: false
  # debugger:
  #   rules: [VanishingGradient, Overfit, Overtraining, PoorWeightInitialization, LossNotDecreasing]
  #   profilerReport: true
  tuning:
    objective:
      metric: val_accuracy          # direction follows the metric: accuracies are maximised, losses minimised
    strategy: Bayesian
    maxJobs: 4
    maxParallelJobs: 2
    ranges:
      lr: { type: continuous, min: 0.0001, max: 0.1, scaling: Logarithmic }
      batch-size: { type: categorical, values: [32, 64, 128] }
    # hyperband: { minResource: 1 }   # with strategy: Hyperband (maxResource defaults to epochs)
  # image: <account>.dkr.ecr.<region>.amazonaws.com/pytorch:2.13.0-cu133-amzn2023-sagemaker   # override the DLC

ec2:
  instanceType: g4dn.xlarge
  # amiParameter: /aws/service/deeplearning/ami/x86_64/oss-nvidia-driver-gpu-pytorch-2.11-ubuntu-24.04/latest/ami-id
  volumeSizeGb: 100
  maxHours: 4                       # dead-man switch: the box terminates itself after this
  timeout: 3h                       # longest the training command may run (at most 48h)
  launchTimeout: 10m                # wait for the instance to be running
  agentTimeout: 10m                 # wait for the SSM agent to come online
  spot: false
  # subnetId: subnet-0abc1234       # unset: the default VPC

endpoint:
  # name: ${opts.project}-endpoint
  instanceType: ml.m5.large
  instanceCount: 1
  # image: <account>.dkr.ecr.<region>.amazonaws.com/ray:serve-ml-sagemaker-cpu-v1   # unset: the Ray Serve image (CPU or CUDA by type)
  keepVersions: 2                   # old configs and models kept for rollback
  waitTimeout: 30m
  entryPoint: deployment.py         # the Ray Serve predictor in training.sourceDir, shipped at the model root
  replicas: 1                       # Ray Serve replicas per instance (one GPU each on a GPU instance)
  batching:                         # dynamic batching (@serve.batch); mlops serve uses the same values
    maxBatchSize: 8                 # most requests one forward pass answers
    batchWaitTimeoutMs: 10          # how long a batch waits to fill after its first request
  # smokeTestImage: ./sample.jpg    # unset: the sample bundled with mlops
  # autoRollbackAlarms: [my-5xx-alarm]   # roll an update back when these alarm
  # bakeTime: 5m                    # how long SageMaker watches those alarms
  autoscaling:
    minCapacity: 1
    maxCapacity: 4
    targetInvocationsPerInstance: 70   # per instance per MINUTE (AWS: max RPS x 0.5 x 60)
    scaleInCooldown: 300
    scaleOutCooldown: 60

lambda:
  # functionName: ${opts.project}-invoke
  memoryMb: 256
  timeoutSeconds: 30
  topK: 3
  architecture: arm64               # Graviton: about 20% cheaper than x86_64
  logRetentionDays: 30
  # reservedConcurrency: 10
  # provisionedConcurrency: 1       # costs money while idle
  # url: { enabled: true, public: false }

audit:
  failOn: high                      # exit 3 at or above: critical | high | medium | low | none
  unusedDays: 90
  # exclusions: audit-exclusions.yaml   # role/policy globs, rule ids, single findings to suppress
  # knownAccounts: ["111122223333"]     # accounts trusted without a trust-cross-account finding
`
}
