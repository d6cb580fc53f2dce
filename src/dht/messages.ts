/**
 * The DHT's messages on the data channel (record type `Dht`, docs/protocol.md §14): one JSON object
 * per record. Requests are routed hop by hop toward a target key; replies walk the request's path
 * back. Parsing is the only place their shapes are checked.
 *
 * @module
 */
import { isNodeId } from '../wire/keys.js';
import { isMutableRecord, isTopicRecord, type MutableRecord, type TopicRecord } from './records.js';

/** Requests that travel toward a key. */
export const ROUTE_KINDS = ['find', 'find-topic', 'announce', 'get', 'put', 'signal'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

/** Most nodes a request may pass, origin included; a request with a full path is dropped. */
export const MAX_HOPS = 16;
/** Most node ids in a reply's `closest`. */
export const MAX_CLOSEST = 20;
/** Most topic records in one reply or replication message. */
export const MAX_RECORDS = 32;
/** Longest encoded message: a signal carries an envelope of up to 16 KiB of payload. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** A request on its way to the node closest to `target`. */
export interface RouteRequest {
  t: 'req';
  /** 16 random bytes, base64url: names the request at every hop and in its replies. */
  rid: string;
  kind: RouteKind;
  /** The key sought, 64 lower-case hex digits. */
  target: string;
  /** The nodes the request has passed, origin first; each forwarder appends its own id. */
  path: string[];
  /** `announce`: the record to store. */
  topic?: TopicRecord;
  /** `put`: the record to store. */
  record?: MutableRecord;
  /** `put`: store only if the stored record has this seq (compare-and-swap). */
  cas?: number;
  /** `signal`: a signaling envelope (docs/protocol.md §7), delivered only to the node whose id is `target`. */
  envelope?: unknown;
  /**
   * `signal`: nodes to pass, in order, before the target, learned from the lookup that found it
   * (or from the path an earlier signal of the session took); each forwards to the next one it has
   * a link to, and the rest of the way is greedy.
   */
  via?: string[];
  /**
   * Other kinds: nodes no forwarder may pass the request to, set by the origin when it sends a
   * request again: those that ended a path of the first attempt with an answer from far away.
   */
  avoid?: string[];
}

/** A terminal node's answer, sent back along the request's path. */
export interface RouteReply {
  t: 'res';
  rid: string;
  /** The request's path, which the reply walks backwards to `path[0]`. */
  path: string[];
  /** The node that answered. */
  from: string;
  /** The answering node and its contacts, closest to the target first. */
  closest: string[];
  /** `find-topic`: fresh announcements stored under the target. */
  topics?: TopicRecord[];
  /** `get`: the mutable record stored under the target. */
  record?: MutableRecord;
  /** `announce` and `put`: what the answering node's store did (`stored`, `stale`, …). */
  outcome?: string;
}

/** Records a node hands to a neighbour that is among the closest to their keys (one hop, not routed). */
export interface Replicate {
  t: 'rep';
  topics: TopicRecord[];
  records: MutableRecord[];
}

/**
 * "I do not hold this link": sent when a node refuses or evicts a peer it has a link to, unless its
 * application uses the link. A link stays open while either end holds it, so it closes once both
 * have said this (and neither said {@link Needed}).
 */
export interface Unneeded {
  t: 'unneeded';
}

/**
 * "My application uses this link": sent once per link when the application starts using it (or as
 * it opens); the peer keeps it open and off its DHT connection budget, and it retracts an earlier
 * {@link Unneeded}.
 */
export interface Needed {
  t: 'needed';
}

/**
 * "I hold this link again": sent when a node's table takes, after a contact left, a link it had
 * said {@link Unneeded} over; it retracts that `unneeded`.
 */
export interface Held {
  t: 'held';
}

export type DhtMessage = RouteRequest | RouteReply | Replicate | Unneeded | Needed | Held;

const RID = /^[A-Za-z0-9_-]{22}$/;
const KEY = /^[0-9a-f]{64}$/;

const isIdList = (value: unknown, max: number): value is string[] =>
  Array.isArray(value) && value.length <= max && value.every(isNodeId);

function isRequest(m: Record<string, unknown>): boolean {
  if (!(ROUTE_KINDS as readonly unknown[]).includes(m.kind) || typeof m.target !== 'string' || !KEY.test(m.target)) return false;
  if (!isIdList(m.path, MAX_HOPS) || m.path.length === 0) return false;
  if (m.avoid !== undefined && !(isIdList(m.avoid, MAX_HOPS) && m.avoid.length > 0)) return false;
  switch (m.kind as RouteKind) {
    case 'announce':
      return isTopicRecord(m.topic);
    case 'put':
      return isMutableRecord(m.record) && (m.cas === undefined || (Number.isSafeInteger(m.cas) && (m.cas as number) >= 0));
    case 'signal':
      return typeof m.envelope === 'object' && m.envelope !== null && (m.via === undefined || isIdList(m.via, MAX_HOPS));
    default:
      return true;
  }
}

function isReply(m: Record<string, unknown>): boolean {
  return (
    isIdList(m.path, MAX_HOPS) &&
    m.path.length > 0 &&
    isNodeId(m.from) &&
    isIdList(m.closest, MAX_CLOSEST) &&
    (m.topics === undefined || (Array.isArray(m.topics) && m.topics.length <= MAX_RECORDS && m.topics.every(isTopicRecord))) &&
    (m.record === undefined || isMutableRecord(m.record)) &&
    (m.outcome === undefined || (typeof m.outcome === 'string' && m.outcome.length <= 32))
  );
}

function isReplicate(m: Record<string, unknown>): boolean {
  return (
    Array.isArray(m.topics) &&
    m.topics.length <= MAX_RECORDS &&
    m.topics.every(isTopicRecord) &&
    Array.isArray(m.records) &&
    m.records.length <= MAX_RECORDS &&
    m.records.every(isMutableRecord)
  );
}

/** Checks the shape of a decoded message; signatures are checked where records are used. */
export function isDhtMessage(value: unknown): value is DhtMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (m.t === 'rep') return isReplicate(m);
  if (m.t === 'unneeded' || m.t === 'needed' || m.t === 'held') return true;
  if (typeof m.rid !== 'string' || !RID.test(m.rid)) return false;
  return m.t === 'req' ? isRequest(m) : m.t === 'res' ? isReply(m) : false;
}

/** The bytes of a message on the channel: UTF-8 JSON. */
export function encodeDhtMessage(message: DhtMessage): Uint8Array {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/** A message from the channel, or undefined for anything malformed or oversized. */
export function decodeDhtMessage(bytes: Uint8Array): DhtMessage | undefined {
  if (bytes.byteLength > MAX_MESSAGE_BYTES) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  return isDhtMessage(value) ? value : undefined;
}
