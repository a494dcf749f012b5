/**
 * The evaluation family: `mlops evaluate`, `mlops predict` and `mlops report`. The numbers come from
 * scripts/evaluation.py (the one implementation, shared with train.py), run through the one predictor.
 */

/** One line of a child process's output, as features/local's startProcesses hands it over. */
export type LineHandler = (name: string, stream: 'stdout' | 'stderr', line: string) => void

/** How a child ended (features/local's ProcessExit). */
export interface ChildExit {
  readonly name: string
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly tail: readonly string[]
}

/** The part of features/local's process group this family uses. */
export interface ChildGroup {
  readonly exited: Promise<ChildExit[]>
  stop(graceMs?: number): Promise<ChildExit[]>
}

/** features/local's startProcesses, injected by the command (a feature never imports a sibling). */
export type StartChildren = (
  specs: readonly { name: string; command: string; args: readonly string[]; cwd: string; env: Readonly<Record<string, string | undefined>> }[],
  onLine: LineHandler,
) => ChildGroup

/** The model and the Python that runs scripts/evaluation.py locally (resolved by the command). */
export interface LocalModelRunner {
  /** A folder with model.pth, model-info.json and classes.json. */
  readonly modelDir: string
  /** What the user knows the model as (job name, path). */
  readonly modelLabel: string
  readonly python: string
  readonly start: StartChildren
}
