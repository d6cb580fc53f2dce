/**
 * The two signed records the DHT stores for others: topic announcements ("the node with this key is
 * under this topic, for a while") and BEP-44-like mutable records (a value under (publisher, name)
 * with a sequence number). Both are self-certifying: whoever relays or stores them can check them
 * without trusting the relay. Pure: no IO and no clock, callers pass `now`.
 *
 * @module
 */
import { P2PError, describeValue } from '../errors.js';
import { fromBase64Url, isCanonicalBase64Url, toBase64Url } from '../wire/base64url.js';
import { sha256 } from '../wire/crypto.js';
import { isNodeId, nodeIdOf, verifySignature, type Identity } from '../wire/keys.js';

/** Prefix of the bytes signed for every record, and of the string hashed into a mutable record's key. */
export const RECORD_CONTEXT = 'p2p-dht-node/record/v1\n';
/** Prefix of the string hashed into a topic key, so a topic key can never equal a mutable record's key. */
export const TOPIC_CONTEXT = 'p2p-dht-node/topic/v1\n';
/** Most UTF-8 bytes in a topic name (at least 1). */
export const MAX_TOPIC_NAME_BYTES = 256;
/** Longest life of an announcement: announcers refresh, so a departed node drops out within this. */
export const MAX_TOPIC_TTL_MS = 30 * 60_000;
/** How far in the future a record's `ts` may be, for clocks that disagree. */
export const MAX_RECORD_SKEW_MS = 120_000;
/** Most decoded bytes in a mutable record's value. */
export const MAX_VALUE_BYTES = 1024;
/** Most UTF-8 bytes in a mutable record's name (at least 1). */
export const MAX_NAME_BYTES = 64;

/** "The node with public key `key` is under the topic whose DHT key is `topic`, from `ts` for `ttl` ms." */
export interface TopicRecord {
  type: 'topic';
  /** The topic's DHT key ({@link topicKey}): 64 lower-case hex digits. */
  topic: string;
  /** The announcer's raw Ed25519 public key, base64url. */
  key: string;
  /** When the announcement was signed, ms since the epoch (a non-negative safe integer). */
  ts: number;
  /** How long it holds, ms, 1..{@link MAX_TOPIC_TTL_MS}. */
  ttl: number;
  /** Ed25519 signature of {@link topicRecordMessage}, base64url. */
  sig: string;
}

/** BEP-44-like mutable record: a value under (publisher, name); a higher `seq` supersedes a lower one. */
export interface MutableRecord {
  type: 'mutable';
  /** The publisher's raw Ed25519 public key, base64url. */
  key: string;
  /** 1..{@link MAX_NAME_BYTES} UTF-8 bytes, well-formed Unicode. */
  name: string;
  /** 0..Number.MAX_SAFE_INTEGER. */
  seq: number;
  /** Canonical base64url of at most {@link MAX_VALUE_BYTES} bytes. */
  value: string;
  /** Ed25519 signature of {@link mutableRecordMessage}, base64url. */
  sig: string;
}

/** The verdict on an untrusted record; every failure is a reason to drop it, never an exception. */
export type RecordCheck = 'ok' | 'malformed' | 'bad-signature' | 'expired' | 'future';

/** A verified record, as a fresh object holding only the known fields, or why it was refused. */
export type RecordResult<R> = { ok: true; record: R } | { ok: false; reason: Exclude<RecordCheck, 'ok'> };

// Lone surrogates have no UTF-8 encoding, so other implementations could not hash or sign the name.
const LONE_SURROGATE = /\p{Cs}/u;
const MAX_VALUE_CHARS = Math.ceil((MAX_VALUE_BYTES * 4) / 3);

const isKey = (value: unknown): value is string => isCanonicalBase64Url(value, 43, 43);
const isSig = (value: unknown): value is string => isCanonicalBase64Url(value, 86, 86);
const isValue = (value: unknown): value is string => isCanonicalBase64Url(value, 0, MAX_VALUE_CHARS);
const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isTtl = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= MAX_TOPIC_TTL_MS;

function isName(value: unknown, maxBytes: number): value is string {
  // UTF-16 length never exceeds UTF-8 length, so the cheap test first bounds the work on huge strings.
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= maxBytes &&
    !LONE_SURROGATE.test(value) &&
    Buffer.byteLength(value, 'utf8') <= maxBytes
  );
}

function invalid(what: string, value: unknown): P2PError {
  return new P2PError('ERR_INVALID_DATA', `${what}, got ${describeValue(value)}`);
}

const sha256Hex = (text: string): string => Buffer.from(sha256(text)).toString('hex');

/** Hex SHA-256 of UTF-8(TOPIC_CONTEXT + name): where the announcements of a topic are stored. */
export function topicKey(name: string): string {
  if (!isName(name, MAX_TOPIC_NAME_BYTES)) throw invalid(`a topic name is 1..${MAX_TOPIC_NAME_BYTES} UTF-8 bytes`, name);
  return sha256Hex(TOPIC_CONTEXT + name);
}

/**
 * Hex SHA-256 of UTF-8(RECORD_CONTEXT + JSON.stringify(['mutable', publisherId, name])): the DHT key
 * of a mutable record. The publisher's id is in it, so no one else can write under that key.
 */
export function mutableKey(publisherId: string, name: string): string {
  if (!isNodeId(publisherId)) throw invalid('a publisher id is 64 lower-case hex digits', publisherId);
  if (!isName(name, MAX_NAME_BYTES)) throw invalid(`a record name is 1..${MAX_NAME_BYTES} UTF-8 bytes`, name);
  return sha256Hex(RECORD_CONTEXT + JSON.stringify(['mutable', publisherId, name]));
}

