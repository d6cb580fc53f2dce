import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chromium, the NAT lab, the cluster and the soak run in scripts of their own (`npm run test:browser`, …).
    exclude: ['test/browser/**', 'test/nat/**', 'test/cluster/**', 'test/soak/**', 'node_modules/**'],
    globalSetup: ['test/support/build.ts'],
    // The wrtc binding can crash a worker thread at teardown; separate processes contain it.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
