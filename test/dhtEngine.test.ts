/**
 * The DHT engine's rules, message by message: two or three engines wired together by hand, or a
 * small seeded simulated network where a test needs routing over several hops.
 */
import { describe, expect, it } from 'vitest';
import { Dht } from '../src/dht/dht.js';
import type { LookupResult } from '../src/dht/lookup.js';
import { decodeDhtMessage, encodeDhtMessage, isDhtMessage, MAX_HOPS, type DhtMessage } from '../src/dht/messages.js';
import type { DhtIo } from '../src/dht/options.js';
import { mutableKey, signMutableRecord, signTopicRecord, topicKey } from '../src/dht/records.js';
import { generateIdentity } from '../src/wire/identity.js';
import { Network } from '../sim/dht/network.js';
import { seededIdentity } from './support/identities.js';

const id = (byte: number) => byte.toString(16).padStart(2, '0').repeat(32);
const RID = 'AAAAAAAAAAAAAAAAAAAAAA';

/** Messages `sent` that other nodes started (our own lookups start with a path of just us). */
const relayed = (sent: Array<{ to: string; message: DhtMessage }>) => sent.filter((s) => s.message.t === 'res' || (s.message.t === 'req' && s.message.path.length > 1));

/** An engine whose IO records what it sends, with a clock the test moves. */
function engine(self: string, options = {}, inUse?: (peer: string) => boolean) {
  const sent: Array<{ to: string; message: DhtMessage }> = [];
  const released: string[] = [];
  const signals: Array<{ origin: string; envelope: unknown; via: string[] }> = [];
  let now = 1_000_000;
  let draws = 7;
  const timers = new Set<() => void>();
  const io: DhtIo = {
    send: (to, message) => sent.push({ to, message }),
    connect: () => {},
    release: (peer) => released.push(peer),
    bootstrap: () => {},
    signal: (origin, envelope, via) => signals.push({ origin, envelope, via }),
    now: () => now,
    setTimer: (_ms, fn) => {
      timers.add(fn);
      return () => timers.delete(fn);
    },
    // A new byte each draw, so that request ids differ (paths of one id avoid the hops it took).
    random: (n) => new Uint8Array(n).fill(draws++ % 256),
    inUse,
  };
  const dht = new Dht(self, io, options);
  /** Runs every pending timer once, whatever its delay. */
  const fire = () => {
    const due = [...timers];
    timers.clear();
    for (const fn of due) fn();
  };
  return { dht, sent, released, signals, tick: (ms: number) => (now += ms), fire };
}

/** A simulated network of `n` honest nodes that have all joined. */
function network(n: number, seed = 3) {
  const net = new Network({ seed });
  for (let i = 0; i < n; i++) net.clock.at(i * 20, () => net.add());
  net.clock.runUntil(n * 20 + 30_000);
  return net;
}

function request(net: Network, from: ReturnType<Network['add']>, ...args: Parameters<Dht['request']> extends [infer K, infer T, infer E, unknown] ? [K, T, E] : never): LookupResult {
  let result: LookupResult | undefined;
  from.dht.request(args[0], args[1], args[2], (r) => (result = r));
  net.clock.runUntil(net.clock.now() + 10_000);
  return result!;
}

