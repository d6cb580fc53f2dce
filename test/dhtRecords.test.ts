import { describe, expect, it } from 'vitest';
import { P2PError } from '../src/errors.js';
import { generateIdentity, identityFromPem } from '../src/wire/identity.js';
import { RecordStore, type RecordStoreOptions } from '../src/dht/recordStore.js';
import {
  MAX_RECORD_SKEW_MS,
  MAX_TOPIC_TTL_MS,
  announcerOf,
  checkMutableRecord,
  checkTopicRecord,
  isMutableRecord,
  isTopicRecord,
  mutableKey,
  mutableRecordMessage,
  openTopicRecord,
  signMutableRecord,
  signTopicRecord,
  topicKey,
  topicRecordMessage,
  type MutableRecord,
  type TopicRecord,
} from '../src/dht/records.js';

// A fixed key, so the vectors below (also in docs/protocol.md) stay reproducible: Ed25519 is deterministic.
const PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIMCCxINGqFjFA/0OBiPmc0kzF75RFwPZqtrkDaebtKFQ\n-----END PRIVATE KEY-----\n';
const fixed = identityFromPem(PEM);
const FIXED_KEY = '6ZYAmdpo_KZP2zFWwF7oVeZIhDYETWOyrb88Gy92d48';
const FIXED_ID = 'bf719be8e2755f1063d633ba5d1080b7834194ff448c1c14001a8d5c62381de7';
const ROOM_42 = 'e508f11110e8ab92cb339415f2fe4ab668a29a9fa16b2bcb954acb010a8b87d7';
const TOPIC_VECTOR: TopicRecord = {
  type: 'topic', topic: ROOM_42, key: FIXED_KEY, ts: 1_700_000_000_000, ttl: 600_000,
  sig: 'Cz0AR_vnP1eX6RoBVtF6QSLgii568_YXgGROhk9ERrzFLPAF62Hu7frZC9kh38GkaPWZnF_k_R9E9xktneUhCg',
};
const MUTABLE_VECTOR: MutableRecord = {
  type: 'mutable', key: FIXED_KEY, name: 'profile', seq: 7, value: 'aGVsbG8sIGRodA',
  sig: 'lvCUhoOlT0jJQtQO05up7Oixc8hX5qUak5LQ88cYs0tvBIEhK7NaYKidYag_en2CMKs2ka60K7BuZFRF_Zc0Dg',
};
const PROFILE_KEY = '5f88850fcad71fd266336bd5f551027f16e0aa6185e03708c8c52b69da6ee220';
// A name that JSON must escape (quote, tab), with non-ASCII and U+2028 that it must not.
const ODD_NAME = 'notes/é "x"\t\u2028';

const alice = generateIdentity();
const bob = generateIdentity();
const T0 = 1_700_000_000_000;
const TTL = 600_000;
const room = topicKey('chat/room-42');
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const b64 = (data: Uint8Array): string => Buffer.from(data).toString('base64url');

/** A store on a clock the test moves. */
function storeAt(options: RecordStoreOptions = {}): { store: RecordStore; clock: { now: number } } {
  const clock = { now: T0 };
  return { store: new RecordStore({ ...options, now: () => clock.now }), clock };
}

