import { defineConfig } from 'vitest/config'

// Two projects: unit tests never start moto and must be quick; e2e tests each start their own
// moto server (a test that starts moto belongs in test/e2e/). Two cores means two forks.
export default defineConfig({
  test: {
    pool: 'forks',
    setupFiles: ['test/helpers/setup.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 5_000, hookTimeout: 10_000 } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 } },
    ],
  },
})