describe('DHT messages', () => {
  it('round-trip through their encoding and refuse what is malformed or oversized', () => {
    const message: DhtMessage = { t: 'req', rid: RID, kind: 'find', target: id(1), path: [id(2)] };
    expect(decodeDhtMessage(encodeDhtMessage(message))).toEqual(message);
    expect(decodeDhtMessage(Buffer.from('{'))).toBeUndefined();
    expect(decodeDhtMessage(Buffer.alloc(70_000, 0x20))).toBeUndefined();
    expect(isDhtMessage({ ...message, rid: 'short' })).toBe(false);
    expect(isDhtMessage({ ...message, kind: 'store' })).toBe(false);
    expect(isDhtMessage({ ...message, path: [] })).toBe(false);
    expect(isDhtMessage({ ...message, path: Array(MAX_HOPS + 1).fill(id(2)) })).toBe(false);
    expect(isDhtMessage({ ...message, target: id(0xab).toUpperCase() })).toBe(false);
    expect(isDhtMessage({ t: 'req', rid: RID, kind: 'announce', target: id(1), path: [id(2)] })).toBe(false);
    expect(isDhtMessage({ t: 'req', rid: RID, kind: 'signal', target: id(1), path: [id(2)], envelope: {}, via: ['x'] })).toBe(false);
    expect(isDhtMessage({ t: 'res', rid: RID, path: [id(1)], from: id(2), closest: Array(21).fill(id(3)) })).toBe(false);
    expect(isDhtMessage({ t: 'rep', topics: [{}], records: [] })).toBe(false);
    expect(isDhtMessage({ t: 'unneeded' })).toBe(true);
    expect(isDhtMessage({ t: 'needed' })).toBe(true);
    expect(isDhtMessage({ t: 'held' })).toBe(true);
    expect(isDhtMessage({ ...message, avoid: [id(3)] })).toBe(true);
    expect(isDhtMessage({ ...message, avoid: [] })).toBe(false);
    expect(isDhtMessage({ ...message, avoid: ['x'] })).toBe(false);
    expect(isDhtMessage(null)).toBe(false);
  });
});

