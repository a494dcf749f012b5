import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// Three tiers, by what a test touches (test/unit/tiers.test.ts checks the rules):
// - unit: in-process only. No child process, no moto, no waiting on the real clock (5 s per test).
// - integration: real processes (python, sh, esbuild, depcruise, the CLI itself) or the real clock; no moto.
// - e2e: against moto (test/helpers/moto.ts: one server per worker, reset for each file), in-process
//   or as the packed and installed CLI.
// Workers: vitest 4 runs os.availableParallelism() - 1 forks in a run by default, so 1 on a 2-core
// machine, each test file in a fresh process. Two are faster here: much of a file's time is its
// process start, imports and waits on moto or Python, which a second worker overlaps (measured on the
// unit tests, alternating 1 and 2 workers on a shared 2-core machine: 255 s vs 105 s, 181 s vs 43 s).
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: Math.max(2, availableParallelism() - 1),
    setupFiles: ['test/helpers/setup.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 5_000, hookTimeout: 10_000 } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // One moto server per worker, reset at the start of each file (test/helpers/moto.ts).
          globalSetup: ['test/helpers/moto-workers.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
