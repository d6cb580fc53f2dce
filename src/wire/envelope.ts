import { fromBase64Url, toBase64Url } from './base64url.js';
import { randomBytes } from './crypto.js';
import { decryptData, encryptData, isEncrypted } from './e2e.js';
import { nodeIdOf, verifySignature, type Identity } from './keys.js';
import { PeerKeys } from './peerKeys.js';
import {
  PROTOCOL_VERSION,
  envelopeMessage,
  isEnvelope,
  type Envelope,
  type SignalKind,
} from './protocol.js';

/**
 * What simple-peer hands over to be signaled (offer/answer SDP or one ICE candidate), a refusal, or
 * the responder's request that the initiator restart ICE (only the initiator offers).
 */
export type SignalData =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'candidate'; candidate: { candidate: string; sdpMLineIndex?: number | null; sdpMid?: string | null } }
  | { type: 'reject'; code: string }
  | { type: 'restart' }
  /** "Here is my key; I decrypt": asks for one back when `reply`. Handled by the carriers, never by peers. */
  | { type: 'hello'; reply: boolean };

/** A signal that passed every check of {@link Envelopes.verify}. */
export interface VerifiedSignal {
  from: string;
  session: string;
  /** The sender's sequence number in the session: an offer with 0 opens it, a later one restarts ICE in it. */
  seq: number;
  kind: SignalKind;
  data: SignalData;
  /** The payload came encrypted to us (docs/protocol.md §16). */
  sealed: boolean;
}

/** Why an incoming envelope was dropped. */
export type DropReason =
  | 'malformed'
  | 'key-mismatch'
  | 'not-for-me'
  | 'bad-signature'
  | 'stale'
  | 'replay'
  | 'bad-payload'
  /** An encrypted payload that does not open under the key we share with its sender. */
  | 'undecryptable'
  /** A plain payload, where encryption is required. */
  | 'plaintext';

export type OpenResult = { ok: true; signal: VerifiedSignal } | { ok: false; reason: DropReason };

export interface EnvelopeOptions {
  /** Largest accepted difference between the sender's timestamp and ours. */
  maxSkewMs?: number;
  now?: () => number;
  /** Encrypt to nodes that decrypt, and decrypt (default true). False behaves as a node from before encryption. */
  e2e?: boolean;
  /** Drop plain payloads (hellos aside), and never send one: for carriers that only ever see encrypting nodes. */
  requireEncryption?: boolean;
}

const MAX_TRACKED = 4096;

/** A fresh, unguessable session id (one per connection attempt). */
export function newSessionId(): string {
  return toBase64Url(randomBytes(12));
}

function isSignalData(kind: SignalKind, value: unknown): value is SignalData {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'offer':
    case 'answer':
      return v.type === kind && typeof v.sdp === 'string';
    case 'candidate': {
      const c = v.candidate as Record<string, unknown> | null | undefined;
      return v.type === 'candidate' && typeof c === 'object' && c !== null && typeof c.candidate === 'string';
    }
    case 'reject':
      return v.type === 'reject' && typeof v.code === 'string' && v.code.length <= 64;
    case 'restart':
      return v.type === 'restart';
    case 'hello':
      return v.type === 'hello' && typeof v.reply === 'boolean';
  }
}

/** Drops the oldest entries of an insertion-ordered map beyond `limit`. */
function trim<K, V>(map: Map<K, V>, limit: number): void {
  for (const key of map.keys()) {
    if (map.size <= limit) return;
    map.delete(key);
  }
}

/**
 * Seals outgoing signals and opens incoming ones for one node: signature, sender id = hash(key),
 * target = us, timestamp window and per-session sequence numbers (which make replays detectable).
 * Payloads go encrypted to every node known to decrypt ({@link keys}).
 *
 * @example
 * ```ts
 * const mine = new Envelopes(identity);
 * const envelope = mine.seal(peerId, newSessionId(), { type: 'offer', sdp });
 * const result = theirs.open(envelope); // { ok: true, signal } or { ok: false, reason: 'replay' }
 * ```
 */
export class Envelopes {
  readonly #identity: Identity;
  readonly #maxSkewMs: number;
  readonly #now: () => number;
  readonly #nextSeq = new Map<string, number>();
  readonly #lastSeen = new Map<string, { seq: number; at: number }>();
  /** Other nodes' keys, learned from every verified envelope and from what carriers look up. */
  readonly keys: PeerKeys;
  /** Whether this node encrypts and decrypts at all. */
  readonly e2e: boolean;
  readonly requireEncryption: boolean;

  constructor(identity: Identity, options: EnvelopeOptions = {}) {
    this.#identity = identity;
    this.#maxSkewMs = options.maxSkewMs ?? 120_000;
    this.#now = options.now ?? Date.now;
    this.e2e = options.e2e ?? true;
    this.requireEncryption = this.e2e && options.requireEncryption === true;
    this.keys = new PeerKeys(identity);
  }

  /** Whether {@link seal} encrypts to `nodeId`: this node encrypts, and knows that one's key and that it decrypts. */
  encryptsTo(nodeId: string): boolean {
    const peer = this.keys.get(nodeId);
    return this.e2e && peer?.e2e === true && peer.send !== undefined;
  }