describe('the DHT engine', () => {
  it('drops a request whose path does not end with the link it came over, or already holds us', () => {
    const a = engine(id(1));
    a.dht.linkUp(id(2));
    a.dht.receive(id(2), { t: 'req', rid: RID, kind: 'find', target: id(9), path: [id(3)] });
    a.dht.receive(id(2), { t: 'req', rid: RID, kind: 'find', target: id(9), path: [id(1), id(2)] });
    expect(a.dht.counters.dropped.path).toBe(2);
    expect(a.dht.counters.forwarded + a.dht.counters.answered).toBe(0);
  });

  it('answers a request it is closest to, and forwards one it is not, appending itself to the path', () => {
    const a = engine(id(0x10));
    a.dht.linkUp(id(0x20));
    a.dht.linkUp(id(0x80));
    a.dht.receive(id(0x20), { t: 'req', rid: RID, kind: 'find', target: id(0x11), path: [id(0x20)] });
    expect(relayed(a.sent)).toEqual([{ to: id(0x20), message: expect.objectContaining({ t: 'res', from: id(0x10), closest: [id(0x10), id(0x20), id(0x80)] }) }]);
    a.dht.receive(id(0x20), { t: 'req', rid: 'BAAAAAAAAAAAAAAAAAAAAA', kind: 'find', target: id(0x81), path: [id(0x20)] });
    expect(relayed(a.sent).filter((s) => s.message.t === 'req')).toEqual([{ to: id(0x80), message: expect.objectContaining({ path: [id(0x20), id(0x10)] }) }]);
  });

  it('sends a second path of the same request to its next-best link, so parallel paths stay apart', () => {
    const a = engine(id(0x10));
    for (const peer of [0x20, 0x30, 0x70, 0x71]) a.dht.linkUp(id(peer));
    const req = { t: 'req' as const, rid: RID, kind: 'find' as const, target: id(0x72) };
    a.dht.receive(id(0x20), { ...req, path: [id(0x20)] });
    a.dht.receive(id(0x30), { ...req, path: [id(0x30)] });
    expect(relayed(a.sent).flatMap((s) => (s.message.t === 'req' ? [s.to] : []))).toEqual([id(0x70), id(0x71)]);
  });

  it('delivers a signal addressed to it with the route back, and routes others along `via`', () => {
    const a = engine(id(1));
    a.dht.linkUp(id(2));
    a.dht.linkUp(id(4));
    a.dht.receive(id(2), { t: 'req', rid: RID, kind: 'signal', target: id(1), path: [id(5), id(3), id(2)], envelope: { x: 1 } });
    expect(a.signals).toEqual([{ origin: id(5), envelope: { x: 1 }, via: [id(2), id(3)] }]);
    // Not linked to the target: the first linked node of `via` after us comes next.
    a.dht.receive(id(2), { t: 'req', rid: RID, kind: 'signal', target: id(9), path: [id(2)], envelope: {}, via: [id(1), id(4)] });
    expect(a.sent.at(-1)?.to).toBe(id(4));
  });

  it('acknowledges every copy of a signal addressed to it along the way back, and delivers it once', () => {
    const a = engine(id(1));
    a.dht.linkUp(id(2));
    const signal = { t: 'req' as const, rid: RID, kind: 'signal' as const, target: id(1), path: [id(5), id(2)], envelope: { x: 1 } };
    const ack = { to: id(2), message: { t: 'res', rid: RID, path: [id(5), id(2)], from: id(1), closest: [id(1)] } };
    a.dht.receive(id(2), signal);
    a.dht.receive(id(2), signal);
    expect(a.signals).toHaveLength(1);
    expect(relayed(a.sent)).toEqual([ack, ack]);
  });

  it('sends a signal again, with the same rid and over a link it has not taken yet, until its target acknowledges it', () => {
    const a = engine(id(0x10));
    for (const peer of [0x20, 0x30]) a.dht.linkUp(id(peer));
    const signals = () => a.sent.filter((s) => s.message.t === 'req' && s.message.kind === 'signal');
    expect(a.dht.routeSignal(id(0x3f), { x: 1 })).toBe(true);
    a.fire();
    expect(signals().map((s) => s.to)).toEqual([id(0x30), id(0x20)]);
    const [first, second] = signals().map((s) => s.message);
    expect(second).toEqual(first);
    const rid = (first as { rid: string }).rid;
    // Only the target's acknowledgement counts: a node on the way cannot silence the signal.
    a.dht.receive(id(0x30), { t: 'res', rid, path: [id(0x10)], from: id(0x30), closest: [id(0x30)] });
    a.fire();
    expect(signals()).toHaveLength(3);
    a.dht.receive(id(0x30), { t: 'res', rid, path: [id(0x10)], from: id(0x3f), closest: [id(0x3f)] });
    a.fire();
    expect(signals()).toHaveLength(3);
    expect(a.dht.counters.signalsResent).toBe(2);
  });

  it('says whether a signal can leave without a route: to a linked node, or with a link closer to the target than itself', () => {
    const a = engine(id(0x10));
    a.dht.linkUp(id(0x30));
    expect([id(0x30), id(0x3f), id(0x11)].map((target) => a.dht.routesTo(target))).toEqual([true, true, false]);
    expect(a.dht.routeSignal(id(0x11), {})).toBe(false);
  });

  it('gives a signal up after three copies with no acknowledgement', () => {
    const a = engine(id(0x10));
    a.dht.linkUp(id(0x30));
    a.dht.routeSignal(id(0x3f), {});
    for (let i = 0; i < 6; i++) a.fire();
    expect(a.sent.filter((s) => s.message.t === 'req' && s.message.kind === 'signal').map((s) => s.to)).toEqual(Array(4).fill(id(0x30)));
  });

  it('passes a copy of a signal it forwarded before to another link, and back to the first when no other leads on', () => {
    const a = engine(id(0x10));
    for (const peer of [0x20, 0x30]) a.dht.linkUp(id(peer));
    const signal = { t: 'req' as const, rid: RID, kind: 'signal' as const, target: id(0x3f), path: [id(0x05)], envelope: {} };
    for (let i = 0; i < 3; i++) a.dht.receive(id(0x05), signal);
    expect(relayed(a.sent).map((s) => s.to)).toEqual([id(0x30), id(0x20), id(0x30)]);
  });

  it('sends a store again when every path ended at a node far from the target with no outcome, round those nodes', () => {
    const a = engine(id(0x10));
    // 0x11 shares 7 bits with us: a network deep enough that an answer from 0x77 is far from 0xf0's closest nodes.
    for (const peer of [0x11, 0x20, 0x30]) a.dht.linkUp(id(peer));
    let result: LookupResult | undefined;
    a.dht.request('announce', id(0xf0), {}, (r) => (result = r));
    const announces = () => a.sent.filter((s) => s.message.t === 'req' && s.message.kind === 'announce');
    const first = announces();
    expect(first.map((s) => s.to).sort()).toEqual([id(0x11), id(0x20), id(0x30)]);
    const rid = (first[0]!.message as { rid: string }).rid;
    // Each path ends at a node far from the target that answers at once, with no store outcome.
    for (const hop of [0x11, 0x20, 0x30]) {
      a.dht.receive(id(hop), { t: 'res', rid, path: [id(0x10), id(hop)], from: id(0x77), closest: [id(0x77), id(0x05)] });
    }
    expect(result).toBeUndefined();
    const again = announces().slice(3);
    // The same first hops, whose nodes now route round the way they took; the far node is avoided.
    expect(again.map((s) => s.to).sort()).toEqual([id(0x11), id(0x20), id(0x30)]);
    expect(again.every((s) => s.message.t === 'req' && s.message.rid === rid && s.message.avoid?.join() === id(0x77))).toBe(true);
    a.fire();
    expect(result?.outcomes).toEqual([]);
    // A `find` has no sign of failure to go by: the same answers end it.
    let found: LookupResult | undefined;
    a.dht.request('find', id(0xf0), {}, (r) => (found = r));
    const finds = a.sent.filter((s) => s.message.t === 'req' && s.message.kind === 'find' && s.message.target === id(0xf0));
    for (const { to, message } of finds) {
      a.dht.receive(to, { t: 'res', rid: (message as { rid: string }).rid, path: [id(0x10), to], from: id(0x77), closest: [id(0x77), id(0x05)] });
    }
    expect(found?.replies).toBe(3);
  });

  it('never forwards a request to a node it says to avoid', () => {
    const a = engine(id(0x10));
    for (const peer of [0x20, 0x90, 0x98]) a.dht.linkUp(id(peer));
    a.dht.receive(id(0x20), { t: 'req', rid: RID, kind: 'find', target: id(0x91), path: [id(0x20)], avoid: [id(0x90)] });
    expect(relayed(a.sent).filter((s) => s.message.t === 'req').map((s) => s.to)).toEqual([id(0x98)]);
  });

  it('rate-limits every message of a link, replies included', () => {
    expect(() => engine(id(1), { rate: { perSecond: 0, burst: 5 } })).toThrow(RangeError);
    const a = engine(id(1), { rate: { perSecond: 10, burst: 5 } });
    a.dht.linkUp(id(2));
    for (let i = 0; i < 8; i++) a.dht.receive(id(2), { t: 'res', rid: RID, path: [id(3)], from: id(2), closest: [] });
    expect(a.dht.counters.dropped.rate).toBe(3);
    a.tick(1000);
    a.dht.receive(id(2), { t: 'res', rid: RID, path: [id(3)], from: id(2), closest: [] });
    expect(a.dht.counters.dropped.rate).toBe(3);
  });

  it('keeps a link while either end holds it, and releases it once both said they do not', () => {
    const a = engine(id(0x10), { k: 1 });
    a.dht.linkUp(id(0x80));
    a.dht.linkUp(id(0x90)); // bucket 0 is full: not held, and the peer is told so
    expect(a.sent.at(-1)).toEqual({ to: id(0x90), message: { t: 'unneeded' } });
    expect(a.released).toEqual([]);
    a.dht.receive(id(0x90), { t: 'unneeded' });
    expect(a.released).toEqual([id(0x90)]);
    a.dht.receive(id(0x80), { t: 'unneeded' }); // we hold 0x80: it stays
    expect(a.released).toEqual([id(0x90)]);
  });

  it("fills a lost contact's place with a link its table refused when the bucket was full, and retracts its `unneeded`", () => {
    const a = engine(id(0x10), { k: 1 });
    a.dht.linkUp(id(0x80));
    a.dht.linkUp(id(0x90)); // bucket 0 is full: not held, and the peer is told so
    a.dht.linkUp(id(0xa0));
    a.dht.linkDown(id(0x80));
    // The oldest link waiting takes the room, and its peer hears that the `unneeded` no longer holds.
    expect(a.dht.table.has(id(0x90))).toBe(true);
    expect(a.dht.table.has(id(0xa0))).toBe(false);
    expect(a.sent.at(-1)).toEqual({ to: id(0x90), message: { t: 'held' } });
    a.dht.receive(id(0x90), { t: 'unneeded' });
    expect(a.released).toEqual([]);
    // The far side: after `held`, evicting the sender no longer closes the link.
    const b = engine(id(0x90), { k: 2, maxContacts: 2 });
    b.dht.linkUp(id(0x20));
    b.dht.linkUp(id(0x10));
    b.dht.receive(id(0x10), { t: 'unneeded' });
    b.dht.receive(id(0x10), { t: 'held' });
    b.dht.linkUp(id(0x91)); // a thin bucket displaces 0x10
    expect(b.dht.table.has(id(0x10))).toBe(false);
    expect(b.released).toEqual([]);
  });

  it('keeps links an application uses at either end, and tells the peer once', () => {
    const used = new Set([id(0x90)]);
    const a = engine(id(0x10), { k: 1 }, (peer) => used.has(peer));
    a.dht.linkUp(id(0x80));
    a.dht.linkUp(id(0x90)); // not in the table, but the application's: `needed`, never `unneeded`
    a.dht.linkUp(id(0xa0)); // not in the table, and told so
    const told = (t: string) => a.sent.filter((s) => s.message.t === t).map((s) => s.to);
    expect(told('unneeded')).toEqual([id(0xa0)]);
    expect(told('needed')).toEqual([id(0x90)]);
    used.add(id(0xa0));
    a.dht.hold(id(0xa0)); // the application starts to use it: that retracts the `unneeded`
    a.dht.hold(id(0xa0));
    a.dht.hold(id(0x90));
    expect(told('needed')).toEqual([id(0x90), id(0xa0)]);
    a.dht.receive(id(0xa0), { t: 'unneeded' });
    expect(a.released).toEqual([id(0xa0)]); // the node closes only links its application does not use
    // The far side: a peer's `needed` keeps the link open however its table changes.
    for (const needed of [false, true]) {
      const b = engine(id(0x90), { k: 2, maxContacts: 2 });
      b.dht.linkUp(id(0x20));
      b.dht.linkUp(id(0x10));
      b.dht.receive(id(0x10), { t: 'unneeded' }); // held by b: stays
      if (needed) b.dht.receive(id(0x10), { t: 'needed' });
      b.dht.linkUp(id(0x91)); // a thin bucket displaces the newest contact of the full one: 0x10
      expect(b.dht.table.has(id(0x10))).toBe(false);
      expect(b.released).toEqual(needed ? [] : [id(0x10)]);
    }
  });

  it('counts only links no application uses against its connection budget, and never sheds those', () => {
    const a = engine(id(0x10), { k: 1, maxConnections: 2 });
    a.dht.linkUp(id(0x80));
    a.dht.linkUp(id(0xa0)); // bucket 0 is full: not held, but the peer's application uses it
    a.dht.receive(id(0xa0), { t: 'needed' });
    a.dht.linkUp(id(0x90)); // not held either: two links count against the budget of two
    expect(a.released).toEqual([]);
    a.dht.linkUp(id(0x08)); // held, and over budget: a link nobody holds goes, not the needed one
    expect(a.released).toEqual([]); // not before the peer had time to say `needed`
    a.fire();
    expect(a.released).toEqual([]); // the timer ran, but the links are still young: it checks again
    a.tick(5000);
    a.fire();
    expect(a.released).toEqual([id(0x90)]);
  });

  it('stores an announcement only under the key it was signed for', () => {
    const a = engine(id(1));
    a.dht.linkUp(id(2));
    const record = signTopicRecord(generateIdentity(), topicKey('room'), 1_000_000, 60_000);
    a.dht.receive(id(2), { t: 'req', rid: RID, kind: 'announce', target: topicKey('other'), path: [id(2)], topic: record });
    expect(a.sent.at(-1)?.message).toMatchObject({ t: 'res', outcome: 'wrong-key' });
    a.dht.receive(id(2), { t: 'req', rid: 'BAAAAAAAAAAAAAAAAAAAAA', kind: 'announce', target: topicKey('room'), path: [id(2)], topic: record });
    expect(a.sent.at(-1)?.message).toMatchObject({ t: 'res', outcome: 'stored' });
    expect(a.dht.store.topicRecords(topicKey('room'))).toEqual([record]);
  });
});

