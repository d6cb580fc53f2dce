/**
 * The MQTT mapping of signaling (docs/protocol.md §17): which URLs name a broker, the topics a node
 * uses under its prefix, and the signed presence record it keeps retained there. Pure: no IO.
 *
 * @module
 */
import { fromBase64Url, toBase64Url } from './base64url.js';
import { isNodeId, nodeIdOf, verifySignature, type Identity } from './keys.js';
import { isPublicKey, isRecord, isSignature } from './protocol.js';

/** The topic prefix when a URL names none. */
export const DEFAULT_PREFIX = 'p2p-dht-node';
/** Prefix of the bytes signed for a presence record. */
export const PRESENCE_CONTEXT = 'p2p-dht-node/presence/v1\n';
/** A presence record older than this is ignored (and its broker drops it: the message expiry). */
export const PRESENCE_TTL_MS = 15 * 60_000;
/** How often a node publishes its presence again: 3 publishes per TTL, so one lost still leaves it fresh. */
export const PRESENCE_REFRESH_MS = 5 * 60_000;
/** How far in the future a presence `ts` may be, for clocks that disagree. */
export const PRESENCE_SKEW_MS = 120_000;
const PREFIX = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;
const MAX_PREFIX = 128;

/** Where to connect and under which prefix. */
export interface BrokerAddress {
  /** The URL for the MQTT client: scheme, credentials, host, port and, over WebSocket, the path. */
  url: string;
  /** Topic prefix, e.g. `p2p-dht-node`: the nodes under one prefix meet. */
  prefix: string;
}

/** Whether a signaling URL names an MQTT broker: `mqtt:`/`mqtts:`, or `ws:`/`wss:` with a path ending in `/mqtt`. */
export function isMqttUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === 'mqtt:' || url.protocol === 'mqtts:') return true;
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && /\/mqtt$/.test(url.pathname);
  } catch {
    return false;
  }
}

/**
 * The broker and prefix of an MQTT URL: `mqtt(s)://host:port/prefix` (the path is the prefix) or
 * `ws(s)://host:port/…/mqtt?prefix=…` (the path is the WebSocket endpoint).
 *
 * @example
 * ```ts
 * brokerAddress('mqtt://127.0.0.1:1883/chat'); // { url: 'mqtt://127.0.0.1:1883', prefix: 'chat' }
 * ```
 */
export function brokerAddress(value: string): BrokerAddress {
  const url = new URL(value);
  const ws = url.protocol === 'ws:' || url.protocol === 'wss:';
  const prefix = (ws ? url.searchParams.get('prefix') : decodeURIComponent(url.pathname.slice(1))) || DEFAULT_PREFIX;
  const auth = url.username ? `${url.username}${url.password ? `:${url.password}` : ''}@` : '';
  return { url: `${url.protocol}//${auth}${url.host}${ws ? url.pathname : ''}`, prefix };
}

/** Why an MQTT signaling URL cannot work (its prefix), or undefined; undefined too for URLs of other servers. */
export function brokerProblem(value: string): string | undefined {
  if (!isMqttUrl(value)) return undefined;
  const { prefix } = brokerAddress(value);
  if (prefix.length > MAX_PREFIX || !PREFIX.test(prefix)) {
    return `an MQTT topic prefix is 1 to ${MAX_PREFIX} characters of letters, digits, '_', '.', '-' in '/'-separated levels; got ${JSON.stringify(prefix.slice(0, 140))}`;
  }
  return undefined;
}

/** The topic a node subscribes to: envelopes for it are published here. */
export function nodeTopic(prefix: string, nodeId: string): string {
  return `${prefix}/v1/node/${nodeId}`;
}

/** The topic where a node keeps its presence record, retained. */
export function presenceTopic(prefix: string, nodeId: string): string {
  return `${prefix}/v1/presence/${nodeId}`;
}

/** A signed presence record: "the node with this key was here at `ts`". */
export interface PresenceRecord {
  v: 1;
  key: string;
  ts: number;
  sig: string;
}

function presenceMessage(key: string, ts: number): Buffer {
  return Buffer.from(PRESENCE_CONTEXT + JSON.stringify([1, key, ts]), 'utf8');
}

/** The JSON text of our presence record, signed now. */
export function presenceRecord(identity: Identity, now: number): string {
  const sig = toBase64Url(identity.sign(presenceMessage(identity.publicKey, now)));
  const record: PresenceRecord = { v: 1, key: identity.publicKey, ts: now, sig };
  return JSON.stringify(record);
}

/**
 * The public key in a presence record found on `nodeId`'s presence topic, if it is well formed,
 * `nodeId`'s own, correctly signed and neither expired nor from the future; otherwise undefined.
 */
export function readPresence(nodeId: string, payload: Uint8Array, now: number): string | undefined {
  if (!isNodeId(nodeId) || payload.length > 1024) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(record) || record.v !== 1 || !isPublicKey(record.key) || !isSignature(record.sig) || !Number.isSafeInteger(record.ts)) return undefined;
  const ts = record.ts as number;
  if (ts < now - PRESENCE_TTL_MS || ts > now + PRESENCE_SKEW_MS) return undefined;
  if (nodeIdOf(record.key) !== nodeId) return undefined;
  return verifySignature(record.key, presenceMessage(record.key, ts), fromBase64Url(record.sig)) ? record.key : undefined;
}
