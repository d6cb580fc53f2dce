/**
 * The records side of a DHT node: what it answers from its store, how a stored record reaches the
 * other nodes closest to its key, and what it hands a new neighbour.
 *
 * @module
 */
import { keyOf } from './keyspace.js';
import type { Lookup } from './lookup.js';
import type { DhtMessage, Replicate, RouteReply, RouteRequest } from './messages.js';
import { MAX_RECORDS } from './messages.js';
import { announcerOf, mutableKey, type MutableRecord, type TopicRecord } from './records.js';
import type { RecordStore, StoreOutcome } from './recordStore.js';
import type { Links } from './links.js';

/** The DHT key a record is stored under. */
export function recordKey(record: TopicRecord | MutableRecord): string {
  return record.type === 'topic' ? record.topic : mutableKey(announcerOf(record), record.name);
}

/**
 * @example
 * ```ts
 * const replicas = new Replicas(store, links, send, 8);
 * replicas.fill(reply, request);  // answer a request that ends (or passes) here
 * replicas.handOver(newPeerId);   // give a new neighbour the records it should hold
 * ```
 */
export class Replicas {
  constructor(
    readonly store: RecordStore,
    private readonly links: () => Links,
    private readonly send: (peerId: string, message: DhtMessage) => void,
    /** Nodes that hold each record. */
    private readonly replication: number,
  ) {}

  /** Adds to `reply` what this node holds or stores for `request`. */
  fill(reply: RouteReply, request: RouteRequest): void {
    switch (request.kind) {
      case 'find-topic':
        reply.topics = this.store.topicRecords(request.target).slice(0, MAX_RECORDS);
        break;
      case 'get': {
        const record = this.store.mutable(request.target);
        if (record) reply.record = record;
        break;
      }
      case 'announce':
      case 'put':
        reply.outcome = this.storeFor(request);
        break;
    }
  }

  /** Stores the record an `announce` or `put` carries, if it belongs under the request's target, and passes it on. */
  storeFor(request: RouteRequest): StoreOutcome | 'wrong-key' {
    const record = request.kind === 'announce' ? request.topic : request.record;
    if (!record) return 'malformed';
    // The key is derived from the signed fields, so a record cannot be planted under another key.
    if (recordKey(record) !== request.target) return 'wrong-key';
    const outcome = record.type === 'topic' ? this.store.storeTopic(record) : this.store.storeMutable(record, request.cas);
    if (outcome === 'stored') this.#replicate(request.target, record.type === 'topic' ? { t: 'rep', topics: [record], records: [] } : { t: 'rep', topics: [], records: [record] });
    return outcome;
  }

  /** What this node holds for a request it starts itself. */
  addLocal(lookup: Lookup, request: RouteRequest, closest: boolean): void {
    if (request.kind === 'find-topic') lookup.addTopics(this.store.topicRecords(request.target));
    if (request.kind === 'get') {
      const record = this.store.mutable(request.target);
      if (record) lookup.addRecord(record);
    }
    // The node itself is one of the holders: its own outcome counts like any other's.
    if ((request.kind === 'announce' || request.kind === 'put') && closest) lookup.result.outcomes.push(this.storeFor(request));
  }

  /** Records a neighbour passed on; each is checked as any stored record is. */
  receive(message: Replicate): void {
    for (const record of message.topics) this.store.storeTopic(record);
    for (const record of message.records) this.store.storeMutable(record);
  }

  /** Gives a new neighbour the records it is now among the closest nodes to. */
  handOver(peerId: string): void {
    const topics: TopicRecord[] = [];
    const records: MutableRecord[] = [];
    for (const record of this.store.entries()) {
      const holders = this.links().closest(keyOf(recordKey(record)), this.replication);
      if (!holders.some((c) => c.id === peerId)) continue;
      if (record.type === 'topic') topics.push(record);
      else records.push(record);
    }
    for (let i = 0; i < Math.max(topics.length, records.length); i += MAX_RECORDS) {
      this.send(peerId, { t: 'rep', topics: topics.slice(i, i + MAX_RECORDS), records: records.slice(i, i + MAX_RECORDS) });
    }
  }

  #replicate(key: string, message: Replicate): void {
    for (const contact of this.links().closest(keyOf(key), this.replication - 1)) this.send(contact.id, message);
  }
}
