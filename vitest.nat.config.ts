import { defineConfig } from 'vitest/config';

/** `npm run test:nat`: the NAT traversal lab (root only; scripts/install-nat-deps.sh installs its tools). */
export default defineConfig({
  test: {
    include: ['test/nat/**/*.test.ts'],
    globalSetup: ['test/support/build.ts'], // the signaling server and CLI scenarios run dist/cli.js
    // The wrtc binding can crash a worker thread at teardown; separate processes contain it.
    pool: 'forks',
    // One lab at a time: the namespace names are fixed (NatLab.start also waits on a lock).
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
