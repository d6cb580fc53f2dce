/**
 * wire/crypto.ts (Node's OpenSSL) against its browser twin (@noble): the same bytes for the same
 * inputs, and the same verdicts on signatures, including the strict RFC 8032 checks that a lenient
 * (ZIP 215) verifier would pass.
 */
import { generateKeyPairSync } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as browser from '../src/wire/crypto.browser.js';
import * as node from '../src/wire/crypto.js';

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
/** The order of Ed25519's base point, ℓ = 2^252 + 27742317777372353535851937790883648493. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

describe('crypto: Node and browser builds agree', () => {
  it('hash alike: SHA-256 (whole, incremental, of text) and SHA-512', () => {
    fc.assert(
      fc.property(bytes(0, 3000), fc.string(), fc.integer({ min: 0, max: 3000 }), (data, text, cut) => {
        expect(hex(browser.sha256(data))).toBe(hex(node.sha256(data)));
        expect(hex(browser.sha256(text))).toBe(hex(node.sha256(text)));
        expect(hex(browser.sha512(data))).toBe(hex(node.sha512(data)));
        const [a, b] = [node.sha256Stream(), browser.sha256Stream()];
        for (const hash of [a, b]) {
          hash.update(data.subarray(0, cut));
          hash.update(data.subarray(cut));
        }
        expect(hex(b.digest())).toBe(hex(a.digest()));
      }),
    );
  });

  it('derive the same Ed25519 keys and signatures, and verify each other’s', () => {
    fc.assert(
      fc.property(bytes(32, 32), bytes(0, 500), (seed, message) => {
        const [n, b] = [node.ed25519Signer(seed), browser.ed25519Signer(seed)];
        expect(hex(b.publicKey)).toBe(hex(n.publicKey));
        const signature = n.sign(message);
        expect(hex(b.sign(message))).toBe(hex(signature));
        const key = b64url(n.publicKey);
        expect(browser.ed25519Verify(key, message, signature)).toBe(true);
        expect(node.ed25519Verify(key, message, signature)).toBe(true);
        const flipped = Uint8Array.from(signature);
        flipped[message.length % 64]! ^= 1;
        expect(browser.ed25519Verify(key, message, flipped)).toBe(false);
        expect(node.ed25519Verify(key, message, flipped)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('refuse a signature whose S is not reduced mod ℓ', () => {
    const signer = node.ed25519Signer(new Uint8Array(32).fill(7));
    const message = new TextEncoder().encode('malleable?');
    const signature = Uint8Array.from(signer.sign(message));
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!);
    s += L; // the same signature, S + ℓ: accepted by ZIP 215 verifiers
    for (let i = 32; i < 64; i++, s >>= 8n) signature[i] = Number(s & 0xffn);
    const key = b64url(signer.publicKey);
    expect(node.ed25519Verify(key, message, signature)).toBe(false);
    expect(browser.ed25519Verify(key, message, signature)).toBe(false);
  });

  it('refuse a signature that holds only under the cofactored (ZIP 215) equation, as OpenSSL does', () => {
    const seed = new Uint8Array(32).fill(9);
    const { scalar, point } = ed25519.utils.getExtendedPublicKey(seed);
    const message = new TextEncoder().encode('torsion');
    const le = (b: Uint8Array) => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
    // R' = rB + T with T of order 8, and S' = r + H(R' ‖ A ‖ M)·a: 8S'B = 8R' + 8kA holds, S'B = R' + kA does not.
    const torsion = ed25519.ExtendedPoint.fromHex('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05');
    const r = 1234567n;
    const R = ed25519.ExtendedPoint.BASE.multiply(r).add(torsion).toRawBytes();
    const A = point.toRawBytes();
    const k = le(node.sha512(Uint8Array.from([...R, ...A, ...message]))) % L;
    let S = (r + k * scalar) % L;
    const signature = new Uint8Array(64);
    signature.set(R);
    for (let i = 32; i < 64; i++, S >>= 8n) signature[i] = Number(S & 0xffn);
    expect(ed25519.verify(signature, message, A, { zip215: true })).toBe(true); // the lenient check passes it
    expect(node.ed25519Verify(b64url(A), message, signature)).toBe(false);
    expect(browser.ed25519Verify(b64url(A), message, signature)).toBe(false);
  });

  it('agree on X25519, HKDF-SHA256 and AES-256-GCM, and open each other’s ciphertexts', () => {
    fc.assert(
      fc.property(bytes(32, 32), bytes(32, 32), bytes(0, 2000), bytes(0, 64), fc.string(), (a, b, plaintext, aad, info) => {
        const publicOf = (scalar: Uint8Array) => browser.x25519(scalar, Uint8Array.of(9, ...new Uint8Array(31)));
        expect(hex(node.x25519(a, publicOf(b)))).toBe(hex(browser.x25519(a, publicOf(b))));
        expect(hex(browser.hkdfSha256(a, info, 32))).toBe(hex(node.hkdfSha256(a, info, 32)));
        const nonce = b.subarray(0, 12);
        const sealed = node.aesGcmSeal(a, nonce, aad, plaintext);
        expect(hex(browser.aesGcmSeal(a, nonce, aad, plaintext))).toBe(hex(sealed));
        expect(hex(browser.aesGcmOpen(a, nonce, aad, sealed)!)).toBe(hex(plaintext));
        const tampered = Uint8Array.from(sealed);
        tampered[0]! ^= 1;
        expect(browser.aesGcmOpen(a, nonce, aad, tampered)).toBeUndefined();
        expect(node.aesGcmOpen(a, nonce, aad, tampered)).toBeUndefined();
      }),
      { numRuns: 50 },
    );
  });

  it('read the seed of an OpenSSL PEM alike, and refuse other keys', () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(hex(browser.ed25519SeedFromPem(pem))).toBe(hex(node.ed25519SeedFromPem(pem)));
    const x25519Pem = generateKeyPairSync('x25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    for (const bad of [x25519Pem, 'not a key', '']) {
      expect(() => node.ed25519SeedFromPem(bad)).toThrow();
      expect(() => browser.ed25519SeedFromPem(bad)).toThrow();
    }
  });

  it('give as many random bytes as asked, past getRandomValues’ 64 KiB limit', () => {
    expect(browser.randomBytes(200_000)).toHaveLength(200_000);
    expect(new Set([hex(browser.randomBytes(16)), hex(browser.randomBytes(16))]).size).toBe(2);
    expect(node.randomBytes(5)).toHaveLength(5);
  });
});
