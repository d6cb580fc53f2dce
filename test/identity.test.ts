import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultIdentityPath, generateIdentity, identityFromPem, loadOrCreateIdentity, P2PError } from '../src/index.js';
import { hasSmallOrder, verifySignature } from '../src/wire/keys.js';

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

describe('small-order public keys', () => {
  const p = 2n ** 255n - 19n;
  const mod = (a: bigint): bigint => ((a % p) + p) % p;
  const pow = (base: bigint, exp: bigint): bigint => {
    let result = 1n;
    for (let b = mod(base), e = exp; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) result = (result * b) % p;
    return result;
  };
  const inv = (a: bigint): bigint => pow(a, p - 2n);
  const sqrt = (a: bigint): bigint | undefined => {
    let x = pow(a, (p + 3n) / 8n);
    if (mod(x * x - a) !== 0n) x = mod(x * pow(2n, (p - 1n) / 4n));
    return mod(x * x - a) === 0n ? x : undefined;
  };
  const encode = (y: bigint): Buffer => Buffer.from(Array.from({ length: 32 }, (_, i) => Number((y >> BigInt(8 * i)) & 0xffn)));

  /** y of every point P with 8P = 0: 1, p − 1, 0, and those whose double has y = 0 (x² = −y² on the curve). */
  function smallOrderYs(): bigint[] {
    const d = mod(-121665n * inv(121666n));
    const root = sqrt(mod(1n + d))!;
    const order8 = [1n, -1n].flatMap((sign) => {
      const y = sqrt(mod((-1n + sign * root) * inv(d)));
      return y === undefined ? [] : [y, mod(-y)];
    });
    return [0n, 1n, p - 1n, ...order8];
  }

  it('are blocked in every encoding, canonical or not, with either sign bit', () => {
    const ys = smallOrderYs();
    expect(ys).toHaveLength(5);
    for (const y of [...ys, p, p + 1n]) {
      const key = encode(y);
      expect(hasSmallOrder(key), key.toString('hex')).toBe(true);
      key[31]! |= 0x80;
      expect(hasSmallOrder(key)).toBe(true);
    }
    expect(hasSmallOrder(Buffer.from(generateIdentity().publicKey, 'base64url'))).toBe(false);
  });

  it('cannot register or sign: the forged signature by the neutral point is refused', () => {
    const neutral = encode(1n).toString('base64url');
    const forged = Buffer.concat([encode(1n), Buffer.alloc(32)]);
    expect(verifySignature(neutral, Buffer.from('any message'), forged)).toBe(false);
  });
});
