/**
 * End-to-end encryption of an envelope's payload (docs/protocol.md §16): AES-256-GCM under a key
 * that only the sender and the recipient can derive, from X25519 of their identity keys, so no
 * relay (our server, an MQTT broker, DHT nodes) reads SDP, candidates or addresses. Pure apart from
 * the random nonce.
 *
 * @module
 */
import { fromBase64Url, toBase64Url } from './base64url.js';
import { aesGcmOpen, aesGcmSeal, hkdfSha256, randomBytes, x25519 } from './crypto.js';
import { x25519PublicKey } from './x25519.js';

/** How an encrypted `data` field starts; a plain one is JSON text and starts with `{`. */
export const E2E_PREFIX = 'e1.';
/** HKDF `info` prefix; the sender's and recipient's ids follow, so each direction has its own key. */
export const E2E_CONTEXT = 'p2p-dht-node/e2e/v1\n';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The fields of an envelope its ciphertext is bound to (the GCM additional data). */
export interface SealedHeader {
  v: number;
  from: string;
  to: string;
  session: string;
  seq: number;
  ts: number;
  kind: string;
}

/** Whether `data` holds a ciphertext rather than JSON text. */
export function isEncrypted(data: string): boolean {
  return data.startsWith(E2E_PREFIX);
}

/**
 * The X25519 shared secret of our private key and the other side's Ed25519 public key (converted);
 * undefined when that key has no X25519 form or the secret is all zero.
 */
export function sharedSecret(ownX25519: Uint8Array, peerEdKey: string): Uint8Array | undefined {
  const u = x25519PublicKey(fromBase64Url(peerEdKey));
  if (!u) return undefined;
  const secret = x25519(ownX25519, u);
  return secret.every((byte) => byte === 0) ? undefined : secret;
}

/**
 * The key for messages from node `from` to node `to`: HKDF-SHA256 of their {@link sharedSecret},
 * salt empty, `info` naming both ids in order, so each direction has its own key.
 *
 * @example
 * ```ts
 * const secret = sharedSecret(myX25519, theirEd25519Key);
 * const toThem = secret && directionKey(secret, myId, theirId);
 * ```
 */
export function directionKey(secret: Uint8Array, from: string, to: string): Uint8Array {
  return hkdfSha256(secret, `${E2E_CONTEXT}${from}\n${to}`, 32);
}

function additionalData(h: SealedHeader): Uint8Array {
  return utf8.encode(JSON.stringify([h.v, h.from, h.to, h.session, h.seq, h.ts, h.kind]));
}

/** `plaintext` sealed under `key`: {@link E2E_PREFIX} + base64url(nonce ‖ ciphertext ‖ tag). */
export function encryptData(key: Uint8Array, header: SealedHeader, plaintext: string, nonce: Uint8Array = randomBytes(NONCE_BYTES)): string {
  const sealed = aesGcmSeal(key, nonce, additionalData(header), utf8.encode(plaintext));
  return E2E_PREFIX + toBase64Url(Buffer.concat([nonce, sealed]));
}

/** The plaintext of {@link encryptData}'s output, or undefined if it does not open under `key` and `header`. */
export function decryptData(key: Uint8Array, header: SealedHeader, data: string): string | undefined {
  const body = fromBase64Url(data.slice(E2E_PREFIX.length));
  if (body.length < NONCE_BYTES + TAG_BYTES) return undefined;
  const plaintext = aesGcmOpen(key, body.subarray(0, NONCE_BYTES), additionalData(header), body.subarray(NONCE_BYTES));
  try {
    return plaintext && fromUtf8.decode(plaintext);
  } catch {
    return undefined; // sealed by the right key, yet not UTF-8: not from a node of ours
  }
}
