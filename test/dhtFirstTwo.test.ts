/**
 * The first two nodes of a DHT on real WebRTC: one that joined a topic while it knew no other DHT
 * node (its announcement reached only itself) finds the second within seconds, not at its next
 * periodic lookup (`discoverEveryMs`, 30 s by default).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_NODE_DHT } from '../src/node/options.js';
import { Harness, next } from './helpers.js';

const h = new Harness();
afterEach(() => h.cleanup());

describe('the first two nodes under a topic', () => {
  it('find each other within seconds when the first joined alone', async () => {
    const server = await h.server();
    const first = await h.started(server.url, { dht: true });
    await first.join('first-two');
    expect(first.dhtInfo()!.contacts).toBe(0); // alone: the announcement is in its own store only
    // Waiting a third of the periodic lookup's interval: only the retries while alone (every
    // ALONE_RETRY_MS) can find the second node in time.
    const firstFound = next(first.discover$, () => true, DEFAULT_NODE_DHT.discoverEveryMs / 3);
    const second = await h.started(server.url, { dht: true });
    await second.join('first-two');
    expect(await firstFound).toEqual({ topic: 'first-two', id: second.nodeId });
  });
});
