import { describe, expect, it } from 'vitest';
import { DataPlane } from '../src/data/dataPlane.js';
import { P2PError } from '../src/errors.js';
import { PeerBook, QUEUED, type Negotiator } from '../src/node/peerBook.js';
import type { PeerEvent, PeerInfo } from '../src/node/types.js';

const id = (n: number): string => n.toString(16).padStart(64, '0');
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A book over a negotiator that records what it was asked, refusing whatever `refuse` names. */
function book(maxNegotiations: number) {
  const connects: string[] = [];
  const disconnects: string[] = [];
  const refuse = new Map<string, P2PError>();
  const negotiator: Negotiator = {
    refusal: (nodeId) => refuse.get(nodeId),
    connect: (nodeId) => connects.push(nodeId),
    disconnect: (nodeId) => disconnects.push(nodeId),
  };
  const peers = new PeerBook({ maxNegotiations, dataPlane: new DataPlane(), negotiator });
  const events: PeerEvent[] = [];
  const lists: PeerInfo[][] = [];
  peers.peerEvents$.subscribe((e) => events.push(e));
  peers.peers$.subscribe((l) => lists.push(l));
  return { peers, connects, disconnects, refuse, events, lists };
}

describe('PeerBook', () => {
  it('starts queued attempts in call order, never more than maxNegotiations at once', async () => {
    const { peers, connects } = book(2);
    for (const n of [1, 2, 3, 4]) peers.enqueue(id(n));
    expect(peers.state(id(3))).toBe(QUEUED);
    await settle();
    expect(connects).toEqual([id(1), id(2)]);
    peers.changed({ id: id(1), state: 'offering', since: 0 }); // negotiating still: no slot freed
    await settle();
    expect(connects).toEqual([id(1), id(2)]);
    peers.changed({ id: id(2), state: 'connected', since: 0 });
    await settle();
    expect(connects).toEqual([id(1), id(2), id(3)]);
    peers.changed({ id: id(1), state: 'closed', since: 0, output: { remoteId: id(1), reason: 'timeout' } });
    await settle();
    expect(connects).toEqual([id(1), id(2), id(3), id(4)]);
    expect(peers.size).toBe(3);
  });

  it('resolves an outcome on connected and rejects it with the close reason as a coded error', async () => {
    const { peers, events } = book(1);
    const first = peers.outcome(id(1), undefined);
    peers.enqueue(id(1));
    peers.changed({ id: id(1), state: 'connected', since: 0 });
    await expect(first).resolves.toBeUndefined();
    const second = peers.outcome(id(1), undefined);
    peers.changed({ id: id(1), state: 'closed', since: 0, output: { remoteId: id(1), reason: 'ice-failed', detail: 'x' } });
    await expect(second).rejects.toMatchObject({ code: 'ERR_ICE_FAILED' });
    expect(events).toEqual([
      { type: 'connected', id: id(1), route: undefined },
      { type: 'closed', id: id(1), reason: 'ice-failed', detail: 'x', wasConnected: true },
    ]);
    expect(peers.state(id(1))).toBeUndefined();
  });

  it('ends a queued attempt without the supervisor when it is closed or refused', async () => {
    const { peers, connects, disconnects, refuse } = book(1);
    peers.enqueue(id(1)); // takes the only slot
    const closed = peers.outcome(id(2), undefined);
    peers.enqueue(id(2));
    peers.close(id(2));
    await expect(closed).rejects.toMatchObject({ code: 'ERR_PEER_CLOSED' });
    refuse.set(id(3), new P2PError('ERR_TOO_MANY_PEERS', 'full'));
    const refused = peers.outcome(id(3), undefined);
    peers.enqueue(id(3));
    peers.changed({ id: id(1), state: 'connected', since: 0 });
    await expect(refused).rejects.toMatchObject({ code: 'ERR_TOO_MANY_PEERS' });
    expect(connects).toEqual([id(1)]);
    peers.close(id(1));
    expect(disconnects).toEqual([id(1)]);
  });

  it('closes the attempt when its signal aborts, and rejects every outcome with ERR_STOPPED on complete', async () => {
    const { peers, disconnects, lists } = book(1);
    const abort = new AbortController();
    const aborted = peers.outcome(id(1), abort.signal);
    peers.enqueue(id(1));
    await settle();
    abort.abort(new Error('gave up'));
    await expect(aborted).rejects.toThrow('gave up');
    expect(disconnects).toEqual([id(1)]);
    const pending = peers.outcome(id(2), undefined);
    peers.stop();
    peers.enqueue(id(2));
    peers.complete();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_STOPPED' });
    expect(lists.at(-1)).toEqual([]);
  });
});
