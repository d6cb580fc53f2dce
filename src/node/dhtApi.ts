/**
 * The node's DHT methods: topics it announces under and watches, and signed mutable records. Each
 * turns into requests of the node's DHT engine; what comes back is verified there.
 */
import { Observable, Subject } from 'rxjs';
import type { LookupResult } from '../dht/lookup.js';
import { announcerOf, mutableKey, signMutableRecord, signTopicRecord, topicKey, MAX_NAME_BYTES, MAX_VALUE_BYTES } from '../dht/records.js';
import type { RequestExtras } from '../dht/requests.js';
import { P2PError, describeValue } from '../errors.js';
import type { Overlay } from '../services/overlay.js';
import { unref } from '../timers.js';
import { fromBase64Url } from '../wire/base64url.js';
import type { Identity } from '../wire/keys.js';
import type { NodeDhtOptions } from './options.js';

/** A node found under a topic the node has joined. */
export interface Discovery {
  topic: string;
  id: string;
}

/** What `put` stores: the value under (this node, `key`), with a `seq` above the stored one; `cas` = the seq it must replace. */
export interface PutRecord {
  key: string;
  value: string | Uint8Array;
  seq: number;
  cas?: number;
}

/** A mutable record as `get` returns it. */
export interface GotRecord {
  value: Uint8Array;
  seq: number;
}

interface Joined {
  announce: NodeJS.Timeout;
  discover: NodeJS.Timeout | undefined;
  seen: Set<string>;
  /** This node knew no other DHT node at the last announce or discover. */
  alone: boolean;
}

/**
 * While a node that joined a topic knows no other DHT node, its announcement reached only its own
 * store and its lookups only asked itself: it tries again this soon, rather than at the next
 * `discoverEveryMs`, so that the first two nodes of a network find each other within seconds.
 */
export const ALONE_RETRY_MS = 1000;

/**
 * @example
 * ```ts
 * const api = new DhtApi(identity, overlay, settings);
 * await api.join('chat/room-42');
 * api.discover$.subscribe(({ topic, id }) => connect(id));
 * ```
 */
export class DhtApi {
  readonly #joined = new Map<string, Joined>();
  readonly #discovered = new Subject<Discovery>();
  /** Nodes found under joined topics, each once per topic. */
  readonly discover$: Observable<Discovery> = this.#discovered.asObservable();

  constructor(
    private readonly identity: Identity,
    private readonly overlay: Overlay,
    private readonly settings: Required<NodeDhtOptions>,
  ) {}

