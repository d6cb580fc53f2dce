import { defineConfig } from 'vitest/config';

/**
 * `npm run test:soak`: 1,000 connect → send → disconnect cycles, and file descriptors under churn, on
 * real WebRTC (a few minutes), one file at a time, so that each measures its own descriptors.
 */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 60_000,
  },
});
