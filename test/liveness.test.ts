/**
 * Real connections to a peer in another process that is killed (SIGKILL) or frozen (SIGSTOP): the
 * heartbeat notices, and the connection closes with `peer-lost`, not with an ICE diagnosis. Each run
 * prints the detection time; LIVENESS_RUNS=5 repeats each case for the figures in the README.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerEvent } from '../src/index.js';
import { Harness, next } from './helpers.js';
import { peerProcess } from './support/peerProcess.js';

const RUNS = Number(process.env.LIVENESS_RUNS ?? 1);

describe('a peer that dies or freezes', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`is reported peer-lost after ${signal}, with what was seen`, async () => {
      const server = await harness.server();
      const node = await harness.started(server.url);
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const { child, id } = await peerProcess(harness, server.url);
        await node.connectToNode(id);
        // Later runs idle a while first, so the kill falls at different points of the heartbeat cycle.
        await new Promise((resolve) => setTimeout(resolve, (run % 5) * 350));
        const closed = next(node.peerEvents$, (e: PeerEvent) => e.type === 'closed' && e.id === id, 30_000);
        const killedAt = performance.now();
        child.kill(signal);
        const event = await closed;
        times.push(Math.round(performance.now() - killedAt));
        expect(event).toMatchObject({ type: 'closed', reason: 'peer-lost', wasConnected: true });
        expect(event.type === 'closed' && event.detail).toMatch(/^nothing heard for \d+ ms, on the channel or below it; ICE \w+; an ICE restart did not bring it back$/);
      }
      console.log(`${signal}: peer-lost after ${times.join(', ')} ms`);
    });
  }

  it('connectToNode() does not resolve on a connection that missed a heartbeat, until the peer is heard again', async () => {
    const server = await harness.server();
    const node = await harness.started(server.url);
    const { child, id } = await peerProcess(harness, server.url);
    await node.connectToNode(id);
    const events: PeerEvent[] = [];
    node.peerEvents$.subscribe((e) => events.push(e));
    child.kill('SIGSTOP');
    await new Promise((resolve) => setTimeout(resolve, 2000)); // past 1.5 intervals, short of the 4 s timeout
    let settled = false;
    const connecting = node.connectToNode(id).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    child.kill('SIGCONT');
    await connecting;
    // It may have stalled meanwhile (recovering, then connected again), but it never closed.
    expect(events.filter((e) => e.type === 'closed')).toEqual([]);
    expect(node.peers()).toMatchObject([{ id, state: 'connected' }]);
  });
});
