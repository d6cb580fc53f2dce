/** The one base64url rule of every wire format here (docs/protocol.md §2). */

const ALPHABET = /^[A-Za-z0-9_-]*$/;

/**
 * Unpadded base64url that is the exact encoding of its bytes, `minChars` to `maxChars` long. Node's
 * decoder ignores stray trailing bits, so `…Q` and `…R` can decode to one key: two spellings of one
 * key or signature must not pass as two values (a server registering the one under the other's id,
 * a DHT storing one record twice), so only the canonical spelling (unused bits zero) is taken.
 *
 * @example
 * ```ts
 * isCanonicalBase64Url(identity.publicKey, 43, 43); // true
 * ```
 */
export function isCanonicalBase64Url(value: unknown, minChars: number, maxChars: number): value is string {
  return (
    typeof value === 'string' &&
    value.length >= minChars &&
    value.length <= maxChars &&
    ALPHABET.test(value) &&
    toBase64Url(fromBase64Url(value)) === value
  );
}

/** Node has base64url natively; the browser build's Buffer (the `buffer` package) has only base64. */
const NATIVE = Buffer.isEncoding('base64url');

/** Unpadded base64url of `bytes`. */
export function toBase64Url(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return NATIVE ? buffer.toString('base64url') : buffer.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The bytes of base64url (or base64) text; like Node's decoder, it skips characters outside the alphabet. */
export function fromBase64Url(text: string): Buffer {
  return NATIVE ? Buffer.from(text, 'base64url') : Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}
