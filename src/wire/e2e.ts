/**
 * End-to-end encryption of an envelope's payload (docs/protocol.md §16): AES-256-GCM under a key
 * that only the sender and the recipient can derive, from X25519 of their identity keys, so no
 * relay (our server, an MQTT broker, DHT nodes) reads SDP, candidates or addresses. Pure apart from
 * the random nonce.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { x25519KeyObject, x25519PublicKey } from './x25519.js';

/** How an encrypted `data` field starts; a plain one is JSON text and starts with `{`. */
export const E2E_PREFIX = 'e1.';
/** HKDF `info` prefix; the sender's and recipient's ids follow, so each direction has its own key. */
export const E2E_CONTEXT = 'p2p-dht-node/e2e/v1\n';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

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
export function sharedSecret(ownX25519: KeyObject, peerEdKey: string): Buffer | undefined {
  const u = x25519PublicKey(Buffer.from(peerEdKey, 'base64url'));
  if (!u) return undefined;
  const secret = diffieHellman({ privateKey: ownX25519, publicKey: x25519KeyObject(u) });
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
export function directionKey(secret: Buffer, from: string, to: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `${E2E_CONTEXT}${from}\n${to}`, 32));
}

function additionalData(h: SealedHeader): Buffer {
  return Buffer.from(JSON.stringify([h.v, h.from, h.to, h.session, h.seq, h.ts, h.kind]), 'utf8');
}

/** `plaintext` sealed under `key`: {@link E2E_PREFIX} + base64url(nonce ‖ ciphertext ‖ tag). */
export function encryptData(key: Buffer, header: SealedHeader, plaintext: string, nonce: Buffer = randomBytes(NONCE_BYTES)): string {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(additionalData(header));
  const body = Buffer.concat([nonce, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return E2E_PREFIX + body.toString('base64url');
}

/** The plaintext of {@link encryptData}'s output, or undefined if it does not open under `key` and `header`. */
export function decryptData(key: Buffer, header: SealedHeader, data: string): string | undefined {
  const body = Buffer.from(data.slice(E2E_PREFIX.length), 'base64url');
  if (body.length < NONCE_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(additionalData(header));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
