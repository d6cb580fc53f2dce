/** A node's own key pair: generated, or loaded from and saved to a PEM file. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { P2PError, describeValue } from '../errors.js';
import { generateIdentity, identityFromPem } from '../wire/identity.js';
import type { Identity } from '../wire/keys.js';

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
