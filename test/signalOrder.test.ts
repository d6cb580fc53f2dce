/**
 * Signals that the overlay delivers out of order (a lost one comes again by another route after the
 * ones sent after it) reach the node in their sequence order: the holding buffer alone, the
 * envelope checks split around it, and the overlay that puts them together.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataPlane } from '../src/data/dataPlane.js';
import { silentLogger } from '../src/log.js';
import { generateIdentity } from '../src/index.js';
import { Overlay, type OverlayEvent } from '../src/services/overlay.js';
import { Envelopes, newSessionId, type SignalData } from '../src/wire/envelope.js';
import { SignalOrder } from '../src/wire/signalOrder.js';

const alice = generateIdentity();
const bob = generateIdentity();
const offer: SignalData = { type: 'offer', sdp: 'v=0\r\n' };
const candidate = (n: number): SignalData => ({ type: 'candidate', candidate: { candidate: `candidate:${n} 1 udp 1 192.0.2.1 ${9000 + n} typ host` } });

describe('SignalOrder', () => {
  it('holds items by stream and number, gives each back once, and releases a stream lowest number first', () => {
    const order = new SignalOrder<string>({ perStream: 8, streams: 8 });
    expect(order.hold('s', 3, 'c')).toBe('first');
    expect(order.hold('s', 2, 'b')).toBe('held');
    expect(order.take('s', 1)).toBeUndefined();
    expect(order.take('s', 2)).toBe('b');
    expect(order.take('s', 2)).toBeUndefined();
    expect(order.holds('s')).toBe(true);
    order.hold('s', 5, 'e');
    expect(order.release('s')).toEqual(['c', 'e']);
    expect(order.holds('s')).toBe(false);
  });

  it('refuses what does not fit, per stream and in streams, so that its owner handles it at once', () => {
    const order = new SignalOrder<number>({ perStream: 2, streams: 1 });
    order.hold('s', 1, 1);
    order.hold('s', 2, 2);
    expect(order.hold('s', 3, 3)).toBe('full');
    expect(order.hold('s', 2, 2)).toBe('held'); // the same number again takes no room
    expect(order.hold('t', 1, 1)).toBe('full');
  });
});

describe('envelope checks around a reordering carrier', () => {
  it('verify without remembering; accept takes a stream forward only, and nextSeq says what comes next', () => {
    const session = newSessionId();
    const [sender, receiver] = [new Envelopes(alice), new Envelopes(bob)];
    const [first, second] = [sender.seal(bob.nodeId, session, offer), sender.seal(bob.nodeId, session, candidate(1))];
    expect(receiver.nextSeq(alice.nodeId, session)).toBe(0);
    const verified = receiver.verify(second);
    expect(verified).toMatchObject({ ok: true, signal: { seq: 1 } });
    expect(receiver.nextSeq(alice.nodeId, session)).toBe(0);
    expect(receiver.open(first)).toMatchObject({ ok: true });
    expect(receiver.nextSeq(alice.nodeId, session)).toBe(1);
    if (!verified.ok) throw new Error('unreachable');
    expect(receiver.accept(verified.signal)).toMatchObject({ ok: true });
    expect(receiver.accept(verified.signal)).toEqual({ ok: false, reason: 'replay' });
    expect(receiver.verify({ ...second, to: alice.nodeId })).toEqual({ ok: false, reason: 'not-for-me' });
  });
});

describe('the overlay', () => {
  afterEach(() => void vi.useRealTimers());

  /** Bob's overlay, attached, and a way to hand it signal requests from alice as its DHT would get them. */
  function bobsOverlay() {
    const overlay = new Overlay({
      nodeId: bob.nodeId,
      dataPlane: new DataPlane(),
      envelopes: new Envelopes(bob),
      logger: silentLogger,
      options: {},
      release: () => {},
      inUse: () => false,
    });
    const events: OverlayEvent[] = [];
    const detach = overlay.attach((event) => events.push(event));
    let rids = 0;
    const arrive = (envelope: unknown) =>
      overlay.dht.receive(alice.nodeId, { t: 'req', rid: `rid-${rids++}`.padEnd(22, 'A'), kind: 'signal', target: bob.nodeId, path: [alice.nodeId], envelope });
    const received = () => events.flatMap((e) => (e.type === 'SIGNAL.IN' ? [e.signal.seq] : []));
    const sealed = () => events.flatMap((e) => (e.type === 'SIGNAL.IN' ? [e.signal.sealed] : []));
    return { arrive, received, sealed, detach };
  }

  it('keeps hellos to itself and hands its node the payloads encrypted to it (protocol §16.3)', () => {
    const inbox = bobsOverlay();
    const sender = new Envelopes(alice);
    inbox.arrive(sender.hello(bob.nodeId, true));
    expect(inbox.received()).toEqual([]);
    sender.keys.learn(bob.nodeId, bob.publicKey, true);
    inbox.arrive(sender.seal(bob.nodeId, newSessionId(), offer));
    expect(inbox.sealed()).toEqual([true]);
    inbox.detach();
  });

  it('hands its node the signals of a session in order when the first came last', () => {
    const inbox = bobsOverlay();
    const sender = new Envelopes(alice);
    const session = newSessionId();
    const [o, c1, c2] = [offer, candidate(1), candidate(2)].map((data) => sender.seal(bob.nodeId, session, data));
    inbox.arrive(c1);
    inbox.arrive(c2);
    expect(inbox.received()).toEqual([]);
    inbox.arrive(o);
    expect(inbox.received()).toEqual([0, 1, 2]);
    inbox.detach();
  });

  it('hands on what waited behind a gap once the gap has had time to fill, in order', () => {
    vi.useFakeTimers();
    const inbox = bobsOverlay();
    const sender = new Envelopes(alice);
    const session = newSessionId();
    const sealed = [offer, candidate(1), candidate(2), candidate(3)].map((data) => sender.seal(bob.nodeId, session, data));
    inbox.arrive(sealed[0]);
    inbox.arrive(sealed[3]);
    inbox.arrive(sealed[2]);
    expect(inbox.received()).toEqual([0]);
    vi.advanceTimersByTime(7_900);
    expect(inbox.received()).toEqual([0]);
    vi.advanceTimersByTime(200);
    expect(inbox.received()).toEqual([0, 2, 3]);
    // The lost one, later still, is one the node has gone past.
    inbox.arrive(sealed[1]);
    expect(inbox.received()).toEqual([0, 2, 3]);
    inbox.detach();
  });
});
