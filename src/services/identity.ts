/** A node's own key pair: generated, or loaded from and saved to a PEM file. */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { P2PError, describeValue } from '../errors.js';
import { nodeIdOf, type Identity } from '../wire/keys.js';
import { x25519PrivateKey } from '../wire/x25519.js';

function identityOf(privateKey: KeyObject): Identity {
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new P2PError('ERR_IDENTITY', 'identity key is not an Ed25519 key');
  }
  const publicKey = jwk.x;
  const seed = privateKey.export({ format: 'jwk' }).d;
  if (typeof seed !== 'string') throw new P2PError('ERR_IDENTITY', 'identity key has no private part');
  return {
    nodeId: nodeIdOf(publicKey),
    publicKey,
    sign: (message) => sign(null, message, privateKey),
    x25519: x25519PrivateKey(Buffer.from(seed, 'base64url')),
    exportPem: () => privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** A fresh, unsaved identity. */
export function generateIdentity(): Identity {
  return identityOf(generateKeyPairSync('ed25519').privateKey);
}

/** Identity from a PKCS#8 PEM private key. */
export function identityFromPem(pem: string): Identity {
  try {
    return identityOf(createPrivateKey(pem));
  } catch (err) {
    if (err instanceof P2PError) throw err;
    throw new P2PError('ERR_IDENTITY', 'identity file does not hold a PEM private key', { cause: err });
  }
}

/** Where the CLI keeps its key unless told otherwise: `$XDG_CONFIG_HOME/p2p-dht-node/identity.pem`. */
export function defaultIdentityPath(env: NodeJS.ProcessEnv = process.env): string {
  const configured: unknown = typeof env === 'object' && env !== null ? env.XDG_CONFIG_HOME : undefined;
  const base = typeof configured === 'string' && configured !== '' ? configured : join(homedir(), '.config');
  return join(base, 'p2p-dht-node', 'identity.pem');
}

/** Loads the identity at `path`, creating it (mode 0600, directory 0700) on first use. */
export function loadOrCreateIdentity(path: string): Identity {
  // A number would be read as a file descriptor, which may block forever.
  if (typeof path !== 'string' || path === '') throw new P2PError('ERR_IDENTITY', `an identity file is a path, got ${describeValue(path)}`);
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new P2PError('ERR_IDENTITY', `cannot read identity file ${path}: ${(err as Error).message}`, { cause: err });
    }
    const identity = generateIdentity();
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // 'wx' so two nodes starting at once cannot overwrite each other's fresh key.
      writeFileSync(path, identity.exportPem(), { mode: 0o600, flag: 'wx' });
    } catch (writeErr) {
      if ((writeErr as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateIdentity(path);
      throw new P2PError('ERR_IDENTITY', `cannot write identity file ${path}: ${(writeErr as Error).message}`, {
        cause: writeErr,
      });
    }
    return identity;
  }
  return identityFromPem(pem);
}