/** The bytes signed for a topic record: every field but `sig`, in a fixed order. */
export function topicRecordMessage(r: Omit<TopicRecord, 'sig'>): Uint8Array {
  return Buffer.from(RECORD_CONTEXT + JSON.stringify(['topic', r.topic, r.key, r.ts, r.ttl]), 'utf8');
}

/** The bytes signed for a mutable record: every field but `sig`, in a fixed order. */
export function mutableRecordMessage(r: Omit<MutableRecord, 'sig'>): Uint8Array {
  return Buffer.from(RECORD_CONTEXT + JSON.stringify(['mutable', r.key, r.name, r.seq, r.value]), 'utf8');
}


/** Announces `identity` under `topic` (a {@link topicKey}) from `ts` for `ttl` ms; throws ERR_INVALID_DATA on bad input. */
export function signTopicRecord(identity: Identity, topic: string, ts: number, ttl: number): TopicRecord {
  if (!isNodeId(topic)) throw invalid('a topic is a topic key (64 lower-case hex digits)', topic);
  if (!isTime(ts)) throw invalid('ts is a non-negative safe integer', ts);
  if (!isTtl(ttl)) throw invalid(`ttl is an integer 1..${MAX_TOPIC_TTL_MS}`, ttl);
  const unsigned = { type: 'topic' as const, topic, key: identity.publicKey, ts, ttl };
  return { ...unsigned, sig: toBase64Url(identity.sign(topicRecordMessage(unsigned))) };
}

/** Publishes `value` under (`identity`, `name`) as version `seq`; throws ERR_INVALID_DATA on bad input. */
export function signMutableRecord(identity: Identity, name: string, seq: number, value: Uint8Array): MutableRecord {
  if (!isName(name, MAX_NAME_BYTES)) throw invalid(`a record name is 1..${MAX_NAME_BYTES} UTF-8 bytes`, name);
  if (!isTime(seq)) throw invalid('seq is a non-negative safe integer', seq);
  if (!(value instanceof Uint8Array) || value.byteLength > MAX_VALUE_BYTES) {
    throw invalid(`a value is at most ${MAX_VALUE_BYTES} bytes`, value);
  }
  const unsigned = { type: 'mutable' as const, key: identity.publicKey, name, seq, value: toBase64Url(value) };
  return { ...unsigned, sig: toBase64Url(identity.sign(mutableRecordMessage(unsigned))) };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads each field once into a fresh object, then checks the copy: a getter cannot show one value to
 * the check and another to the store, and unknown fields are left behind.
 */
function readTopic(value: unknown): TopicRecord | undefined {
  try {
    if (!isObject(value)) return undefined;
    const { type, topic, key, ts, ttl, sig } = value;
    if (type !== 'topic' || !isNodeId(topic) || !isKey(key) || !isTime(ts) || !isTtl(ttl) || !isSig(sig)) return undefined;
    return { type, topic, key, ts, ttl, sig };
  } catch {
    return undefined; // a throwing getter or proxy
  }
}

function readMutable(value: unknown): MutableRecord | undefined {
  try {
    if (!isObject(value)) return undefined;
    const { type, key, name, seq, value: data, sig } = value;
    if (type !== 'mutable' || !isKey(key) || !isName(name, MAX_NAME_BYTES) || !isTime(seq) || !isValue(data) || !isSig(sig)) {
      return undefined;
    }
    return { type, key, name, seq, value: data, sig };
  } catch {
    return undefined;
  }
}

/** Whether `value` has the shape of a topic record (fields and bounds only, no signature check); extra fields are ignored. */
export function isTopicRecord(value: unknown): value is TopicRecord {
  return readTopic(value) !== undefined;
}

/** Whether `value` has the shape of a mutable record (fields and bounds only, no signature check); extra fields are ignored. */
export function isMutableRecord(value: unknown): value is MutableRecord {
  return readMutable(value) !== undefined;
}

/**
 * Checks an untrusted topic record in order: shape, signature, `ts` at most
 * {@link MAX_RECORD_SKEW_MS} ahead of `now`, `now` before `ts + ttl`. On success the record is a
 * fresh object with the known fields only, safe to store.
 */
export function openTopicRecord(value: unknown, now: number): RecordResult<TopicRecord> {
  const record = readTopic(value);
  if (!record) return { ok: false, reason: 'malformed' };
  if (!verifySignature(record.key, topicRecordMessage(record), fromBase64Url(record.sig))) {
    return { ok: false, reason: 'bad-signature' };
  }
  if (record.ts > now + MAX_RECORD_SKEW_MS) return { ok: false, reason: 'future' };
  if (now >= record.ts + record.ttl) return { ok: false, reason: 'expired' };
  return { ok: true, record };
}

/** Checks an untrusted mutable record: shape, then signature (it carries no time of its own). */
export function openMutableRecord(value: unknown): RecordResult<MutableRecord> {
  const record = readMutable(value);
  if (!record) return { ok: false, reason: 'malformed' };
  if (!verifySignature(record.key, mutableRecordMessage(record), fromBase64Url(record.sig))) {
    return { ok: false, reason: 'bad-signature' };
  }
  return { ok: true, record };
}

/** {@link openTopicRecord}'s verdict alone. */
export function checkTopicRecord(value: unknown, now: number): RecordCheck {
  const result = openTopicRecord(value, now);
  return result.ok ? 'ok' : result.reason;
}

/** {@link openMutableRecord}'s verdict alone. */
export function checkMutableRecord(value: unknown): RecordCheck {
  const result = openMutableRecord(value);
  return result.ok ? 'ok' : result.reason;
}

/** The node id of whoever signed `record` (the hash of its key, so it cannot be claimed falsely). */
export function announcerOf(record: TopicRecord | MutableRecord): string {
  return nodeIdOf(record.key);
}
