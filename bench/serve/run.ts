/**
 * `npm run bench:serve [-- --scale 1] [--images 6] [--label after]`: the local model server (scripts/serve.py,
 * as `mlops serve` starts it) against a seed-style handler (one request, one forward pass), same machine, same
 * weights, one run; images/s per core and p50/p99 side by side at concurrency 1, 4 and 8 (issue 30 item 1).
 * The work is in bench.py; this finds the Python with torch the way `mlops serve` does (MLOPS_PYTHON, else
 * the first python3 on PATH that imports torch) and runs it.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { findPython } from '../../src/features/local/python.js'

const python = findPython({ env: process.env }).path
const r = spawnSync(python, [path.join(import.meta.dirname, 'bench.py'), ...process.argv.slice(2)], { stdio: 'inherit' })
process.exitCode = r.status ?? 1
