import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Chromium runs in its own script, `npm run test:browser` (vitest.browser.config.ts).
    exclude: ['test/browser/**', 'node_modules/**'],
    globalSetup: ['test/support/build.ts'],
    // The wrtc binding can crash a worker thread at teardown; separate processes contain it.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
