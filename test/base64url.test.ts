import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64Url, isCanonicalBase64Url, toBase64Url } from '../src/wire/base64url.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('isCanonicalBase64Url', () => {
  it('takes exactly the texts an encoder writes: those that survive decoding and encoding again', () => {
    const text = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 90 }).map((chars) => chars.join(''));
    fc.assert(
      fc.property(text, (value) => {
        expect(isCanonicalBase64Url(value, 0, 90)).toBe(toBase64Url(fromBase64Url(value)) === value);
      }),
      { numRuns: 20_000 },
    );
  });

  it('takes every encoding of random bytes, and no spelling with a stray trailing bit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const text = toBase64Url(bytes);
        expect(isCanonicalBase64Url(text, 0, 90)).toBe(true);
        if (text.length % 4 === 0) return;
        const last = ALPHABET.indexOf(text.at(-1)!);
        const stray = `${text.slice(0, -1)}${ALPHABET[last ^ 1]}`;
        expect(isCanonicalBase64Url(stray, 0, 90)).toBe(false);
      }),
    );
  });
});
