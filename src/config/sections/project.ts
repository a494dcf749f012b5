import { z } from 'zod'

/** `project`: the name every resource mlops creates derives from. */
export const ProjectSchema = z.strictObject({
  /** Lower-case letters, digits and hyphens; 2-32 chars, so derived names stay within AWS limits. */
  name: z
    .string({ error: 'expected the project name, for example dog-breeds' })
    .regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, 'expected 2-32 lower-case letters, digits or hyphens, starting with a letter (for example dog-breeds)'),
})
