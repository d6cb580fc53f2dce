import { defineConfig } from 'vitest/config';

/** `npm run test:cluster`: signaling servers joined through a real redis-server (scripts/install-redis.sh). */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/support/build.ts'], // the servers run as dist/cli.js processes
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
