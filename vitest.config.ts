import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chromium and the NAT lab run in scripts of their own: `npm run test:browser`, `npm run test:nat`.
    exclude: ['test/browser/**', 'test/nat/**', 'test/cluster/**', 'node_modules/**'],
    globalSetup: ['test/support/build.ts'],
    // The wrtc binding can crash a worker thread at teardown; separate processes contain it.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