  /** Announces this node under `topic` (and keeps announcing), and looks for others there. */
  async join(topic: string): Promise<void> {
    const key = topicKey(topic);
    if (this.#joined.has(topic)) return;
    await this.#announce(key);
    const joined: Joined = {
      announce: unref(setInterval(() => void this.#announce(key).catch(() => {}), this.settings.topicTtlMs / 3)),
      discover: undefined,
      seen: new Set(),
      alone: this.#alone(),
    };
    this.#joined.set(topic, joined);
    try {
      await this.#discover(topic);
    } finally {
      this.#nextDiscover(topic, joined);
    }
  }

  #alone(): boolean {
    return this.overlay.dht.table.size === 0;
  }

  /** Looks again after `discoverEveryMs`, or {@link ALONE_RETRY_MS} while alone; announces again on the first contact. */
  #nextDiscover(topic: string, joined: Joined): void {
    const again = async (): Promise<void> => {
      const wasAlone = joined.alone;
      joined.alone = this.#alone();
      if (wasAlone && !joined.alone) await this.#announce(topicKey(topic)).catch(() => {});
      await this.#discover(topic).catch(() => {});
    };
    joined.discover = unref(
      setTimeout(() => void again().finally(() => this.#joined.get(topic) === joined && this.#nextDiscover(topic, joined)), joined.alone ? ALONE_RETRY_MS : this.settings.discoverEveryMs),
    );
  }

  /** Stops announcing under `topic` (the announcement expires) and stops looking there. */
  leave(topic: string): void {
    const joined = this.#joined.get(topic);
    if (!joined) return;
    clearInterval(joined.announce);
    clearTimeout(joined.discover);
    this.#joined.delete(topic);
  }

  /** The ids of fresh, signature-checked announcements under `topic`, ours left out. */
  async lookup(topic: string): Promise<string[]> {
    const result = await this.#request('find-topic', topicKey(topic), {});
    if (result.replies === 0 && result.topics.length === 0) throw unreachable('find-topic');
    return result.topics.map(announcerOf).filter((id) => id !== this.identity.nodeId);
  }

  /** Stores a signed record under (this node, `record.key`) at the nodes closest to it. */
  async put(record: PutRecord): Promise<void> {
    const { key, value, seq, cas } = checkPut(record);
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    const signed = signMutableRecord(this.identity, key, seq, bytes);
    const result = await this.#request('put', mutableKey(this.identity.nodeId, key), { record: signed, ...(cas === undefined ? {} : { cas }) });
    if (result.outcomes.includes('stored')) return;
    if (result.outcomes.length === 0) throw unreachable('put');
    throw new P2PError('ERR_DHT_REFUSED', `no node stored the record: ${[...new Set(result.outcomes)].join(', ')}`);
  }

  /** The record `nodeId` stored under `key` with the highest seq found, or undefined. */
  async get(nodeId: string, key: string): Promise<GotRecord | undefined> {
    const result = await this.#request('get', mutableKey(nodeId, checkName(key)), {});
    if (result.record) return { value: fromBase64Url(result.record.value), seq: result.record.seq };
    if (result.replies === 0) throw unreachable('get');
    return undefined;
  }

  /**
   * A route through the overlay to `nodeId`: the path of the lookup answer that named it, if a
   * lookup of its id finds it (connections signaled along it reach it even where greedy routing
   * would not).
   */
  async routeTo(nodeId: string): Promise<string[] | undefined> {
    const result = await new Promise<LookupResult>((resolve) => this.overlay.dht.request('find', nodeId, {}, resolve));
    return result.routes.get(nodeId);
  }

  /** Topics joined now. */
  topics(): string[] {
    return [...this.#joined.keys()];
  }

  stop(): void {
    for (const topic of [...this.#joined.keys()]) this.leave(topic);
    this.#discovered.complete();
  }

  async #announce(key: string): Promise<void> {
    const record = signTopicRecord(this.identity, key, Date.now(), this.settings.topicTtlMs);
    const result = await this.#request('announce', key, { topic: record });
    if (!result.outcomes.includes('stored')) throw result.outcomes.length === 0 ? unreachable('announce') : new P2PError('ERR_DHT_REFUSED', `no node stored the announcement: ${[...new Set(result.outcomes)].join(', ')}`);
  }

  async #discover(topic: string): Promise<void> {
    const ids = await this.lookup(topic);
    const joined = this.#joined.get(topic);
    for (const id of ids) {
      if (!joined || joined.seen.has(id)) continue;
      joined.seen.add(id);
      this.#discovered.next({ topic, id });
    }
  }

  #request(kind: 'find-topic' | 'announce' | 'put' | 'get', target: string, extras: RequestExtras): Promise<LookupResult> {
    return new Promise((resolve) => this.overlay.dht.request(kind, target, extras, resolve));
  }
}

function unreachable(what: string): P2PError {
  return new P2PError('ERR_DHT_UNREACHABLE', `no DHT node answered the ${what} (no contacts yet, or every path failed)`);
}

function checkName(key: unknown): string {
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_NAME_BYTES) {
    throw new P2PError('ERR_INVALID_DATA', `a record key is 1 to ${MAX_NAME_BYTES} bytes of text, got ${describeValue(key)}`);
  }
  return key;
}

function checkPut(record: unknown): PutRecord {
  if (typeof record !== 'object' || record === null) throw new P2PError('ERR_INVALID_DATA', `put takes { key, value, seq }, got ${describeValue(record)}`);
  const { key, value, seq, cas } = record as Record<string, unknown>;
  checkName(key);
  const size = typeof value === 'string' ? Buffer.byteLength(value) : value instanceof Uint8Array ? value.length : -1;
  if (size < 0 || size > MAX_VALUE_BYTES) throw new P2PError('ERR_INVALID_DATA', `a record value is a string or Uint8Array of at most ${MAX_VALUE_BYTES} bytes`);
  for (const [name, n] of [['seq', seq], ['cas', cas]] as const) {
    if (n !== undefined && !(Number.isSafeInteger(n) && (n as number) >= 0)) throw new P2PError('ERR_INVALID_DATA', `${name} must be an integer >= 0, got ${describeValue(n)}`);
  }
  if (seq === undefined) throw new P2PError('ERR_INVALID_DATA', 'put needs a seq');
  return record as PutRecord;
}
