/**
 * A signaling server that also serves the folder given as its argument (the `webApp` option), for a
 * test to run inside its network namespace: `ip netns exec NS node --import tsx servePage.ts DIR`.
 * Prints `serving: URL`, and stops when its stdin closes.
 */
import { createSignalingServer } from '../../src/index.js';

const server = await createSignalingServer({ webApp: process.argv[2]! });
console.log(`serving: ${server.url}`);
process.stdin.resume().on('end', () => void server.close());
