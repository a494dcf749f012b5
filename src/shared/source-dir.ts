import type { MlopsConfig } from '../config/schema.js'
import { bundledScriptsDir } from './package-root.js'
import path from 'node:path'

/**
 * Where the training code comes from: `training.sourceDir` (relative to the project folder), or,
 * when the config leaves it out, the scripts bundled with mlops (issue 15: a project made by
 * `mlops init` trains without copying anything). `train`, `tune` and `train-ec2` use this one rule.
 */
export interface TrainingSourceDir {
  /** Absolute folder to package. */
  readonly dir: string
  /** True when the config has no training.sourceDir and the bundled scripts are used. */
  readonly bundled: boolean
  /** For plans and summaries: "scripts (training.sourceDir)" or "the scripts bundled with mlops (<dir>)". */
  readonly description: string
}

export function resolveTrainingSourceDir(cfg: Pick<MlopsConfig, 'training'>, projectDir: string): TrainingSourceDir {
  const configured = cfg.training.sourceDir
  if (configured === undefined) {
    const dir = bundledScriptsDir()
    return { dir, bundled: true, description: `the scripts bundled with mlops (${dir}); set training.sourceDir to use your own` }
  }
  return { dir: path.resolve(projectDir, configured), bundled: false, description: `${configured} (training.sourceDir)` }
}
