import { spawn, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { freePort } from '../../tools/dev/moto-server.js'

/**
 * globalSetup of the e2e project: one moto server per vitest worker, shared by the e2e files that
 * worker runs one after another (test/helpers/moto.ts resets it at the start of each file). moto
 * takes seconds to start, and there are 16 e2e files; the servers start here without waiting, so
 * their start-up overlaps the first tests, and each file waits for its own server to answer.
 * MLOPS_MOTO_PER_FILE=1 goes back to one server per file.
 */
const LAUNCHER = path.resolve(import.meta.dirname, '../../emulator/moto_server.py')

declare module 'vitest' {
  export interface ProvidedContext {
    /** moto endpoints by VITEST_POOL_ID - 1; empty when each file starts its own. */
    motoEndpoints: string[]
  }
}

/** vitest 4's own default: os.availableParallelism() - 1 workers in a run (at least 1). */
function workerCount(project: TestProject): number {
  const configured = project.config.maxWorkers || project.globalConfig.maxWorkers
  return typeof configured === 'number' && configured > 0 ? configured : Math.max(os.availableParallelism() - 1, 1)
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.MLOPS_MOTO_PER_FILE === '1') {
    project.provide('motoEndpoints', [])
    return async () => undefined
  }
  const children: ChildProcess[] = []
  const endpoints: string[] = []
  const ports = new Set<number>()
  while (ports.size < workerCount(project)) ports.add(await freePort())
  for (const port of ports) {
    const child = spawn(process.env.MOTO_PYTHON ?? 'python3', [LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'ignore'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    })
    children.push(child)
    endpoints.push(`http://127.0.0.1:${port}`)
  }
  project.provide('motoEndpoints', endpoints)
  return async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            const kill = setTimeout(() => child.kill('SIGKILL'), 3000)
            child.once('exit', () => (clearTimeout(kill), resolve()))
            child.kill('SIGTERM')
          }),
      ),
    )
  }
}
