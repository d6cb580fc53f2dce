/**
 * What a node knows of other nodes' keys: each one's Ed25519 public key, whether it takes encrypted
 * payloads, and the AES keys of both directions, derived once. Bounded, oldest first out.
 *
 * @module
 */
import { directionKey, sharedSecret } from './e2e.js';
import { nodeIdOf, type Identity } from './keys.js';

const MAX_PEERS = 4096;

/** One known node. */
export interface PeerKey {
  /** Its raw Ed25519 public key, base64url. */
  key: string;
  /** It decrypts payloads ({@link Envelopes} may encrypt to it). */
  e2e: boolean;
  /** AES-256-GCM keys to it and from it; undefined when its key has no X25519 form. */
  send?: Uint8Array;
  receive?: Uint8Array;
}

/**
 * Node id → key, learned from verified envelopes and presence records (never from a bare claim: the
 * id must be the key's hash).
 *
 * @example
 * ```ts
 * const keys = new PeerKeys(identity);
 * keys.learn(peerId, peerKey, true);
 * keys.get(peerId)?.send; // the AES key for payloads to peerId
 * ```
 */
export class PeerKeys {
  readonly #peers = new Map<string, PeerKey>();

  constructor(private readonly identity: Identity) {}

  get(nodeId: string): PeerKey | undefined {
    return this.#peers.get(nodeId);
  }

  /**
   * Records `nodeId`'s key; `e2e` true once it showed it decrypts (a known capability is never
   * withdrawn by a plain envelope, which a node may still send before it learns ours). False when
   * `key` is not `nodeId`'s.
   */
  learn(nodeId: string, key: string, e2e: boolean): boolean {
    const known = this.#peers.get(nodeId);
    if (known?.key === key && (known.e2e || !e2e)) return true;
    if (nodeIdOf(key) !== nodeId) return false;
    const own = this.identity;
    const secret = known ? undefined : sharedSecret(own.x25519, key);
    const entry: PeerKey = {
      key,
      e2e: e2e || known?.e2e === true,
      send: known ? known.send : secret && directionKey(secret, own.nodeId, nodeId),
      receive: known ? known.receive : secret && directionKey(secret, nodeId, own.nodeId),
    };
    this.#peers.delete(nodeId);
    this.#peers.set(nodeId, entry);
    if (this.#peers.size > MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value as string);
    return true;
  }
}
