import { defineConfig } from 'vitest/config';

// The JSON report is read by .ci/run to print the plain "N passed, N failed" line.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default', ['json', { outputFile: '.test-results.json' }]],
  },
});
