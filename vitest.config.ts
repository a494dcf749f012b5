import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/setup.ts'],
    // e2e tests each start their own moto server; two cores means two forks is the sweet spot.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
