import { createPrivateKey } from 'node:crypto';
import { identityFromPem } from '../../src/services/identity.js';
import type { Identity } from '../../src/wire/keys.js';

/** The identity whose Ed25519 seed is 32 bytes of `byte`: the same in every run, for test vectors and reproducible keyspaces. */
export function seededIdentity(byte: number): Identity {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, byte)]);
  return identityFromPem(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString());
}
