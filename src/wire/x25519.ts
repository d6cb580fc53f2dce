/**
 * A node's X25519 key, derived from its Ed25519 identity (RFC 7748 / RFC 8032, as libsodium's
 * `crypto_sign_ed25519_pk_to_curve25519` and `…_sk_to_curve25519` do), so encrypting to a node needs
 * nothing beyond the public key its id is the hash of.
 *
 * @module
 */
import { sha512 } from './crypto.js';
import { hasSmallOrder } from './keys.js';

/** The field prime of Curve25519 and Edwards25519: 2^255 − 19. */
const P = 2n ** 255n - 19n;

/** a⁻¹ mod p by the extended Euclidean algorithm (a fifth of the time of a^(p−2) with BigInt). */
function modInverse(a: bigint): bigint {
  let [r0, r1, s0, s1] = [a, P, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return ((s0 % P) + P) % P;
}

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function toLittleEndian(n: bigint): Buffer {
  const out = Buffer.alloc(32);
  for (let i = 0, v = n; i < 32; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/**
 * The X25519 public key (32 bytes, u-coordinate) of a raw Ed25519 public key: u = (1 + y) / (1 − y)
 * mod p. Undefined for a key of the wrong length, of small order, or with y ≥ p (not canonical).
 *
 * @example
 * ```ts
 * const u = x25519PublicKey(fromBase64Url(identity.publicKey));
 * ```
 */
export function x25519PublicKey(edPublicKey: Uint8Array): Buffer | undefined {
  if (edPublicKey.length !== 32 || hasSmallOrder(edPublicKey)) return undefined;
  const y = littleEndian(edPublicKey) & ((1n << 255n) - 1n);
  if (y >= P || y === 1n) return undefined;
  return toLittleEndian(((1n + y) * modInverse((1n - y + P) % P)) % P);
}

/** The X25519 private key of an Ed25519 seed: the first half of SHA-512(seed), clamped by X25519 itself. */
export function x25519PrivateKey(edSeed: Uint8Array): Uint8Array {
  return sha512(edSeed).slice(0, 32);
}
