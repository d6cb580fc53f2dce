import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { DataMessage, P2PNode } from '../src/index.js';
import { Harness } from './helpers.js';

const TOTAL = 100_000_000;

/** Deterministic sizes from 1 B to 8 MiB, skewed towards small ones, that add up to `total`. */
function sizes(total: number, seed = 42): number[] {
  let state = seed;
  const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const out: number[] = [];
  for (let sum = 0; sum < total; ) {
    const size = Math.min(total - sum, Math.max(1, Math.floor(2 ** (rand() * 23))));
    out.push(size);
    sum += size;
  }
  return out;
}

/** A message of `size` bytes: every fourth one a string (with multi-byte characters), the rest binary. */
function message(i: number, size: number): string | Uint8Array {
  if (i % 4 !== 0) return randomBytes(size);
  const text = randomBytes(size).toString('base64').slice(0, size);
  return size >= 3 ? `é${text.slice(2)}` : text; // é is 2 bytes in UTF-8: still `size` bytes
}

const digest = (data: string | Uint8Array) => `${typeof data}:${createHash('sha256').update(data).digest('hex')}`;

/** Sends `count` messages from `from` to `to`, hashing as it goes; resolves with the hashes in order. */
async function pump(from: P2PNode, to: P2PNode, plan: number[]): Promise<string[]> {
  const hashes: string[] = [];
  for (const [i, size] of plan.entries()) {
    const data = message(i, size);
    hashes.push(digest(data));
    await from.send(to.nodeId, data);
  }
  return hashes;
}

function receive(node: P2PNode, from: string, count: number): Promise<string[]> {
  return new Promise((resolve) => {
    const hashes: string[] = [];
    const sub = node.data$.subscribe(({ from: sender, data }: DataMessage) => {
      if (sender !== from) return;
      hashes.push(digest(data));
      if (hashes.length === count) {
        sub.unsubscribe();
        resolve(hashes);
      }
    });
  });
}

describe('bulk transfer over a real data channel', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('delivers 100 MB in mixed sizes intact and in order, while the other direction also sends', async () => {
    const { a, b } = await h.connectedPair();
    const forward = sizes(TOTAL);
    const backward = sizes(10_000_000, 7);

    const started = performance.now();
    const arrivedAtB = receive(b, a.nodeId, forward.length);
    const arrivedAtA = receive(a, b.nodeId, backward.length);
    const [sentAB, sentBA] = await Promise.all([pump(a, b, forward), pump(b, a, backward)]);
    const [gotB, gotA] = await Promise.all([arrivedAtB, arrivedAtA]);
    const seconds = (performance.now() - started) / 1000;

    expect(gotB).toEqual(sentAB);
    expect(gotA).toEqual(sentBA);
    const [peerAtB] = b.peers();
    expect(peerAtB?.bytesIn).toBe(TOTAL);
    console.log(
      `100 MB transfer: ${forward.length} messages (1 B–8 MiB) in ${seconds.toFixed(2)} s = ` +
        `${(TOTAL / 1e6 / seconds).toFixed(1)} MB/s, with ${backward.length} messages (10 MB) the other way`,
    );
  }, 180_000);
});
