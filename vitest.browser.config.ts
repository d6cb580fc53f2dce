import { defineConfig } from 'vitest/config';

/** `npm run test:browser`: the inspector page and the web app in Debian's Chromium (scripts/install-chromium.sh). */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/support/build.ts'],
    pool: 'forks',
    testTimeout: 90_000,
    hookTimeout: 60_000,
  },
});
