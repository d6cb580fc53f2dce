/**
 * A node's key pair from its 32-byte Ed25519 seed: the same in Node and in the browser, which keep
 * the seed in a PEM file (`services/identity.ts`) and in IndexedDB (`browser/identityStore.ts`).
 *
 * @module
 */
import { P2PError } from '../errors.js';
import { toBase64Url } from './base64url.js';
import { ED25519_PKCS8_PREFIX, ed25519Seed, ed25519SeedFromPem, ed25519Signer } from './crypto.js';
import { nodeIdOf, type Identity } from './keys.js';
import { x25519PrivateKey } from './x25519.js';

/**
 * The identity of an Ed25519 seed.
 *
 * @example
 * ```ts
 * const again = identityFromSeed(seed); // same nodeId, same signatures
 * ```
 */
export function identityFromSeed(seed: Uint8Array): Identity {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new P2PError('ERR_IDENTITY', 'an Ed25519 seed is 32 bytes');
  const own = Uint8Array.from(seed);
  const signer = ed25519Signer(own);
  const publicKey = toBase64Url(signer.publicKey);
  return {
    nodeId: nodeIdOf(publicKey),
    publicKey,
    sign: signer.sign,
    x25519: x25519PrivateKey(own),
    seed: () => Uint8Array.from(own),
    exportPem: () => `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([ED25519_PKCS8_PREFIX, own]).toString('base64')}\n-----END PRIVATE KEY-----\n`,
  };
}

/** A fresh, unsaved identity. */
export function generateIdentity(): Identity {
  return identityFromSeed(ed25519Seed());
}

/** Identity from a PKCS#8 PEM private key; throws P2PError ERR_IDENTITY for anything but an Ed25519 key. */
export function identityFromPem(pem: string): Identity {
  let seed: Uint8Array;
  try {
    seed = ed25519SeedFromPem(pem);
  } catch (err) {
    throw new P2PError('ERR_IDENTITY', 'identity file does not hold an Ed25519 PEM private key', { cause: err });
  }
  return identityFromSeed(seed);
}
