import type { CommandContext } from '../../context.js'
import { startProcesses } from './processes.js'
import { findPython } from './python.js'
import { resolveLocalModel } from './serve.js'

/**
 * A model folder, the Python to run it with and the way to start that Python: what `mlops evaluate`
 * and `mlops predict` hand to the evaluation family (which never imports a sibling feature), resolved
 * exactly as `mlops serve` resolves them.
 */
export interface ModelRunner {
  readonly modelDir: string
  readonly modelLabel: string
  readonly python: string
  readonly start: typeof startProcesses
}

/** `--model` (default: the newest trained model) and `--python` (default: MLOPS_PYTHON, else PATH). */
export async function localModelRunner(ctx: CommandContext, flags: { readonly model?: string; readonly python?: string }): Promise<ModelRunner> {
  if (ctx.dryRun) {
    return {
      modelDir: flags.model ?? '<latest trained model>',
      modelLabel: flags.model ?? 'latest',
      python: flags.python ?? ctx.deps.env.MLOPS_PYTHON ?? 'python3',
      start: startProcesses,
    }
  }
  const model = await resolveLocalModel(ctx, flags.model)
  const python = findPython({ flag: flags.python, env: ctx.deps.env }).path
  return { modelDir: model.modelDir, modelLabel: model.label, python, start: startProcesses }
}
