/**
 * What `send()` accepted is delivered when the sender closes: `disconnect()` and `stop()` flush and
 * wait for the peer's acknowledgement, on real WebRTC connections.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DataMessage, P2PNode, PeerEvent } from '../src/index.js';
import { Harness, collect, eventually, next } from './helpers.js';
import { peerProcess } from './support/peerProcess.js';

const KiB = 1024;

/** Counts what `node` receives from anyone. */
function received(node: P2PNode): { count: () => number; bytes: () => number } {
  let count = 0;
  let bytes = 0;
  node.data$.subscribe(({ data }: DataMessage) => {
    count++;
    bytes += typeof data === 'string' ? data.length : data.byteLength;
  });
  return { count: () => count, bytes: () => bytes };
}

/** A generous flush timeout: these tests are about what arrives, and a loaded CI host moves data slowly. */
const PATIENT = { timeouts: { flush: 60_000 } };

describe('closing delivers what send() accepted', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  async function pair() {
    const server = await harness.server();
    const a = await harness.started(server.url, PATIENT);
    const b = await harness.started(server.url, PATIENT);
    await a.connectToNode(b.nodeId);
    return { a, b };
  }

  it('disconnect() right after 200 × 64 KiB: all 200 arrive, and the far side sees the peer end the connection', async () => {
    const { a, b } = await pair();
    const inbox = received(b);
    const closed = next(b.peerEvents$, (e: PeerEvent) => e.type === 'closed', 70_000);
    const chunk = new Uint8Array(64 * KiB);
    await Promise.all(Array.from({ length: 200 }, () => a.send(b.nodeId, chunk)));
    await a.disconnect(b.nodeId);
    expect(inbox.count()).toBe(200);
    expect(await closed).toMatchObject({ reason: 'closed', detail: 'the peer ended the connection', wasConnected: true });
  });

  it('disconnect() right after one 20 MB message: it arrives whole', async () => {
    const { a, b } = await pair();
    const inbox = received(b);
    await a.send(b.nodeId, new Uint8Array(20_000_000));
    await a.disconnect(b.nodeId);
    expect([inbox.count(), inbox.bytes()]).toEqual([1, 20_000_000]);
  });

  it('stop() right after sending to two peers: everything arrives at both', async () => {
    const server = await harness.server();
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => harness.started(server.url, PATIENT)));
    await Promise.all([a!.connectToNode(b!.nodeId), a!.connectToNode(c!.nodeId)]);
    const inboxes = [received(b!), received(c!)];
    const chunk = new Uint8Array(64 * KiB);
    await Promise.all(Array.from({ length: 100 }, () => [a!.send(b!.nodeId, chunk), a!.send(c!.nodeId, 'x'.repeat(1000))]).flat());
    await a!.stop();
    expect(inboxes.map((inbox) => inbox.count())).toEqual([100, 100]);
  });

  it('the peer answers with what it had accepted before it saw our end, then closes', async () => {
    const { a, b } = await pair();
    const inbox = received(a);
    const replies = Array.from({ length: 50 }, (_, i) => b.send(a.nodeId, `reply ${i}`).catch((err: Error) => err));
    await a.disconnect(b.nodeId);
    const outcomes = await Promise.all(replies);
    // Each reply either arrived before the end, or was refused once b saw it; none is lost silently.
    expect(inbox.count() + outcomes.filter((o) => o instanceof Error).length).toBe(50);
    expect(outcomes.filter((o) => o instanceof Error).every((err) => (err as { code?: string }).code === 'ERR_PEER_CLOSED')).toBe(true);
  });

  it('a frozen peer never acknowledges: disconnect() closes after timeouts.flush with ERR_FLUSH_TIMEOUT', async () => {
    const server = await harness.server();
    const a = await harness.started(server.url, { timeouts: { flush: 500 }, heartbeat: { intervalMs: 60_000 } });
    const { child, id } = await peerProcess(harness, server.url);
    await a.connectToNode(id);
    child.kill('SIGSTOP');
    await a.send(id, new Uint8Array(64 * KiB));
    await expect(a.disconnect(id)).rejects.toMatchObject({ code: 'ERR_FLUSH_TIMEOUT', details: { undeliveredBytes: expect.any(Number) } });
    expect(a.peers()).toEqual([]);
  });

  it('{ force: true } closes at once, without waiting for the peer', async () => {
    const { a, b } = await harness.connectedPair();
    const events = collect(a.peerEvents$, 1, (e: PeerEvent) => e.type === 'closed');
    await a.send(b.nodeId, 'last words');
    await a.disconnect(b.nodeId, { force: true });
    expect(await events).toMatchObject([{ type: 'closed', reason: 'closed', detail: undefined }]);
  });
});

describe('messages that arrive while nobody reads data$', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('are kept and replayed, in order, to the next subscriber', async () => {
    const { a, b } = await harness.connectedPair();
    await Promise.all(Array.from({ length: 200 }, (_, i) => a.send(b.nodeId, `early ${i}`)));
    await eventually(() => expect(b.peers()[0]!.bytesIn).toBeGreaterThanOrEqual(200 * 'early 1'.length));
    const replayed = collect(b.data$, 200);
    expect((await replayed).map((m) => m.data)).toEqual(Array.from({ length: 200 }, (_, i) => `early ${i}`));
    // Only the first subscriber gets the backlog; later messages go to every subscriber as usual.
    const late = next(b.data$);
    await a.send(b.nodeId, 'late');
    expect((await late).data).toBe('late');
  });

  it('send(..., { delivered: true }) resolves once the peer took it, and rejects ERR_NOT_DELIVERED when it dropped it', async () => {
    const server = await harness.server();
    const a = await harness.started(server.url);
    const b = await harness.started(server.url, { unread: { messages: 1 } });
    await a.connectToNode(b.nodeId);
    await a.send(b.nodeId, 'kept for the next subscriber', { delivered: true });
    await expect(a.send(b.nodeId, 'no room left', { delivered: true })).rejects.toMatchObject({ code: 'ERR_NOT_DELIVERED' });
    const first = next(b.data$);
    expect((await first).data).toBe('kept for the next subscriber');
    await a.send(b.nodeId, new Uint8Array(5_000_000), { delivered: true });
    // bytesIn counts what arrived, dropped or not.
    expect(b.peers()[0]!.bytesIn).toBe('kept for the next subscriber'.length + 'no room left'.length + 5_000_000);
  });

  it('beyond options.unread are dropped and counted per peer in peers()', async () => {
    const server = await harness.server();
    const a = await harness.started(server.url);
    const b = await harness.started(server.url, { unread: { messages: 10 } });
    await a.connectToNode(b.nodeId);
    await Promise.all(Array.from({ length: 15 }, (_, i) => a.send(b.nodeId, `m${i}`)));
    await eventually(() => expect(b.peers()[0]!.dropped).toBe(5));
    const kept = collect(b.data$, 10);
    expect((await kept).map((m) => m.data)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
  });
});
