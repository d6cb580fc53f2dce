/**
 * The DHT over real WebRTC on loopback: nodes join through a real signaling server, the server
 * stops, and topic lookups, overlay-signaled connections and records keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom, filter, timeout } from 'rxjs';
import type { P2PNode } from '../src/index.js';
import { Harness } from './helpers.js';

const NODES = 12;
/** Small tables, so that most pairs are not linked and connecting them takes a real overlay route. */
const DHT = { k: 2, maxConnections: 6, minContacts: 2 };
const harness = new Harness();
let nodes: P2PNode[] = [];
/** Connection times through the server (before it stopped) and through the overlay (after), ms. */
const viaServer: number[] = [];

async function timedConnect(from: P2PNode, to: P2PNode): Promise<number> {
  const started = performance.now();
  await from.connectToNode(to.nodeId);
  return performance.now() - started;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Resolves once every node's DHT is ready (self-lookup done) and within its connection budget (links
 * over budget close only after a grace period), polling.
 */
async function allReady(list: P2PNode[], withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (list.some((n) => n.dhtInfo()?.state !== 'ready' || n.dhtInfo()!.links > DHT.maxConnections)) {
    if (Date.now() > deadline) {
      const info = list.map((n) => n.dhtInfo()!);
      throw new Error(`not ready (state contacts/links): ${info.map((i) => `${i.state} ${i.contacts}/${i.links}`).join(', ')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const server = await harness.server();
  for (let i = 0; i < NODES; i++) {
    nodes.push(await harness.started(server.url, { dht: DHT }));
  }
  await allReady(nodes);
  // Pairs no DHT link joins yet, so each connection is a new one.
  for (let i = 0; i < NODES / 2; i++) {
    const [from, to] = [nodes[i]!, nodes[NODES - 1 - i]!];
    if (!from.peers().some((p) => p.id === to.nodeId)) viaServer.push(await timedConnect(from, to));
  }
  await server.close();
}, 120_000);

afterAll(() => harness.cleanup(), 60_000);

describe(`the DHT over real WebRTC (${NODES} nodes, server stopped after they joined)`, () => {
  it('joins every node with contacts and within the budget', () => {
    for (const node of nodes) {
      const info = node.dhtInfo()!;
      expect(info.contacts).toBeGreaterThan(0);
      expect(info.links).toBeLessThanOrEqual(64);
    }
  });

  it('connects through the overlay about as fast as through the server, and looks topics up in tens of ms', async () => {
    const viaOverlay: number[] = [];
    // Up to 6 pairs that hold no link yet: each connection is signaled along a route through the overlay.
    for (let i = 0; i < NODES && viaOverlay.length < 6; i++) {
      for (let j = i + 1; j < NODES && viaOverlay.length < 6; j++) {
        if (nodes[i]!.peers().some((p) => p.id === nodes[j]!.nodeId)) continue;
        viaOverlay.push(await timedConnect(nodes[i]!, nodes[j]!));
        break;
      }
    }
    const lookups: number[] = [];
    await nodes[0]!.join('measure');
    for (let i = 1; i < NODES; i++) {
      const started = performance.now();
      expect(await nodes[i]!.lookup('measure')).toEqual([nodes[0]!.nodeId]);
      lookups.push(performance.now() - started);
    }
    console.log(
      `DHT on ${NODES} real nodes: connect via server median ${median(viaServer).toFixed(0)} ms (${viaServer.map((t) => t.toFixed(0)).join(', ')}), ` +
        `via overlay median ${median(viaOverlay).toFixed(0)} ms (${viaOverlay.map((t) => t.toFixed(0)).join(', ')}); ` +
        `topic lookup median ${median(lookups).toFixed(1)} ms, max ${Math.max(...lookups).toFixed(1)} ms`,
    );
    expect(viaServer.length).toBeGreaterThan(0);
    expect(viaOverlay.length).toBeGreaterThan(0);
  });

  it('finds the nodes announced under a topic, and connects to them through the overlay', async () => {
    const members = nodes.slice(0, 3);
    for (const member of members) await member.join('chat/room-42');
    const seeker = nodes[NODES - 1]!;
    const found = await seeker.lookup('chat/room-42');
    expect(found.sort()).toEqual(members.map((m) => m.nodeId).sort());
    for (const id of found) {
      await seeker.connectToNode(id);
      await seeker.send(id, 'hello via the overlay');
    }
    const heard = await firstValueFrom(members[0]!.data$.pipe(filter((m) => m.from === seeker.nodeId), timeout(10_000)));
    expect(heard.data).toBe('hello via the overlay');
  });

  it('tells a joined node about the others on discover$', async () => {
    const a = nodes[4]!;
    const b = nodes[5]!;
    await a.join('chat/room-7');
    const seen = firstValueFrom(b.discover$.pipe(filter((d) => d.topic === 'chat/room-7'), timeout(10_000)));
    await b.join('chat/room-7');
    expect(await seen).toEqual({ topic: 'chat/room-7', id: a.nodeId });
  });

  it('connects to any node id through the overlay', async () => {
    const [from, to] = [nodes[1]!, nodes[NODES - 2]!];
    await from.connectToNode(to.nodeId);
    const got = firstValueFrom(to.data$.pipe(filter((m) => m.from === from.nodeId), timeout(10_000)));
    await from.send(to.nodeId, 'direct');
    expect((await got).data).toBe('direct');
  });

  it('puts and gets signed mutable records, refusing a stale seq', async () => {
    const owner = nodes[2]!;
    await owner.put({ key: 'profile', value: 'v1', seq: 1 });
    expect(Buffer.from((await nodes[7]!.get(owner.nodeId, 'profile'))!.value).toString()).toBe('v1');
    await owner.put({ key: 'profile', value: 'v2', seq: 2, cas: 1 });
    expect(await nodes[8]!.get(owner.nodeId, 'profile')).toMatchObject({ seq: 2 });
    await expect(owner.put({ key: 'profile', value: 'old', seq: 1 })).rejects.toMatchObject({ code: 'ERR_DHT_REFUSED' });
    expect(await nodes[3]!.get(owner.nodeId, 'nothing')).toBeUndefined();
  });
});
