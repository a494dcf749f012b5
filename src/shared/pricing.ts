/**
 * On-demand list prices in USD per hour, us-east-1, as published in 2026. Prices vary by region and
 * change over time, so every estimate mlops prints says so. Unknown types give `undefined`, and the
 * caller says "price unknown" rather than inventing a number.
 */
export const PRICE_NOTE = 'Estimate from us-east-1 on-demand list prices; other regions and spot differ.'

/** SageMaker training and hosting (ml.*). */
const SAGEMAKER_HOURLY: Record<string, number> = {
  'ml.t2.medium': 0.056,
  'ml.t3.medium': 0.05,
  'ml.m4.xlarge': 0.24,
  'ml.m5.large': 0.115,
  'ml.m5.xlarge': 0.23,
  'ml.m5.2xlarge': 0.461,
  'ml.m5.4xlarge': 0.922,
  'ml.m5.12xlarge': 2.765,
  'ml.c5.large': 0.102,
  'ml.c5.xlarge': 0.204,
  'ml.c5.2xlarge': 0.408,
  'ml.c5.4xlarge': 0.816,
  'ml.c5.9xlarge': 1.836,
  'ml.g4dn.xlarge': 0.736,
  'ml.g4dn.2xlarge': 0.94,
  'ml.g4dn.4xlarge': 1.505,
  'ml.g4dn.8xlarge': 2.72,
  'ml.g4dn.12xlarge': 4.89,
  'ml.g5.xlarge': 1.408,
  'ml.g5.2xlarge': 1.515,
  'ml.g5.4xlarge': 2.03,
  'ml.g5.12xlarge': 7.09,
  'ml.p3.2xlarge': 3.825,
  'ml.p3.8xlarge': 14.688,
  'ml.p3.16xlarge': 28.152,
  'ml.p4d.24xlarge': 37.688,
}

/** EC2 (no ml. prefix). */
const EC2_HOURLY: Record<string, number> = {
  't3.micro': 0.0104,
  't3.medium': 0.0416,
  'm5.large': 0.096,
  'm5.xlarge': 0.192,
  'c5.xlarge': 0.17,
  'g4dn.xlarge': 0.526,
  'g4dn.2xlarge': 0.752,
  'g4dn.4xlarge': 1.204,
  'g4dn.12xlarge': 3.912,
  'g5.xlarge': 1.006,
  'g5.2xlarge': 1.212,
  'g5.12xlarge': 5.672,
  'g6.xlarge': 0.805,
  'p3.2xlarge': 3.06,
  'p3.8xlarge': 12.24,
  'p4d.24xlarge': 32.773,
}

/** Lambda provisioned concurrency: USD per GB-second while configured (idle or not). */
export const LAMBDA_PROVISIONED_GB_SECOND = 0.0000041667
/** S3 Standard storage, USD per GB-month. */
export const S3_GB_MONTH = 0.023
export const HOURS_PER_MONTH = 730

export function hourlyPrice(instanceType: string): number | undefined {
  return instanceType.startsWith('ml.') ? SAGEMAKER_HOURLY[instanceType] : EC2_HOURLY[instanceType]
}

/** Cost of `count` instances for `seconds`; undefined when the type is not in the table. */
export function estimateCost(instanceType: string, count: number, seconds: number): number | undefined {
  const hourly = hourlyPrice(instanceType)
  return hourly === undefined ? undefined : (hourly * count * seconds) / 3600
}

/** Hourly cost of provisioned concurrency for a function of `memoryMb`. */
export function lambdaProvisionedHourly(memoryMb: number, executions: number): number {
  return LAMBDA_PROVISIONED_GB_SECOND * (memoryMb / 1024) * executions * 3600
}

/** "$1.23" / "price unknown". */
export function formatUsd(amount: number | undefined): string {
  if (amount === undefined) return 'price unknown'
  if (amount > 0 && amount < 0.0001) return '<$0.0001'
  return amount < 0.01 && amount > 0 ? `$${amount.toFixed(4)}` : `$${amount.toFixed(2)}`
}
