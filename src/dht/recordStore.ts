/**
 * The records a DHT node keeps for others: verified on the way in, bounded in every dimension a
 * stranger controls, and expired by the time the caller's clock gives.
 *
 * @module
 */
import { P2PError, describeValue } from '../errors.js';
import {
  announcerOf,
  mutableKey,
  openMutableRecord,
  openTopicRecord,
  type MutableRecord,
  type RecordCheck,
  type TopicRecord,
} from './records.js';

/** What became of a record offered to {@link RecordStore}. */
export type StoreOutcome = 'stored' | 'stale' | 'cas-mismatch' | 'full' | Exclude<RecordCheck, 'ok'>;

/** Limits of a {@link RecordStore} (defaults in {@link RECORD_STORE_DEFAULTS}) and its clock. */
export interface RecordStoreOptions {
  /** Distinct topic keys held. */
  maxTopics?: number;
  /** Announcements held per topic. */
  perTopic?: number;
  /** Topics one announcer may occupy in this store. */
  perAnnouncer?: number;
  /** Mutable records held. */
  maxMutable?: number;
  /** How long a mutable record is kept after it was last stored: publishers republish. */
  mutableTtlMs?: number;
  /** The clock that expires records, ms since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The limits a {@link RecordStore} uses for the options it is not given. */
export const RECORD_STORE_DEFAULTS: Readonly<Required<Omit<RecordStoreOptions, 'now'>>> = Object.freeze({
  maxTopics: 1000,
  perTopic: 32,
  perAnnouncer: 16,
  maxMutable: 1000,
  mutableTtlMs: 2 * 60 * 60_000,
});

/** When a stored announcement runs out; `ts` tells whether it still is the stored one or was replaced. */
interface Expiry {
  at: number;
  topic: string;
  announcer: string;
  ts: number;
}

/** Binary min-heap on `at`, so expiring costs O(log n) per record instead of a sweep of the store. */
function heapPush(heap: Expiry[], entry: Expiry): void {
  let i = heap.push(entry) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]!.at <= entry.at) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = entry;
}

