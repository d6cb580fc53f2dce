import { generateKeyPairSync, hkdfSync } from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519';
import { describe, expect, it } from 'vitest';
import { generateIdentity, identityFromPem } from '../src/wire/identity.js';
import { decryptData, directionKey, encryptData, E2E_CONTEXT, sharedSecret, type SealedHeader } from '../src/wire/e2e.js';
import { Envelopes, newSessionId } from '../src/wire/envelope.js';
import { envelopeMessage } from '../src/wire/protocol.js';
import { x25519PublicKey } from '../src/wire/x25519.js';
import { seededIdentity } from './support/identities.js';

const alice = seededIdentity(1);
const bob = seededIdentity(2);
const header: SealedHeader = { v: 1, from: alice.nodeId, to: bob.nodeId, session: 'AAAAAAAAAAAAAAAA', seq: 0, ts: 1764892800000, kind: 'offer' };
const plaintext = JSON.stringify({ type: 'offer', sdp: 'v=0\r\n' });

describe('X25519 keys derived from Ed25519 identities', () => {
  it('match an independent implementation (@noble/curves) for public and private keys', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey } = generateKeyPairSync('ed25519');
      const jwk = privateKey.export({ format: 'jwk' });
      const [pub, seed] = [Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.d!, 'base64url')];
      expect(x25519PublicKey(pub)!.toString('hex')).toBe(Buffer.from(ed25519.utils.toMontgomery(pub)).toString('hex'));
      const identity = identityFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
      expect(Buffer.from(x25519.getPublicKey(identity.x25519)).toString('hex')).toBe(Buffer.from(x25519.getPublicKey(ed25519.utils.toMontgomerySecret(seed))).toString('hex'));
    }
  });

  it('has none for keys of small order, of the wrong length, or with y >= p', () => {
    expect(x25519PublicKey(Buffer.alloc(32))).toBeUndefined();
    expect(x25519PublicKey(Buffer.alloc(31, 7))).toBeUndefined();
    expect(x25519PublicKey(Buffer.from('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex'))).toBeUndefined();
  });
});

describe('payload encryption (docs/protocol.md §15)', () => {
  it('derives the direction key an independent X25519 and HKDF derive', () => {
    const secret = x25519.getSharedSecret(ed25519.utils.toMontgomerySecret(Buffer.alloc(32, 1)), ed25519.utils.toMontgomery(Buffer.from(bob.publicKey, 'base64url')));
    const expected = new Uint8Array(hkdfSync('sha256', secret, Buffer.alloc(0), `${E2E_CONTEXT}${alice.nodeId}\n${bob.nodeId}`, 32));
    expect(directionKey(sharedSecret(alice.x25519, bob.publicKey)!, alice.nodeId, bob.nodeId)).toEqual(expected);
    // Both ends derive it: Alice to send, Bob to receive.
    expect(directionKey(sharedSecret(bob.x25519, alice.publicKey)!, alice.nodeId, bob.nodeId)).toEqual(expected);
    expect(directionKey(sharedSecret(bob.x25519, alice.publicKey)!, bob.nodeId, alice.nodeId)).not.toEqual(expected);
  });

  it('reproduces the test vector of docs/protocol.md §15.5', () => {
    expect(alice.publicKey).toBe('iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w');
    expect(bob.publicKey).toBe('gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q');
    const key = directionKey(sharedSecret(alice.x25519, bob.publicKey)!, alice.nodeId, bob.nodeId);
    expect(Buffer.from(key).toString('hex')).toBe('854cb2e7dca631a641564a2def825ac2cae024c5a76a693f8b060ac5f9e11a47');
    const data = encryptData(key, header, plaintext, Buffer.alloc(12, 3));
    expect(data).toBe('e1.AwMDAwMDAwMDAwMDqg678IBgMleRVE7EoxOjc9BRyPXB_FH37lzRR7yaxGidd44SNdG25IOVmIfpBN-t');
    expect(decryptData(key, header, data)).toBe(plaintext);
  });

  it('does not open under another header, another key or with a changed byte', () => {
    const key = directionKey(sharedSecret(alice.x25519, bob.publicKey)!, alice.nodeId, bob.nodeId);
    const data = encryptData(key, header, plaintext);
    expect(decryptData(key, { ...header, seq: 1 }, data)).toBeUndefined();
    expect(decryptData(key, { ...header, kind: 'answer' }, data)).toBeUndefined();
    expect(decryptData(Buffer.alloc(32), header, data)).toBeUndefined();
    const flipped = data.slice(0, 20) + (data[20] === 'A' ? 'B' : 'A') + data.slice(21);
    expect(decryptData(key, header, flipped)).toBeUndefined();
    expect(decryptData(key, header, 'e1.')).toBeUndefined();
  });
});