describe('DHT records', () => {
  it('derive topic and mutable keys as the pinned vectors say', () => {
    expect(topicKey('chat/room-42')).toBe(ROOM_42);
    expect(fixed.publicKey).toBe(FIXED_KEY);
    expect(fixed.nodeId).toBe(FIXED_ID);
    expect(mutableKey(FIXED_ID, 'profile')).toBe(PROFILE_KEY);
    expect(mutableKey(FIXED_ID, ODD_NAME)).toBe('d401cbb6138960d62caabf783484aea3723500253856497c811179b0d408cbb2');
  });

  it('give different keys to different names and publishers', () => {
    expect(topicKey('chat/room-43')).not.toBe(ROOM_42);
    expect(mutableKey(alice.nodeId, 'profile')).not.toBe(mutableKey(bob.nodeId, 'profile'));
    expect(mutableKey(alice.nodeId, 'profile')).not.toBe(mutableKey(alice.nodeId, 'profile2'));
    expect(new Set([topicKey('a'), mutableKey(alice.nodeId, 'a'), alice.nodeId]).size).toBe(3);
  });

  it('refuse names that are empty, too long, not strings or not well-formed Unicode', () => {
    expect(topicKey('é'.repeat(128))).toMatch(/^[0-9a-f]{64}$/);
    expect(mutableKey(alice.nodeId, 'x'.repeat(64))).toMatch(/^[0-9a-f]{64}$/);
    const bad: Array<() => unknown> = [
      () => topicKey(''), () => topicKey('é'.repeat(128) + 'x'), () => topicKey(42 as unknown as string), () => topicKey('\ud800'),
      () => mutableKey(alice.nodeId, ''), () => mutableKey(alice.nodeId, 'é'.repeat(33)), () => mutableKey(alice.nodeId.toUpperCase(), 'a'),
      () => mutableKey(alice.publicKey, 'a'),
    ];
    for (const call of bad) expect(call).toThrow(expect.objectContaining({ name: 'P2PError', code: 'ERR_INVALID_DATA' }));
  });

  it('sign the pinned vectors from a fixed key, byte for byte', () => {
    expect(signTopicRecord(fixed, ROOM_42, T0, TTL)).toEqual(TOPIC_VECTOR);
    const topicBytes = `p2p-dht-node/record/v1\n["topic","${ROOM_42}","${FIXED_KEY}",1700000000000,600000]`;
    expect(Buffer.from(topicRecordMessage(TOPIC_VECTOR)).toString()).toBe(topicBytes);
    expect(signMutableRecord(fixed, 'profile', 7, bytes('hello, dht'))).toEqual(MUTABLE_VECTOR);
    const odd = signMutableRecord(fixed, ODD_NAME, 0, new Uint8Array(0));
    const escaped = 'notes/é \\"x\\"\\t\u2028'; // quote and tab escaped; é and U+2028 as UTF-8
    expect(Buffer.from(mutableRecordMessage(odd)).toString()).toBe(`p2p-dht-node/record/v1\n["mutable","${FIXED_KEY}","${escaped}",0,""]`);
    expect(odd.sig).toBe('UBZQQfC55DPoZ3UTFeko6oceLhG8AL1CMffFhhjyCVPssSQJya5KMheQXF22_Au-2RigtgMrybdtX719TkAmAA');
  });

  it('verify what was signed, and name the signer', () => {
    expect(checkTopicRecord(TOPIC_VECTOR, T0)).toBe('ok');
    expect(checkMutableRecord(MUTABLE_VECTOR)).toBe('ok');
    const topic = signTopicRecord(alice, room, T0, TTL);
    const record = signMutableRecord(bob, 'status', 0, bytes('away'));
    expect([checkTopicRecord(topic, T0), checkMutableRecord(record)]).toEqual(['ok', 'ok']);
    expect([announcerOf(topic), announcerOf(record)]).toEqual([alice.nodeId, bob.nodeId]);
    expect(Buffer.from(record.value, 'base64url').toString()).toBe('away');
    expect(signMutableRecord(alice, 'x'.repeat(64), Number.MAX_SAFE_INTEGER, new Uint8Array(1024)).value).toHaveLength(1366);
  });

  it('refuse every tampered field with bad-signature', () => {
    const topic = signTopicRecord(alice, room, T0, TTL);
    const now = T0 + 1000;
    const flipped = (sig: string): string => b64(Buffer.from(sig, 'base64url').map((b, i) => (i === 10 ? b ^ 1 : b)));
    const topics: TopicRecord[] = [
      { ...topic, topic: topicKey('chat/room-43') }, { ...topic, key: bob.publicKey }, { ...topic, ts: T0 + 1 },
      { ...topic, ttl: TTL + 1 }, { ...topic, sig: flipped(topic.sig) }, { ...topic, sig: signTopicRecord(bob, room, T0, TTL).sig },
    ];
    for (const t of topics) expect(checkTopicRecord(t, now)).toBe('bad-signature');
    const record = signMutableRecord(alice, 'status', 3, bytes('here'));
    const records: MutableRecord[] = [
      { ...record, key: bob.publicKey }, { ...record, name: 'status2' }, { ...record, seq: 4 }, { ...record, value: b64(bytes('gone')) },
      { ...record, sig: flipped(record.sig) },
    ];
    for (const r of records) expect(checkMutableRecord(r)).toBe('bad-signature');
    // A key of small order would take any signature: the fuzz suite's forgery.
    const forged = { ...record, key: 'AQ' + 'A'.repeat(41), sig: 'AQ' + 'A'.repeat(84) };
    expect(checkMutableRecord(forged)).toBe('bad-signature');
  });

  it('refuse malformed shapes: wrong types, bounds, lengths, encodings', () => {
    const topic = signTopicRecord(alice, room, T0, TTL);
    const record = signMutableRecord(alice, 'status', 3, bytes('here'));
    const nonCanonicalKey = topic.key.slice(0, 42) + String.fromCharCode(topic.key.charCodeAt(42) ^ 1);
    const topics: unknown[] = [
      null, 'topic', [topic], { ...topic, type: 'mutable' }, { ...topic, ts: T0 + 0.5 }, { ...topic, ts: -1 }, { ...topic, ts: String(T0) },
      { ...topic, ts: 2 ** 53 }, { ...topic, ttl: 0 }, { ...topic, ttl: MAX_TOPIC_TTL_MS + 1 }, { ...topic, ttl: 1.5 },
      { ...topic, topic: room.toUpperCase() }, { ...topic, topic: room.slice(1) }, { ...topic, key: topic.key.slice(1) },
      { ...topic, key: b64(new Uint8Array(33)) }, { ...topic, key: nonCanonicalKey }, { ...topic, key: `${topic.key}=` },
      { ...topic, sig: topic.sig.slice(1) }, { ...topic, sig: 'x'.repeat(1_000_000) }, { ...topic, sig: undefined },
    ];
    for (const t of topics) expect([isTopicRecord(t), checkTopicRecord(t, T0)]).toEqual([false, 'malformed']);
    const records: unknown[] = [
      { ...record, type: 'topic' }, { ...record, seq: -1 }, { ...record, seq: 1.5 }, { ...record, seq: 2 ** 53 }, { ...record, seq: '3' },
      { ...record, name: '' }, { ...record, name: 'é'.repeat(33) }, { ...record, name: 'a\udc00' }, { ...record, name: 7 },
      { ...record, value: b64(new Uint8Array(1025)) }, { ...record, value: 'abcde' }, { ...record, value: 'aGVsbG9=' },
      { ...record, key: b64(new Uint8Array(31)) }, { ...record, value: 'y'.repeat(5_000_000) },
    ];
    for (const r of records) expect([isMutableRecord(r), checkMutableRecord(r)]).toEqual([false, 'malformed']);
    const throwing = { ...record, get seq(): number { throw new Error('boom'); } };
    expect(checkMutableRecord(throwing)).toBe('malformed');
  });

  it('refuse to sign out of bounds', () => {
    const bad: Array<() => unknown> = [
      () => signTopicRecord(alice, 'chat/room-42', T0, TTL), () => signTopicRecord(alice, room, T0 + 0.5, TTL),
      () => signTopicRecord(alice, room, T0, 0), () => signTopicRecord(alice, room, T0, MAX_TOPIC_TTL_MS + 1),
      () => signMutableRecord(alice, '', 0, new Uint8Array(0)), () => signMutableRecord(alice, 'a', -1, new Uint8Array(0)),
      () => signMutableRecord(alice, 'a', 0, new Uint8Array(1025)), () => signMutableRecord(alice, 'a', 0, 'text' as unknown as Uint8Array),
    ];
    for (const call of bad) expect(call).toThrow(P2PError);
  });

  it('hold an announcement from ts for ttl ms, and refuse one from too far ahead', () => {
    const topic = signTopicRecord(alice, room, T0, TTL);
    expect([T0 - MAX_RECORD_SKEW_MS, T0 + TTL - 1].map((now) => checkTopicRecord(topic, now))).toEqual(['ok', 'ok']);
    expect([T0 + TTL, T0 + 10 * TTL].map((now) => checkTopicRecord(topic, now))).toEqual(['expired', 'expired']);
    expect(checkTopicRecord(topic, T0 - MAX_RECORD_SKEW_MS - 1)).toBe('future');
  });

  it('store a fresh copy of an announcement without unknown fields, frozen, newest first', () => {
    const { store } = storeAt();
    const extra = { ...signTopicRecord(alice, room, T0, TTL), note: 'ignored' };
    const newer = signTopicRecord(bob, room, T0 + 5, TTL);
    expect([store.storeTopic(extra), store.storeTopic(newer)]).toEqual(['stored', 'stored']);
    const held = store.topicRecords(room);
    expect(held.map(announcerOf)).toEqual([bob.nodeId, alice.nodeId]);
    expect(Object.keys(held[1]!)).toEqual(['type', 'topic', 'key', 'ts', 'ttl', 'sig']);
    expect(Object.isFrozen(held[1])).toBe(true);
    expect(store.topicRecords(topicKey('elsewhere'))).toEqual([]);
    expect(openTopicRecord(extra, T0)).toEqual({ ok: true, record: signTopicRecord(alice, room, T0, TTL) });
  });

  it("replace an announcer's record only with a higher ts", () => {
    const { store } = storeAt();
    expect(store.storeTopic(signTopicRecord(alice, room, T0 + 10, TTL))).toBe('stored');
    expect(store.storeTopic(signTopicRecord(alice, room, T0 + 10, TTL * 2))).toBe('stale');
    expect(store.storeTopic(signTopicRecord(alice, room, T0 + 9, TTL))).toBe('stale');
    expect(store.storeTopic(signTopicRecord(alice, room, T0 + 11, TTL))).toBe('stored');
    expect(store.topicRecords(room)).toEqual([signTopicRecord(alice, room, T0 + 11, TTL)]);
    expect(store.size()).toEqual({ topics: 1, announcements: 1, mutable: 0 });
  });

  it('pass on the check failures and drop announcements as they expire', () => {
    const { store, clock } = storeAt();
    const topic = signTopicRecord(alice, room, T0, TTL);
    expect(store.storeTopic({ ...topic, ttl: 'long' })).toBe('malformed');
    expect(store.storeTopic({ ...topic, ts: T0 + 1 })).toBe('bad-signature');
    expect(store.storeTopic(signTopicRecord(alice, room, T0 - TTL, TTL))).toBe('expired');
    expect(store.storeTopic(signTopicRecord(alice, room, T0 + MAX_RECORD_SKEW_MS + 1, TTL))).toBe('future');
    store.storeTopic(topic);
    store.storeTopic(signTopicRecord(bob, room, T0, 2 * TTL));
    clock.now = T0 + TTL;
    expect(store.topicRecords(room).map(announcerOf)).toEqual([bob.nodeId]);
    clock.now = T0 + 2 * TTL;
    expect([store.topicRecords(room), store.entries(), store.size()]).toEqual([[], [], { topics: 0, announcements: 0, mutable: 0 }]);
  });

  it('refuse a new announcer on a full topic, keep the slot of one who refreshes, free slots on expiry', () => {
    const { store, clock } = storeAt({ perTopic: 2 });
    const [a, b, c] = [alice, bob, generateIdentity()];
    const first = [signTopicRecord(a, room, T0, TTL), signTopicRecord(b, room, T0, TTL + 100), signTopicRecord(c, room, T0, TTL)];
    expect(first.map((r) => store.storeTopic(r))).toEqual(['stored', 'stored', 'full']);
    clock.now = T0 + TTL - 1;
    expect(store.storeTopic(signTopicRecord(a, room, clock.now, TTL))).toBe('stored');
    expect(store.storeTopic(signTopicRecord(c, room, clock.now, TTL))).toBe('full');
    clock.now = T0 + TTL + 100;
    expect(store.storeTopic(signTopicRecord(c, room, clock.now, TTL))).toBe('stored');
    expect(store.topicRecords(room).map(announcerOf).sort()).toEqual([a.nodeId, c.nodeId].sort());
  });

  it('bound the topics one announcer occupies and the distinct topics held', () => {
    const { store } = storeAt({ perAnnouncer: 2, maxTopics: 3 });
    const [t1, t2, t3, t4] = ['t1', 't2', 't3', 't4'].map(topicKey) as [string, string, string, string];
    expect([t1, t2, t3].map((t) => store.storeTopic(signTopicRecord(alice, t, T0, TTL)))).toEqual(['stored', 'stored', 'full']);
    expect(store.storeTopic(signTopicRecord(alice, t1, T0 + 1, TTL))).toBe('stored');
    expect(store.storeTopic(signTopicRecord(bob, t3, T0, TTL))).toBe('stored');
    expect(store.storeTopic(signTopicRecord(bob, t4, T0, TTL))).toBe('full');
    expect(store.storeTopic(signTopicRecord(generateIdentity(), t4, T0, TTL))).toBe('full');
    expect(store.storeTopic(signTopicRecord(bob, t1, T0, TTL))).toBe('stored');
    expect(store.size()).toEqual({ topics: 3, announcements: 4, mutable: 0 });
  });

  it('expire announcements in the order of ts + ttl however they arrive and are refreshed', () => {
    const { store, clock } = storeAt({ perTopic: 64, perAnnouncer: 64 });
    const people = Array.from({ length: 8 }, () => generateIdentity());
    const ends = new Map<string, number>();
    let seed = 7;
    const next = (n: number): number => (seed = (seed * 48_271) % 2_147_483_647) % n; // MINSTD
    // 64 slots refreshed 1000 times: the heap holds stale entries and gets compacted several times.
    for (let i = 0; i < 1000; i++) {
      const [who, topic, ttl] = [people[next(8)]!, topicKey(`t${next(8)}`), 1 + next(5000)];
      expect(store.storeTopic(signTopicRecord(who, topic, T0 + i, ttl))).toBe('stored');
      ends.set(`${topic}/${who.nodeId}`, T0 + i + ttl);
    }
    for (clock.now = T0; clock.now < T0 + 6000; clock.now += 3) {
      const live = [...ends].filter(([, end]) => end > clock.now).map(([id]) => id);
      const held = store.entries().map((r) => `${(r as TopicRecord).topic}/${announcerOf(r)}`);
      expect(held.sort()).toEqual(live.sort());
    }
  });

  it('store mutable records under their key, replace them by higher seq only, refresh an identical republish', () => {
    const { store, clock } = storeAt({ mutableTtlMs: 1000 });
    const key = mutableKey(alice.nodeId, 'status');
    const v1 = signMutableRecord(alice, 'status', 1, bytes('one'));
    expect([store.storeMutable({ ...v1, extra: true }), store.mutable(key)]).toEqual(['stored', v1]);
    expect(store.storeMutable(signMutableRecord(alice, 'status', 1, bytes('uno')))).toBe('stale');
    expect(store.storeMutable(signMutableRecord(alice, 'status', 0, bytes('zero')))).toBe('stale');
    expect(store.storeMutable({ ...v1, seq: 2 })).toBe('bad-signature');
    clock.now += 900;
    expect(store.storeMutable(v1)).toBe('stored');
    clock.now += 900;
    expect(store.mutable(key)).toEqual(v1);
    const v2 = signMutableRecord(alice, 'status', 2, bytes('two'));
    expect([store.storeMutable(v2), store.mutable(key)]).toEqual(['stored', v2]);
    expect(store.mutable(mutableKey(bob.nodeId, 'status'))).toBeUndefined();
    clock.now += 1000;
    expect([store.mutable(key), store.size().mutable]).toEqual([undefined, 0]);
  });

  it('compare and swap on the held seq', () => {
    const { store } = storeAt();
    const key = mutableKey(bob.nodeId, 'counter');
    expect(store.storeMutable(signMutableRecord(bob, 'counter', 0, bytes('0')), 0)).toBe('cas-mismatch');
    expect(store.storeMutable(signMutableRecord(bob, 'counter', 0, bytes('0')))).toBe('stored');
    expect(store.storeMutable(signMutableRecord(bob, 'counter', 5, bytes('5')), 3)).toBe('cas-mismatch');
    expect(store.storeMutable(signMutableRecord(bob, 'counter', 0, bytes('x')), 0)).toBe('stale');
    expect(store.storeMutable(signMutableRecord(bob, 'counter', 5, bytes('5')), 0)).toBe('stored');
    expect(store.mutable(key)?.seq).toBe(5);
  });

  it('bound the mutable records held, still replacing held ones when full', () => {
    const { store, clock } = storeAt({ maxMutable: 2, mutableTtlMs: 1000 });
    expect(['a', 'b', 'c'].map((n) => store.storeMutable(signMutableRecord(alice, n, 0, bytes(n))))).toEqual(['stored', 'stored', 'full']);
    expect(store.storeMutable(signMutableRecord(alice, 'a', 1, bytes('a')))).toBe('stored');
    expect(store.storeMutable(signMutableRecord(bob, 'a', 0, bytes('a')))).toBe('full');
    clock.now += 1000;
    expect(store.storeMutable(signMutableRecord(bob, 'a', 0, bytes('a')))).toBe('stored');
    expect(store.entries()).toEqual([signMutableRecord(bob, 'a', 0, bytes('a'))]);
  });

  it('list every live record of both kinds and count them', () => {
    const { store } = storeAt();
    const records = [signTopicRecord(alice, room, T0, TTL), signTopicRecord(bob, room, T0, TTL), signMutableRecord(bob, 'n', 0, bytes('v'))];
    for (const r of records) expect(r.type === 'topic' ? store.storeTopic(r) : store.storeMutable(r)).toBe('stored');
    expect(store.entries()).toEqual(records);
    expect(store.size()).toEqual({ topics: 1, announcements: 2, mutable: 1 });
  });

  it('refuse limits that are not positive integers', () => {
    for (const options of [{ perTopic: 0 }, { maxTopics: 1.5 }, { mutableTtlMs: -1 }, { maxMutable: Number.NaN }]) {
      expect(() => new RecordStore(options)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });
});