  /** A hello to `to` in a session of its own: our key, and, with `reply`, a request for theirs. */
  hello(to: string, reply: boolean): Envelope {
    return this.seal(to, newSessionId(), { type: 'hello', reply });
  }

  /** Signs `data` for `to` in `session`; the payload is encrypted when {@link encryptsTo} `to` (hellos never are). */
  seal(to: string, session: string, data: SignalData): Envelope {
    const seq = this.#nextSeq.get(session) ?? 0;
    this.#nextSeq.delete(session);
    this.#nextSeq.set(session, seq + 1);
    trim(this.#nextSeq, MAX_TRACKED);
    const unsigned = {
      v: PROTOCOL_VERSION,
      from: this.#identity.nodeId,
      key: this.#identity.publicKey,
      to,
      session,
      seq,
      ts: this.#now(),
      kind: data.type,
      data: JSON.stringify(data),
    };
    if (data.type !== 'hello' && this.encryptsTo(to)) unsigned.data = encryptData(this.keys.get(to)!.send!, unsigned, unsigned.data);
    return { ...unsigned, sig: toBase64Url(this.#identity.sign(envelopeMessage(unsigned))) };
  }

  /** Checks an incoming envelope (see {@link verify}) and takes it as its stream's latest ({@link accept}). */
  open(envelope: unknown): OpenResult {
    const verified = this.verify(envelope);
    return verified.ok ? this.accept(verified.signal) : verified;
  }

  /**
   * Every check but the sequence one: shape, sender id = hash(key), target = us, signature,
   * timestamp and payload. Nothing is remembered, so a carrier that may reorder signals can hold a
   * verified one until those before it came (see `SignalOrder`).
   */
  verify(envelope: unknown): OpenResult {
    if (!isEnvelope(envelope)) return { ok: false, reason: 'malformed' };
    if (nodeIdOf(envelope.key) !== envelope.from) return { ok: false, reason: 'key-mismatch' };
    if (envelope.to !== this.#identity.nodeId) return { ok: false, reason: 'not-for-me' };
    if (!verifySignature(envelope.key, envelopeMessage(envelope), fromBase64Url(envelope.sig))) {
      return { ok: false, reason: 'bad-signature' };
    }
    if (Math.abs(this.#now() - envelope.ts) > this.#maxSkewMs) return { ok: false, reason: 'stale' };
    const sealed = isEncrypted(envelope.data);
    const text = sealed ? this.#decrypt(envelope) : this.#plain(envelope);
    if (typeof text !== 'string') return { ok: false, reason: text.reason };
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return { ok: false, reason: 'bad-payload' };
    }
    if (!isSignalData(envelope.kind, data)) return { ok: false, reason: 'bad-payload' };
    return { ok: true, signal: { from: envelope.from, session: envelope.session, seq: envelope.seq, kind: envelope.kind, data, sealed } };
  }

  /** The plaintext of a verified encrypted envelope; its sender evidently decrypts too. */
  #decrypt(envelope: Envelope): string | { reason: DropReason } {
    if (!this.e2e || envelope.kind === 'hello') return { reason: 'bad-payload' };
    this.keys.learn(envelope.from, envelope.key, true);
    const key = this.keys.get(envelope.from)?.receive;
    return (key && decryptData(key, envelope, envelope.data)) ?? { reason: 'undecryptable' };
  }

  /** The text of a verified plain envelope, if this node takes it; a hello shows its sender decrypts. */
  #plain(envelope: Envelope): string | { reason: DropReason } {
    const hello = envelope.kind === 'hello';
    // A node from before encryption knows no such kind.
    if (hello && !this.e2e) return { reason: 'malformed' };
    if (!hello && this.requireEncryption) return { reason: 'plaintext' };
    // A plain signal shows nothing worth a key exchange (~0.2 ms); a hello shows its sender decrypts.
    if (hello) this.keys.learn(envelope.from, envelope.key, true);
    return envelope.data;
  }

  /** Takes a verified signal as the latest of its stream (sender and session), unless one as late came already (`replay`). */
  accept(signal: VerifiedSignal): OpenResult {
    const stream = `${signal.from}/${signal.session}`;
    const last = this.#lastSeen.get(stream);
    if (last && signal.seq <= last.seq) return { ok: false, reason: 'replay' };
    this.#remember(stream, signal.seq, this.#now());
    return { ok: true, signal };
  }

  /** The sequence number the next envelope of `from`'s session `session` carries: one past the last taken, 0 in a stream not seen. */
  nextSeq(from: string, session: string): number {
    return (this.#lastSeen.get(`${from}/${session}`)?.seq ?? -1) + 1;
  }

  #remember(stream: string, seq: number, now: number): void {
    this.#lastSeen.delete(stream);
    this.#lastSeen.set(stream, { seq, at: now });
    // Entries older than two skew windows can go: anything they would catch is already 'stale'.
    for (const [key, entry] of this.#lastSeen) {
      if (now - entry.at <= 2 * this.#maxSkewMs && this.#lastSeen.size <= MAX_TRACKED) break;
      this.#lastSeen.delete(key);
    }
  }
}
