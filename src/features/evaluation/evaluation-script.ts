import path from 'node:path'
import { InterruptedError, OperationError, UserError } from '../../shared/errors.js'
import { bundledScriptsDir } from '../../shared/package-root.js'
import type { LocalModelRunner } from './types.js'

/** The one evaluation and prediction code (train.py imports the same module). */
export const EVALUATION_SCRIPT = 'evaluation.py'

const PROGRESS = /^progress done=(\d+) total=(\d+)$/

export interface ScriptRun {
  readonly args: readonly string[]
  /** Each stdout line (predict: one JSON row per image). */
  readonly onStdout?: (line: string) => void
  readonly onProgress?: (done: number, total: number) => void
  /** Diagnostics (stderr lines that are not progress). */
  readonly onLog?: (line: string) => void
  readonly env: Readonly<Record<string, string | undefined>>
  readonly signal: AbortSignal
}

/**
 * Runs `python scripts/evaluation.py <args>` with the runner's model, streams its output, and
 * stops it on Ctrl-C (InterruptedError once it has exited, so nothing is left running).
 */
export async function runEvaluationScript(runner: LocalModelRunner, run: ScriptRun): Promise<void> {
  const scripts = bundledScriptsDir()
  const group = runner.start(
    [
      {
        name: 'evaluation',
        command: runner.python,
        args: [path.join(scripts, EVALUATION_SCRIPT), ...run.args],
        cwd: scripts,
        env: { ...run.env, PYTHONUNBUFFERED: '1' },
      },
    ],
    (_name, stream, line) => {
      if (stream === 'stdout') return run.onStdout?.(line)
      const m = PROGRESS.exec(line)
      if (m) run.onProgress?.(Number(m[1]), Number(m[2]))
      else run.onLog?.(line)
    },
  )
  let onAbort: (() => void) | undefined
  const aborted = new Promise<'aborted'>((resolve) => {
    onAbort = () => resolve('aborted')
    if (run.signal.aborted) onAbort()
    else run.signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    const first = await Promise.race([aborted, group.exited])
    if (first === 'aborted') {
      await group.stop()
      throw new InterruptedError()
    }
    const [exit] = first
    if (exit.code === 0) return
    const errorLine = [...exit.tail].reverse().find((l) => l.startsWith('error: '))
    if (exit.code === 2 && errorLine)
      throw new UserError('EvaluationInputRefused', errorLine.slice('error: '.length), { hint: 'Check --model and the image folder.' })
    throw new OperationError(
      'EvaluationFailed',
      `${EVALUATION_SCRIPT} ${exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`}: ${errorLine ?? exit.tail.at(-1) ?? ''}`,
      {
        hint: 'Its last lines are above with --debug; check that --python has torch and torchvision.',
        details: { tail: exit.tail },
      },
    )
  } finally {
    if (onAbort) run.signal.removeEventListener('abort', onAbort)
  }
}

/** `12 s left` from the rate so far (nothing until the first item is done). */
export function etaText(done: number, total: number, elapsedMs: number): string {
  if (done <= 0 || total <= done) return ''
  const seconds = Math.round(((total - done) * elapsedMs) / done / 1000)
  return seconds >= 90 ? `${Math.round(seconds / 60)} min left` : `${seconds} s left`
}
