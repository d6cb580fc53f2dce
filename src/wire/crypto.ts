/**
 * Every cryptographic primitive of the node, synchronous, on raw bytes: Node's OpenSSL here,
 * `crypto.browser.ts` (audited @noble code, the same functions) in the browser build. Nothing else
 * imports a crypto library, so the two builds differ in this one file.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes as nodeRandomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { fromBase64Url, toBase64Url } from './base64url.js';

/** PKCS#8 DER of an Ed25519 private key, up to its 32-byte seed (RFC 8410): what a PEM identity file holds. */
export const ED25519_PKCS8_PREFIX: Uint8Array = Buffer.from('302e020100300506032b657004220420', 'hex');
/** PKCS#8 DER of an X25519 private key, up to its 32 raw bytes (RFC 8410). */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** A node's own X25519 key as OpenSSL holds it, made once per key (an identity keeps one array). */
const x25519Keys = new WeakMap<Uint8Array, KeyObject>();

/** `n` bytes from the system's secure random source. */
export function randomBytes(n: number): Uint8Array {
  return nodeRandomBytes(n);
}

/** An incremental SHA-256. */
export interface Sha256 {
  update(data: Uint8Array): void;
  /** The digest; the hash cannot be updated afterwards. */
  digest(): Uint8Array;
}

/** A fresh incremental SHA-256. */
export function sha256Stream(): Sha256 {
  const hash = createHash('sha256');
  return { update: (data) => void hash.update(data), digest: () => hash.digest() };
}

/** SHA-256 of bytes, or of a string's UTF-8. */
export function sha256(data: Uint8Array | string): Uint8Array {
  return createHash('sha256').update(data).digest();
}

/** SHA-512 of bytes. */
export function sha512(data: Uint8Array): Uint8Array {
  return createHash('sha512').update(data).digest();
}

/** A fresh Ed25519 seed (the 32-byte private key of RFC 8032). */
export function ed25519Seed(): Uint8Array {
  const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return fromBase64Url(jwk.d!);
}

/** An Ed25519 signer: the raw public key of `seed` and a function that signs with it. */
export function ed25519Signer(seed: Uint8Array): { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array } {
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = fromBase64Url(createPublicKey(key).export({ format: 'jwk' }).x!);
  return { publicKey, sign: (message) => sign(null, message, key) };
}

/** The Ed25519 seed in a PKCS#8 PEM private key; throws when it holds anything else. */
export function ed25519SeedFromPem(pem: string): Uint8Array {
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string') throw new Error('not an Ed25519 private key');
  return fromBase64Url(jwk.d);
}

const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_LIMIT = 1024;

/**
 * Whether `signature` is a valid RFC 8032 Ed25519 signature (strict: canonical S, no cofactor) of
 * `message` by the raw base64url `publicKey`; throws for a key that is not a curve point. Callers
 * reject keys of small order first (see `keys.ts`).
 */
export function ed25519Verify(publicKey: string, message: Uint8Array, signature: Uint8Array): boolean {
  let key = keyCache.get(publicKey);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(publicKey, key);
  }
  return verify(null, message, key, signature);
}

/** X25519 (RFC 7748) of a raw 32-byte private scalar and a peer's raw 32-byte u-coordinate. */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  let own = x25519Keys.get(privateKey);
  if (!own) {
    own = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
    x25519Keys.set(privateKey, own);
  }
  // A JWK, not DER: OpenSSL 3 takes raw key bytes directly, while DER goes through its slower decoder search.
  const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: toBase64Url(publicKey) }, format: 'jwk' });
  return diffieHellman({ privateKey: own, publicKey: peer });
}

/** HKDF-SHA256 (RFC 5869) of `ikm` with an empty salt and the UTF-8 `info`. */
export function hkdfSha256(ikm: Uint8Array, info: string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, new Uint8Array(0), info, length));
}

/** AES-256-GCM of `plaintext`: the ciphertext followed by the 16-byte tag. */
export function aesGcmSeal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/** The plaintext of {@link aesGcmSeal}'s output, or undefined if it does not open. */
export function aesGcmOpen(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < 16) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch {
    return undefined;
  }
}
