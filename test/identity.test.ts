import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultIdentityPath, generateIdentity, identityFromPem, loadOrCreateIdentity, P2PError } from '../src/index.js';
import { verifySignature } from '../src/services/identity.js';

describe('identity', () => {
  it('derives the node id from the public key', () => {
    const id = generateIdentity();
    const expected = createHash('sha256').update(Buffer.from(id.publicKey, 'base64url')).digest('hex');
    expect(id.nodeId).toBe(expected);
    expect(id.nodeId).toMatch(/^[0-9a-f]{64}$/);
    expect(identityFromPem(id.exportPem()).nodeId).toBe(id.nodeId);
  });

  it('signs and verifies, and rejects anything else without throwing', () => {
    const id = generateIdentity();
    const msg = Buffer.from('hello');
    const sig = id.sign(msg);
    expect(verifySignature(id.publicKey, msg, sig)).toBe(true);
    expect(verifySignature(id.publicKey, Buffer.from('hellO'), sig)).toBe(false);
    expect(verifySignature(generateIdentity().publicKey, msg, sig)).toBe(false);
    expect(verifySignature('not a key', msg, sig)).toBe(false);
    expect(verifySignature(id.publicKey, msg, new Uint8Array(3))).toBe(false);
  });

  it('creates the key file once, mode 0600, and loads the same id after', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2p-id-'));
    const path = join(dir, 'nested', 'identity.pem');
    const first = loadOrCreateIdentity(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'nested')).mode & 0o777).toBe(0o700);
    expect(loadOrCreateIdentity(path).nodeId).toBe(first.nodeId);
  });

  it('refuses a file that holds no Ed25519 key, with ERR_IDENTITY', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'p2p-id-')), 'bad.pem');
    writeFileSync(path, 'garbage');
    expect(() => loadOrCreateIdentity(path)).toThrowError(expect.objectContaining({ code: 'ERR_IDENTITY' }) as Error);
    expect(() => loadOrCreateIdentity(path)).toThrow(P2PError);
  });

  it('keeps keys under XDG_CONFIG_HOME by default', () => {
    expect(defaultIdentityPath({ XDG_CONFIG_HOME: '/x' })).toBe('/x/p2p-dht-node/identity.pem');
  });
});
