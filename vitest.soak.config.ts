import { defineConfig } from 'vitest/config';

/** `npm run test:soak`: 1,000 connect → send → disconnect cycles on real WebRTC (a few minutes). */
export default defineConfig({
  test: {
    include: ['test/soak/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 15 * 60_000,
    hookTimeout: 60_000,
  },
});
