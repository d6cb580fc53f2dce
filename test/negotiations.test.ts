/**
 * How many connections a node negotiates at once (`maxNegotiations`), on a real signaling server and
 * real WebRTC: its own attempts wait their turn, and offers beyond the cap are refused as busy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeOptions, P2PNode } from '../src/index.js';
import { Harness, next } from './helpers.js';

/** The ids of `node`'s peer actors, in the order they were started. */
function startOrder(node: P2PNode): string[] {
  const started: string[] = [];
  node.transitions$.subscribe((t) => t.actor.startsWith('peer.') && t.from === '' && started.push(t.actor.slice('peer.'.length)));
  return started;
}

const stateOf = (node: P2PNode, id: string) => node.peers().find((p) => p.id === id)?.state;

describe('outgoing attempts beyond maxNegotiations', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  async function hubAndOthers(count: number, options: Partial<NodeOptions>) {
    const server = await h.server();
    const hub = await h.started(server.url, options);
    const others = await Promise.all(Array.from({ length: count }, () => h.started(server.url)));
    return { hub, ids: others.map((o) => o.nodeId) };
  }

  it('wait in call order: six at once with maxNegotiations 2 all connect, never more than two negotiating', async () => {
    const { hub, ids } = await hubAndOthers(6, { maxNegotiations: 2 });
    const negotiating: number[] = [];
    hub.peers$.subscribe((peers) => negotiating.push(peers.filter((p) => p.state !== 'queued' && p.state !== 'connected').length));
    const started = startOrder(hub);
    // The last call repeats one still queued: it joins that attempt rather than queue a second one.
    await Promise.all([...ids, ids[5]!].map((id) => hub.connectToNode(id)));
    expect(Math.max(...negotiating)).toBe(2);
    expect(started).toEqual(ids);
    expect(hub.peers().map((p) => p.state)).toEqual(Array(6).fill('connected'));
  });

  it('count towards maxPeers while queued', async () => {
    const { hub, ids } = await hubAndOthers(3, { maxNegotiations: 1, maxPeers: 2 });
    const [b, c, d] = ids as [string, string, string];
    const attempts = [hub.connectToNode(b), hub.connectToNode(c)];
    expect(stateOf(hub, c)).toBe('queued');
    await expect(hub.connectToNode(d)).rejects.toMatchObject({ code: 'ERR_TOO_MANY_PEERS' });
    await Promise.all(attempts);
    expect(hub.peers().map((p) => p.id)).toEqual([b, c]);
  });

  it('leave the queue when aborted: the attempt rejects with the reason and never starts', async () => {
    const { hub, ids } = await hubAndOthers(3, { maxNegotiations: 1 });
    const [b, c, d] = ids as [string, string, string];
    const started = startOrder(hub);
    const bStarted = next(hub.transitions$, (t) => t.actor === `peer.${b}`);
    const controller = new AbortController();
    const first = hub.connectToNode(b);
    const aborted = hub.connectToNode(c, { signal: controller.signal });
    const last = hub.connectToNode(d);
    await bStarted;
    expect([stateOf(hub, c), stateOf(hub, d)]).toEqual(['queued', 'queued']);
    controller.abort(new Error('no longer needed'));
    await expect(aborted).rejects.toThrow('no longer needed');
    expect(stateOf(hub, c)).toBeUndefined();
    await Promise.all([first, last]);
    expect(started).toEqual([b, d]);
  });

  it('are rejected with ERR_STOPPED when the node stops', async () => {
    const { hub, ids } = await hubAndOthers(2, { maxNegotiations: 1 });
    const [b, c] = ids as [string, string];
    const started = startOrder(hub);
    const bStarted = next(hub.transitions$, (t) => t.actor === `peer.${b}`);
    const first = hub.connectToNode(b);
    const queued = hub.connectToNode(c);
    await bStarted;
    await hub.stop();
    await expect(queued).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    await expect(first).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    expect(started).toEqual([b]);
  });
});

describe('offers while too many peers negotiate', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('are refused: the other side fails with ERR_PEER_BUSY, and succeeds once a negotiation ends', async () => {
    const server = await h.server();
    // Twice maxNegotiations peers may negotiate before offers are refused: two here.
    const hub = await h.started(server.url, { maxNegotiations: 1 });
    // They signal no candidate and try none of the hub's, so their negotiations stay under way.
    const stalled = await Promise.all([0, 1].map(() => h.started(server.url, { candidateFilter: () => false })));
    const late = await h.started(server.url);
    const stalledAttempts = stalled.map((s) => s.connectToNode(hub.nodeId).catch(() => {}));
    await next(hub.peers$, (peers) => peers.length === 2);

    await expect(late.connectToNode(hub.nodeId)).rejects.toMatchObject({ code: 'ERR_PEER_BUSY', message: expect.stringContaining('retry later') });
    expect(hub.peers().map((p) => p.id).sort()).toEqual(stalled.map((s) => s.nodeId).sort());

    await hub.disconnect(stalled[0]!.nodeId);
    await late.connectToNode(hub.nodeId);
    // The hub's end may still be verifying when the late node's resolves.
    await next(hub.peers$, (peers) => peers.some((p) => p.id === late.nodeId && p.state === 'connected'));
    await hub.disconnect(stalled[1]!.nodeId);
    await Promise.all(stalledAttempts);
  });
});

describe('maxNegotiations', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('must be a positive integer', () => {
    const url = 'http://127.0.0.1:1';
    for (const bad of [0, -1, 1.5, Number.NaN, '2' as unknown as number]) {
      expect(() => h.node(url, { maxNegotiations: bad }), String(bad)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: 'maxNegotiations must be a positive integer' }),
      );
    }
    expect(() => h.node(url, { maxNegotiations: 1 })).not.toThrow();
  });
});
