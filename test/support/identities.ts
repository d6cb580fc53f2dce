import { createPrivateKey } from 'node:crypto';
import { identityFromPem } from '../../src/wire/identity.js';
import type { Identity } from '../../src/wire/keys.js';

/** The identity whose Ed25519 seed is 32 bytes of `byte`: the same in every run, for test vectors and reproducible keyspaces. */
export function seededIdentity(byte: number): Identity {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, byte)]);
  return identityFromPem(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString());
}

/** The base64url alphabet, in the order of the values its characters encode. */
export const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same bytes in another base64url spelling: the last character's unused low bit flipped (43
 * characters of a key carry 2 unused bits, 86 of a signature 4). Node decodes both to the same bytes.
 */
export function nonCanonical(text: string): string {
  return text.slice(0, -1) + BASE64URL_ALPHABET[BASE64URL_ALPHABET.indexOf(text.at(-1)!) ^ 1];
}
