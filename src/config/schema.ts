import { z } from 'zod'
import { AuditSchema } from './sections/audit.js'
import { AwsSchema } from './sections/aws.js'
import { DataSchema } from './sections/data.js'
import { Ec2Schema } from './sections/ec2.js'
import { EndpointSchema } from './sections/endpoint.js'
import { LambdaSchema } from './sections/lambda.js'
import { NotifySchema } from './sections/notify.js'
import { ProjectSchema } from './sections/project.js'
import { TrainingSchema } from './sections/training.js'

/**
 * The single source of truth for `mlops.config.yaml`. Each section lives in `sections/` beside the
 * command that owns it. `prefault({})` makes an omitted section take its inner defaults.
 */
export const MlopsConfigSchema = z.strictObject({
  project: ProjectSchema,
  aws: AwsSchema.prefault({}),
  data: DataSchema,
  training: TrainingSchema.prefault({}),
  ec2: Ec2Schema.prefault({}),
  endpoint: EndpointSchema.prefault({}),
  lambda: LambdaSchema.prefault({}),
  audit: AuditSchema.prefault({}),
  notify: NotifySchema,
})

/** The validated config, with every default filled in. */
export type MlopsConfig = z.output<typeof MlopsConfigSchema>
