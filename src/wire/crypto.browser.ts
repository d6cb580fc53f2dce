/**
 * The browser build's `crypto.ts`: the same synchronous functions on audited @noble code, because
 * WebCrypto is asynchronous and the signing, verifying and sealing paths of the node are not.
 * test/crypto.test.ts checks that both files give the same bytes for the same inputs.
 *
 * @module
 */
import { gcm } from '@noble/ciphers/aes';
import { ed25519, x25519 as curve25519 } from '@noble/curves/ed25519';
import { hkdf } from '@noble/hashes/hkdf';
import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2';
import { fromBase64Url } from './base64url.js';
import type { Sha256 } from './crypto.js';

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410): what a PEM identity file holds. */
export const ED25519_PKCS8_PREFIX: Uint8Array = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);
const utf8 = new TextEncoder();

/** `n` bytes from `crypto.getRandomValues`. */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65,536 bytes per call.
  for (let at = 0; at < n; at += 65_536) crypto.getRandomValues(out.subarray(at, Math.min(n, at + 65_536)));
  return out;
}

/** A fresh incremental SHA-256. */
export function sha256Stream(): Sha256 {
  const hash = nobleSha256.create();
  return { update: (data) => void hash.update(data), digest: () => hash.digest() };
}

/** SHA-256 of bytes, or of a string's UTF-8. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return nobleSha256(typeof data === 'string' ? utf8.encode(data) : data);
}

/** SHA-512 of bytes. */
export function sha512(data: Uint8Array): Uint8Array {
  return nobleSha512(data);
}

/** A fresh Ed25519 seed. */
export function ed25519Seed(): Uint8Array {
  return randomBytes(32);
}

/** An Ed25519 signer: the raw public key of `seed` and a function that signs with it. */
export function ed25519Signer(seed: Uint8Array): { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array } {
  const secret = Uint8Array.from(seed);
  return { publicKey: ed25519.getPublicKey(secret), sign: (message) => ed25519.sign(message, secret) };
}

/** The Ed25519 seed in a PKCS#8 PEM private key (the RFC 8410 form OpenSSL and Node write). */
export function ed25519SeedFromPem(pem: string): Uint8Array {
  const body = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem)?.[1]?.replace(/\s+/g, '');
  const der = body === undefined ? new Uint8Array(0) : Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  if (der.length !== 48 || ED25519_PKCS8_PREFIX.some((byte, i) => der[i] !== byte)) throw new Error('not an Ed25519 private key');
  return der.slice(16);
}

/** ℓ, the order of Ed25519's base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const Point = ed25519.ExtendedPoint;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/**
 * Whether `signature` is a valid Ed25519 signature as OpenSSL checks it (RFC 8032 §5.1.7 without
 * the cofactor): S < ℓ, A and R canonical encodings, and SB = R + kA exactly. @noble's own verify
 * multiplies by the cofactor, and so accepts signatures whose R carries a small-order component,
 * which a Node peer refuses: the two builds would disagree on which envelopes and records are valid.
 */
export function ed25519Verify(publicKey: string, message: Uint8Array, signature: Uint8Array): boolean {
  const key = fromBase64Url(publicKey);
  if (key.length !== 32 || signature.length !== 64) return false;
  try {
    const A = Point.fromHex(key, false);
    const encodedR = signature.subarray(0, 32);
    const R = Point.fromHex(encodedR, false);
    const S = littleEndian(signature.subarray(32));
    if (S >= L) return false;
    const k = littleEndian(nobleSha512.create().update(encodedR).update(key).update(message).digest()) % L;
    // multiply() uses the base point's precomputed table; it takes 1 ≤ S < ℓ only.
    const SB = S === 0n ? Point.ZERO : Point.BASE.multiply(S);
    return SB.equals(R.add(A.multiplyUnsafe(k)));
  } catch {
    return false;
  }
}

/** X25519 (RFC 7748) of a raw 32-byte private scalar and a peer's raw 32-byte u-coordinate. */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return curve25519.getSharedSecret(privateKey, publicKey);
}

/** HKDF-SHA256 (RFC 5869) of `ikm` with an empty salt and the UTF-8 `info`. */
export function hkdfSha256(ikm: Uint8Array, info: string, length: number): Uint8Array {
  return hkdf(nobleSha256, ikm, new Uint8Array(0), utf8.encode(info), length);
}

/** AES-256-GCM of `plaintext`: the ciphertext followed by the 16-byte tag. */
export function aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return gcm(key, nonce, aad).encrypt(plaintext);
}

/** The plaintext of {@link aesGcmSeal}'s output, or undefined if it does not open. */
export function aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < 16) return undefined;
  try {
    return gcm(key, nonce, aad).decrypt(sealed);
  } catch {
    return undefined;
  }
}
