/**
 * Lost connections come back: the reconnect policy on a peer book with a fake supervisor (fake
 * timers), then on real WebRTC with a peer in another process that freezes, or dies and restarts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataPlane } from '../src/data/dataPlane.js';
import type { PeerOutput } from '../src/machines/peerConnection.machine.js';
import { PeerBook } from '../src/node/peerBook.js';
import { RECONNECTING, Reconnector } from '../src/node/reconnector.js';
import type { PeerEvent } from '../src/index.js';
import { Harness, next } from './helpers.js';
import { peerProcess } from './support/peerProcess.js';

const ID = 'ab'.repeat(32);
const flush = () => new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => new Promise<void>((r) => queueMicrotask(r)));

function world(options = {}) {
  const connects: string[] = [];
  const book = new PeerBook({
    maxNegotiations: 4,
    dataPlane: new DataPlane(),
    negotiator: { refusal: () => undefined, connect: (id) => connects.push(id), disconnect: () => {} },
  });
  const reconnector = new Reconnector(book, { initialMs: 100, maxMs: 400, jitter: 0, budgetMs: 1000, ...options });
  const events: PeerEvent[] = [];
  book.peerEvents$.subscribe((e) => events.push(e));
  const end = (reason: PeerOutput['reason']) => book.changed({ id: ID, state: 'closed', since: 0, output: { remoteId: ID, reason } });
  const connect = () => {
    book.changed({ id: ID, state: 'offering', since: 0 });
    book.changed({ id: ID, state: 'connected', since: 0 });
  };
  return { book, reconnector, events, connects, end, connect };
}

/** A world whose connection was just lost, on fake timers, once the reconnector has reacted. */
async function afterLoss(options = {}) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  const w = world(options);
  w.connect();
  w.end('peer-lost');
  await flush();
  return w;
}

describe('Reconnector', () => {
  afterEach(() => vi.useRealTimers());

  it('retries a lost connection with backoff until it connects, and shows the peer as reconnecting meanwhile', async () => {
    const { book, events, connects, end, connect } = await afterLoss();
    expect(book.state(ID)).toBe(RECONNECTING);
    expect(events.at(-1)).toEqual({ type: 'reconnecting', id: ID, attempt: 1, delayMs: 100 });
    await vi.advanceTimersByTimeAsync(100);
    expect(connects).toEqual([ID]);
    book.changed({ id: ID, state: 'offering', since: 0 });
    end('timeout'); // the attempt failed
    await flush();
    expect(events.at(-1)).toEqual({ type: 'reconnecting', id: ID, attempt: 2, delayMs: 200 });
    await vi.advanceTimersByTimeAsync(200);
    expect(connects).toEqual([ID, ID]);
    connect();
    await flush();
    expect(events.at(-1)).toMatchObject({ type: 'connected', id: ID });
    end('ice-failed'); // lost again later: a fresh budget, from the first delay
    await flush();
    expect(events.at(-1)).toEqual({ type: 'reconnecting', id: ID, attempt: 1, delayMs: 100 });
  });

  it('gives up once the budget is spent, and never undoes a close that was asked for', async () => {
    const { book, events, connects, end } = await afterLoss({ budgetMs: 250 });
    const failNextAttempt = async (afterMs: number) => {
      await vi.advanceTimersByTimeAsync(afterMs);
      book.changed({ id: ID, state: 'offering', since: 0 });
      end('timeout');
    };
    await failNextAttempt(100); // t = 100: attempt 1 fails, within the 250 ms budget
    await flush();
    await failNextAttempt(200); // t = 300: attempt 2 fails, past it
    await flush();
    await vi.advanceTimersByTimeAsync(1000);
    expect(events.filter((e) => e.type === 'reconnecting').map((e) => e.type === 'reconnecting' && e.attempt)).toEqual([1, 2]);
    expect(connects).toHaveLength(2);
    expect(book.state(ID)).toBeUndefined();
    const graceful = world();
    graceful.connect();
    graceful.end('closed');
    await flush();
    expect(graceful.book.state(ID)).toBeUndefined();
  });

  it('stops retrying a peer the user disconnects, and ends its wait with ERR_PEER_CLOSED', async () => {
    const { book, reconnector, connects } = await afterLoss();
    const waiting = book.outcome(ID, undefined);
    reconnector.cancel(ID);
    book.close(ID);
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_PEER_CLOSED' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(connects).toEqual([]);
  });
});

describe('reconnect and replacement on real connections', () => {
  const harness = new Harness();
  afterEach(() => harness.cleanup());

  it('a peer frozen past the heartbeat timeout is lost, then reconnected once it thaws', async () => {
    const server = await harness.server();
    const node = await harness.started(server.url, { reconnect: true });
    const { child, id } = await peerProcess(harness, server.url);
    await node.connectToNode(id);
    const events: PeerEvent[] = [];
    node.peerEvents$.subscribe((e) => events.push(e));
    const lost = next(node.peerEvents$, (e) => e.type === 'closed', 30_000);
    child.kill('SIGSTOP');
    expect(await lost).toMatchObject({ reason: 'peer-lost' });
    const back = next(node.peerEvents$, (e) => e.type === 'connected', 30_000);
    child.kill('SIGCONT');
    await back;
    // The ICE restart at half the timeout cannot reach a frozen peer.
    expect(events.map((e) => e.type).slice(0, 3)).toEqual(['recovering', 'closed', 'reconnecting']);
    expect(events[1]).toMatchObject({ type: 'closed', reason: 'peer-lost' });
    expect(events[2]).toMatchObject({ type: 'reconnecting', attempt: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'connected', id });
    await node.send(id, 'after the thaw');
  });

  it('a peer killed and restarted with the same key is reconnected', async () => {
    const server = await harness.server();
    const node = await harness.started(server.url, { reconnect: true });
    const identityFile = join(mkdtempSync(join(tmpdir(), 'p2p-reconnect-')), 'peer.pem');
    const first = await peerProcess(harness, server.url, identityFile);
    await node.connectToNode(first.id);
    const lost = next(node.peerEvents$, (e) => e.type === 'closed', 30_000);
    first.child.kill('SIGKILL');
    expect(await lost).toMatchObject({ reason: 'peer-lost' });
    const back = next(node.peerEvents$, (e) => e.type === 'connected', 60_000);
    const second = await peerProcess(harness, server.url, identityFile);
    expect(second.id).toBe(first.id);
    await back;
    expect(node.peers()).toMatchObject([{ id: first.id, state: 'connected' }]);
  });

  it('a peer that restarts and connects first replaces the old connection: closed (replaced), then connected again, before the old one is found dead', async () => {
    const server = await harness.server();
    const node = await harness.started(server.url);
    const identityFile = join(mkdtempSync(join(tmpdir(), 'p2p-replace-')), 'peer.pem');
    const first = await peerProcess(harness, server.url, identityFile);
    await node.connectToNode(first.id);
    const events: PeerEvent[] = [];
    node.peerEvents$.subscribe((e) => events.push(e));
    const back = next(node.peerEvents$, (e) => e.type === 'connected', 30_000);
    first.child.kill('SIGKILL');
    await peerProcess(harness, server.url, identityFile, node.nodeId);
    await back;
    // A restart slower than the stall threshold (2 s, e.g. on a loaded machine) first sets off an ICE
    // restart of the old connection: that is the old connection recovering, not a second outcome.
    expect(events.filter((e) => e.type !== 'recovering')).toMatchObject([
      { type: 'closed', id: first.id, reason: 'replaced', wasConnected: true },
      { type: 'connected', id: first.id },
    ]);
    await node.send(first.id, 'to the new process');
  });
});
