import { spawnSync } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import path from 'node:path'
import { UserError } from '../../shared/errors.js'

/**
 * Which Python runs training and serving locally: `--python`, else `MLOPS_PYTHON`, else the first
 * `python3` / `python` on PATH that imports torch and torchvision (issue 16). A pyenv or venv
 * Python first on PATH often lacks torch, so PATH entries are probed, not trusted.
 */

export interface LocalPython {
  /** Absolute path (or the flag's value as given). */
  readonly path: string
  /** Where the choice came from. */
  readonly source: 'flag' | 'MLOPS_PYTHON' | 'PATH'
  /** CUDA devices torch sees (0 on CPU). */
  readonly cudaDevices: number
}

/** Runs a Python and reports whether torch and torchvision import, and the CUDA device count. */
export type PythonProbe = (python: string) => { readonly ok: boolean; readonly cudaDevices: number; readonly error?: string }

const PROBE_SCRIPT = 'import torch, torchvision, sys; sys.stdout.write(str(torch.cuda.device_count()))'
/** Importing torch takes a few seconds on a busy machine; a Python that needs more is broken. */
const PROBE_TIMEOUT_MS = 60_000

/** The real probe: `python -c 'import torch, torchvision'`. */
export const probePython: PythonProbe = (python) => {
  const r = spawnSync(python, ['-c', PROBE_SCRIPT], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS })
  if (r.error) return { ok: false, cudaDevices: 0, error: r.error.message }
  if (r.status !== 0) return { ok: false, cudaDevices: 0, error: (r.stderr || '').trim().split('\n').at(-1) ?? `exit ${r.status}` }
  return { ok: true, cudaDevices: Number.parseInt(r.stdout.trim(), 10) || 0 }
}

function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const INSTALL_HINT =
  'Install PyTorch and torchvision for a Python 3 (`pip install torch torchvision`, or Debian/Ubuntu `apt install python3-torch python3-torchvision`), then pass it with --python /path/to/python3 or set MLOPS_PYTHON.'

/** Finds the Python to use; UserError (exit 2) when the chosen one lacks torch or none on PATH has it. */
export function findPython(
  opts: { readonly flag?: string; readonly env: Readonly<Record<string, string | undefined>> },
  probe: PythonProbe = probePython,
): LocalPython {
  const explicit = opts.flag !== undefined ? { value: opts.flag, source: 'flag' as const, name: '--python' } : undefined
  const fromEnv = opts.env.MLOPS_PYTHON ? { value: opts.env.MLOPS_PYTHON, source: 'MLOPS_PYTHON' as const, name: 'MLOPS_PYTHON' } : undefined
  const chosen = explicit ?? fromEnv
  if (chosen) {
    const result = probe(chosen.value)
    if (!result.ok) {
      throw new UserError('PythonWithoutTorch', `${chosen.name} ${chosen.value} cannot import torch and torchvision (${result.error ?? 'failed'}).`, {
        hint: INSTALL_HINT,
      })
    }
    return { path: chosen.value, source: chosen.source, cudaDevices: result.cudaDevices }
  }
  const tried: string[] = []
  for (const dir of (opts.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of ['python3', 'python']) {
      const file = path.join(dir, name)
      if (!isExecutable(file)) continue
      tried.push(file)
      const result = probe(file)
      if (result.ok) return { path: file, source: 'PATH', cudaDevices: result.cudaDevices }
    }
  }
  throw new UserError(
    'NoTorchPython',
    tried.length
      ? `No Python on PATH imports torch and torchvision (tried ${tried.join(', ')}).`
      : 'No python3 or python on PATH; local mode needs a Python with torch and torchvision.',
    { hint: INSTALL_HINT },
  )
}
