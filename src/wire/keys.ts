/** Node ids and Ed25519 signature checks: what both sides of the wire verify. */
import { P2PError, describeValue } from '../errors.js';
import { fromBase64Url } from './base64url.js';
import { ed25519Verify, sha256 } from './crypto.js';

/**
 * A node's Ed25519 key pair. The node id is derived from the public key, never chosen, so proving
 * the key proves the id.
 */
export interface Identity {
  /** Lower-case hex SHA-256 of the raw 32-byte public key. */
  readonly nodeId: string;
  /** Raw public key, base64url. */
  readonly publicKey: string;
  sign(message: Uint8Array): Uint8Array;
  /** The raw X25519 private key derived from the Ed25519 one (see `x25519PrivateKey`), for end-to-end encryption. */
  readonly x25519: Uint8Array;
  /** A copy of the 32-byte Ed25519 seed, for saving. */
  seed(): Uint8Array;
  /** PKCS#8 PEM of the private key, for saving. */
  exportPem(): string;
}

const NODE_ID = /^[0-9a-f]{64}$/;

/** True when `value` has the shape of a node id (64 lower-case hex digits). */
export function isNodeId(value: unknown): value is string {
  return typeof value === 'string' && NODE_ID.test(value);
}

/** Node id of a raw base64url Ed25519 public key; throws P2PError ERR_INVALID_DATA for a non-string. */
export function nodeIdOf(publicKey: string): string {
  if (typeof publicKey !== 'string') throw new P2PError('ERR_INVALID_DATA', `a public key is a base64url string, got ${describeValue(publicKey)}`);
  const digest = sha256(fromBase64Url(publicKey));
  return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength).toString('hex');
}

/**
 * The points of small order, as their y-coordinate encodings with the sign bit cleared, canonical or
 * not (0, 1, the two of order 8, p − 1, p, p + 1; libsodium blocks the same list). OpenSSL accepts
 * them as public keys, and a signature by one can be forged without any private key: the fuzz suite
 * registered the key `AQAA…AA` with the signature `AQAA…AA`.
 */
const SMALL_ORDER_POINTS = new Set([
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
]);

/** Whether a raw 32-byte Ed25519 public key is a point of small order (whatever its sign bit). */
export function hasSmallOrder(key: Uint8Array): boolean {
  if (key.length !== 32) return false;
  const y = Buffer.from(key);
  y[31]! &= 0x7f;
  return SMALL_ORDER_POINTS.has(y.toString('hex'));
}

/**
 * Verifies an Ed25519 signature by a raw base64url public key; false for any malformed input and for
 * keys of small order.
 */
export function verifySignature(publicKey: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return !hasSmallOrder(fromBase64Url(publicKey)) && ed25519Verify(publicKey, message, signature);
  } catch {
    return false;
  }
}
