/**
 * Soak: 1,000 connect → send → disconnect cycles between two nodes, on real WebRTC and a real
 * signaling server. File descriptors must come back to their baseline and the heap must stay flat;
 * RSS growth per cycle is reported (wrtc's native allocations are outside the JS heap).
 */
import { readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { Harness, next } from '../helpers.js';

const CYCLES = Number(process.env.SOAK_CYCLES ?? 1000);
const WARM_UP = 50;
const SAMPLE_EVERY = 100;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const openFds = (): number => readdirSync('/proc/self/fd').length;

interface Sample {
  cycle: number;
  fds: number;
  heapMB: number;
  rssMB: number;
}

/**
 * Collects until the descriptor count has held still for 2 s (at most 15 s): wrtc frees a closed
 * connection's sockets only once its object is collected, and then asynchronously, ~2 s later.
 */
async function settle(): Promise<void> {
  let [last, still] = [openFds(), 0];
  for (let i = 0; i < 30 && still < 4; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const fds = openFds();
    still = fds === last ? still + 1 : 0;
    last = fds;
  }
}

async function sample(cycle: number): Promise<Sample> {
  await settle();
  const { heapUsed, rss } = process.memoryUsage();
  return { cycle, fds: openFds(), heapMB: +(heapUsed / 2 ** 20).toFixed(2), rssMB: +(rss / 2 ** 20).toFixed(1) };
}

describe('soak', () => {
  const harness = new Harness();
  afterAll(() => harness.cleanup());

  it(`${CYCLES} connect → send → disconnect cycles leave no descriptor behind and a flat heap`, async () => {
    const server = await harness.server();
    const a = await harness.started(server.url);
    const b = await harness.started(server.url);
    const payload = new Uint8Array(1024);
    const cycle = async (): Promise<void> => {
      await a.connectToNode(b.nodeId);
      const got = next(b.data$, (m) => m.from === a.nodeId);
      await a.send(b.nodeId, payload);
      await got;
      const closedAtB = next(b.peerEvents$, (e) => e.type === 'closed');
      await a.disconnect(b.nodeId);
      await closedAtB;
    };
    for (let i = 0; i < WARM_UP; i++) await cycle();
    const samples = [await sample(0)];
    const started = performance.now();
    for (let i = 1; i <= CYCLES; i++) {
      await cycle();
      if (i % SAMPLE_EVERY === 0 || i === CYCLES) samples.push(await sample(i));
    }
    const seconds = (performance.now() - started) / 1000;
    const [first, last] = [samples[0]!, samples.at(-1)!];
    // From the first sample after the warm-up to the last: a straight-line slope would hide a plateau.
    const rssPerCycleKB = ((last.rssMB - first.rssMB) * 1024) / CYCLES;
    console.table(samples);
    console.log(
      `soak: ${CYCLES} cycles in ${seconds.toFixed(0)} s; fds ${first.fds} → ${last.fds}; heap ${first.heapMB} → ${last.heapMB} MB; ` +
        `RSS ${first.rssMB} → ${last.rssMB} MB (${rssPerCycleKB.toFixed(1)} KB per cycle)`,
    );
    expect(last.fds).toBeLessThanOrEqual(first.fds);
    // Flat: the retained heap after a full collection does not grow with the cycles. What does grow is
    // bounded: each node remembers up to 4,096 envelope sessions for replay protection (~1 MB here).
    expect(last.heapMB - first.heapMB).toBeLessThan(2);
    expect(a.peers()).toEqual([]);
  });
});