function heapPop(heap: Expiry[]): void {
  const last = heap.pop()!;
  if (heap.length === 0) return;
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= heap.length) break;
    if (child + 1 < heap.length && heap[child + 1]!.at < heap[child]!.at) child++;
    if (heap[child]!.at >= last.at) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = last;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new P2PError('ERR_INVALID_OPTION', `${name} must be a positive integer, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Topic announcements and mutable records held for other nodes. A slot, once held, is kept by
 * refreshing: a full topic refuses newcomers instead of evicting, so a flood of fresh keys cannot
 * push honest announcers out. Records handed out are frozen.
 *
 * @example
 * ```ts
 * const store = new RecordStore({ now: () => clock.now() });
 * store.storeTopic(signTopicRecord(identity, topicKey('chat/room-42'), Date.now(), 600_000)); // 'stored'
 * store.topicRecords(topicKey('chat/room-42')); // [that record]
 * store.storeMutable(signMutableRecord(identity, 'profile', 1, bytes), 0); // 'stored' if seq 0 is held
 * ```
 */
export class RecordStore {
  readonly #limits: Required<Omit<RecordStoreOptions, 'now'>>;
  readonly #now: () => number;
  /** topic key → announcer id → record. */
  readonly #topics = new Map<string, Map<string, TopicRecord>>();
  /** announcer id → how many topics it occupies. */
  readonly #perAnnouncer = new Map<string, number>();
  #announcements = 0;
  /** Replaced announcements leave their entry behind; it is skipped when popped and compacted away. */
  #expiries: Expiry[] = [];
  /** Re-inserted on every store, so insertion order is expiry order. */
  readonly #mutable = new Map<string, { record: MutableRecord; until: number }>();
  #lastMutableAt = -Infinity;

  constructor(options: RecordStoreOptions = {}) {
    const d = RECORD_STORE_DEFAULTS;
    this.#limits = {
      maxTopics: positiveInteger('maxTopics', options.maxTopics, d.maxTopics),
      perTopic: positiveInteger('perTopic', options.perTopic, d.perTopic),
      perAnnouncer: positiveInteger('perAnnouncer', options.perAnnouncer, d.perAnnouncer),
      maxMutable: positiveInteger('maxMutable', options.maxMutable, d.maxMutable),
      mutableTtlMs: positiveInteger('mutableTtlMs', options.mutableTtlMs, d.mutableTtlMs),
    };
    this.#now = options.now ?? Date.now;
  }

  /**
   * Verifies and stores an announcement. The announcer's own earlier one is replaced only by a higher
   * `ts`; a new announcer is refused ('full') when the topic, the announcer's share or the store is full.
   */
  storeTopic(value: unknown): StoreOutcome {
    const now = this.#now();
    const opened = openTopicRecord(value, now);
    if (!opened.ok) return opened.reason;
    const record = Object.freeze(opened.record);
    this.#expire(now);
    const announcer = announcerOf(record);
    const holders = this.#topics.get(record.topic);
    const held = holders?.get(announcer);
    if (held) {
      // The same announcement again (it reached us by replication and by its own path): already stored.
      if (record.ts === held.ts && record.sig === held.sig) return 'stored';
      if (record.ts <= held.ts) return 'stale';
    } else {
      const occupied = this.#perAnnouncer.get(announcer) ?? 0;
      if (holders ? holders.size >= this.#limits.perTopic : this.#topics.size >= this.#limits.maxTopics) return 'full';
      if (occupied >= this.#limits.perAnnouncer) return 'full';
      this.#perAnnouncer.set(announcer, occupied + 1);
      this.#announcements++;
    }
    if (holders) holders.set(announcer, record);
    else this.#topics.set(record.topic, new Map([[announcer, record]]));
    heapPush(this.#expiries, { at: record.ts + record.ttl, topic: record.topic, announcer, ts: record.ts });
    // Refreshes leave dead entries behind; rebuilding at twice the live count bounds the heap.
    if (this.#expiries.length > 2 * this.#announcements + 64) this.#compact();
    return 'stored';
  }

  /** The unexpired announcements of `topic` (a topic key), newest first. */
  topicRecords(topic: string): TopicRecord[] {
    this.#expire(this.#now());
    const holders = this.#topics.get(topic);
    if (!holders) return [];
    return [...holders.values()].sort((a, b) => b.ts - a.ts || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * Verifies and stores a mutable record: a higher `seq` replaces the held one; the same `seq` and
   * value only restarts its storage time (a republish); anything else is 'stale'. With `cas`, the
   * held record must have exactly that `seq` ('cas-mismatch' otherwise, checked first).
   */
  storeMutable(value: unknown, cas?: number): StoreOutcome {
    const opened = openMutableRecord(value);
    if (!opened.ok) return opened.reason;
    const record = Object.freeze(opened.record);
    const now = this.#now();
    this.#expireMutable(now);
    const key = mutableKey(announcerOf(record), record.name);
    const held = this.#mutable.get(key)?.record;
    if (cas !== undefined && held?.seq !== cas) return 'cas-mismatch';
    if (held && (record.seq < held.seq || (record.seq === held.seq && record.value !== held.value))) return 'stale';
    if (!held && this.#mutable.size >= this.#limits.maxMutable) return 'full';
    // A clock that steps back must not put a record behind ones that expire later.
    const at = Math.max(now, this.#lastMutableAt);
    this.#lastMutableAt = at;
    this.#mutable.delete(key);
    // A republish carries the same signed content, so the held object stays.
    this.#mutable.set(key, { record: held?.seq === record.seq ? held : record, until: at + this.#limits.mutableTtlMs });
    return 'stored';
  }

  /** The mutable record under `key` (a {@link mutableKey}), unless it expired. */
  mutable(key: string): MutableRecord | undefined {
    this.#expireMutable(this.#now());
    return this.#mutable.get(key)?.record;
  }

  /** Every live record, to hand over to a node that has become one of the closest to their keys. */
  entries(): Array<TopicRecord | MutableRecord> {
    const now = this.#now();
    this.#expire(now);
    this.#expireMutable(now);
    const out: Array<TopicRecord | MutableRecord> = [];
    for (const holders of this.#topics.values()) out.push(...holders.values());
    for (const { record } of this.#mutable.values()) out.push(record);
    return out;
  }

  /** How much is held: distinct topics, announcements across them, mutable records. */
  size(): { topics: number; announcements: number; mutable: number } {
    const now = this.#now();
    this.#expire(now);
    this.#expireMutable(now);
    return { topics: this.#topics.size, announcements: this.#announcements, mutable: this.#mutable.size };
  }

  #expire(now: number): void {
    const heap = this.#expiries;
    while (heap.length > 0 && heap[0]!.at <= now) {
      const { topic, announcer, ts } = heap[0]!;
      heapPop(heap);
      const holders = this.#topics.get(topic);
      if (holders?.get(announcer)?.ts !== ts) continue; // replaced since
      holders.delete(announcer);
      if (holders.size === 0) this.#topics.delete(topic);
      const occupied = this.#perAnnouncer.get(announcer)! - 1;
      if (occupied === 0) this.#perAnnouncer.delete(announcer);
      else this.#perAnnouncer.set(announcer, occupied);
      this.#announcements--;
    }
  }

  #compact(): void {
    const live: Expiry[] = [];
    for (const [topic, holders] of this.#topics) {
      for (const [announcer, r] of holders) live.push({ at: r.ts + r.ttl, topic, announcer, ts: r.ts });
    }
    this.#expiries = live.sort((a, b) => a.at - b.at); // a sorted array is a valid min-heap
  }

  #expireMutable(now: number): void {
    for (const [key, { until }] of this.#mutable) {
      if (until > now) return;
      this.#mutable.delete(key);
    }
  }
}