describe('the DHT over a simulated network (60 nodes)', () => {
  const net = network(60);
  const nodes = [...net.nodes.values()];

  it('joins every node and keeps within the connection budget', () => {
    expect(nodes.every((n) => n.joinedAt !== undefined)).toBe(true);
    expect(Math.max(...nodes.map((n) => n.links.size))).toBeLessThanOrEqual(64);
    // Connections beyond the three the server introduced were signaled through the overlay.
    expect(nodes.reduce((sum, n) => sum + n.dht.counters.signalsDelivered, 0)).toBeGreaterThan(0);
  });

  it('finds announcements under a topic from any node, and only signed ones', () => {
    const topic = topicKey('chat/room-42');
    const announcers = [generateIdentity(), generateIdentity()];
    for (const [i, who] of announcers.entries()) {
      expect(request(net, nodes[i]!, 'announce', topic, { topic: signTopicRecord(who, topic, net.clock.now(), 600_000) }).outcomes).toContain('stored');
    }
    const found = request(net, nodes[40]!, 'find-topic', topic, {});
    expect(found.topics.map((r) => r.key).sort()).toEqual(announcers.map((a) => a.publicKey).sort());
  });

  it('puts and gets mutable records with monotonic seq and compare-and-swap', () => {
    // A fixed owner, so the record's holders are the same every run (a random key could land where v2
    // reached fewer of v1's holders than replication asks, and the stale put would be stored there).
    const owner = seededIdentity(7);
    const key = mutableKey(owner.nodeId, 'profile');
    const v1 = signMutableRecord(owner, 'profile', 1, Buffer.from('one'));
    const v2 = signMutableRecord(owner, 'profile', 2, Buffer.from('two'));
    expect(request(net, nodes[3]!, 'put', key, { record: v1 }).outcomes).toContain('stored');
    expect(request(net, nodes[50]!, 'get', key, {}).record).toEqual(v1);
    expect(request(net, nodes[4]!, 'put', key, { record: v1 }).outcomes).not.toContain('cas-mismatch');
    expect(new Set(request(net, nodes[5]!, 'put', key, { record: v2, cas: 0 }).outcomes)).toEqual(new Set(['cas-mismatch']));
    expect(request(net, nodes[5]!, 'put', key, { record: v2, cas: 1 }).outcomes).toContain('stored');
    expect(request(net, nodes[33]!, 'get', key, {}).record).toEqual(v2);
    expect(new Set(request(net, nodes[6]!, 'put', key, { record: v1 }).outcomes)).toEqual(new Set(['stale']));
  });
});