describe('envelopes with encryption', () => {
  const offer = { type: 'offer', sdp: 'v=0\r\nc=IN IP4 192.0.2.7\r\n' } as const;

  it('go encrypted once the recipient is known to decrypt, and open as sealed', () => {
    const [mine, theirs] = [new Envelopes(alice), new Envelopes(bob)];
    expect(mine.seal(bob.nodeId, newSessionId(), offer).data).toMatch(/^\{/);
    // A hello teaches its recipient the sender's key and that it decrypts.
    expect(theirs.open(mine.hello(bob.nodeId, true))).toMatchObject({ ok: true, signal: { kind: 'hello', data: { type: 'hello', reply: true }, sealed: false } });
    expect(mine.open(theirs.hello(alice.nodeId, false)).ok).toBe(true);
    expect(mine.encryptsTo(bob.nodeId)).toBe(true);
    const sealed = mine.seal(bob.nodeId, newSessionId(), offer);
    expect(sealed.data).toMatch(/^e1\./);
    expect(sealed.data).not.toContain('192.0.2.7');
    expect(theirs.open(sealed)).toMatchObject({ ok: true, signal: { data: offer, sealed: true } });
  });

  it('are answered encrypted: an encrypted envelope shows its sender decrypts', () => {
    const [mine, theirs] = [new Envelopes(alice), new Envelopes(bob)];
    mine.keys.learn(bob.nodeId, bob.publicKey, true);
    expect(theirs.open(mine.seal(bob.nodeId, newSessionId(), offer)).ok).toBe(true);
    expect(theirs.encryptsTo(alice.nodeId)).toBe(true);
  });

  it('are dropped when encrypted under another key (undecryptable) and when plain where encryption is required', () => {
    const mallory = generateIdentity();
    const forger = new Envelopes(mallory);
    // Mallory encrypts to Bob correctly, but claims nothing false: it is Mallory's envelope, and opens.
    forger.keys.learn(bob.nodeId, bob.publicKey, true);
    expect(new Envelopes(bob).open(forger.seal(bob.nodeId, newSessionId(), offer)).ok).toBe(true);
    // Ciphertext made for Bob does not open at Carol even when re-addressed and re-signed there.
    const carol = generateIdentity();
    const toCarol = new Envelopes(alice);
    toCarol.keys.learn(carol.nodeId, carol.publicKey, true);
    const bobsKey = new Envelopes(alice);
    bobsKey.keys.learn(bob.nodeId, bob.publicKey, true);
    const forBob = bobsKey.seal(bob.nodeId, 'sessionAAAA', offer);
    const resealed = toCarol.seal(carol.nodeId, 'sessionAAAA', offer);
    const swapped = { ...resealed, data: forBob.data };
    const signed = { ...swapped, sig: Buffer.from(alice.sign(envelopeMessage(swapped))).toString('base64url') };
    expect(new Envelopes(carol).open(signed)).toEqual({ ok: false, reason: 'undecryptable' });
    const strict = new Envelopes(bob, { requireEncryption: true });
    expect(strict.open(new Envelopes(alice).seal(bob.nodeId, newSessionId(), offer))).toEqual({ ok: false, reason: 'plaintext' });
  });

  it('of a node from before encryption (e2e off): never encrypted, hellos dropped as malformed', () => {
    const legacy = new Envelopes(bob, { e2e: false });
    expect(legacy.open(new Envelopes(alice).hello(bob.nodeId, true))).toEqual({ ok: false, reason: 'malformed' });
    const old = new Envelopes(alice, { e2e: false });
    old.keys.learn(bob.nodeId, bob.publicKey, true);
    expect(old.seal(bob.nodeId, newSessionId(), offer).data).toMatch(/^\{/);
  });
});

