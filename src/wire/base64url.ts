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
    Buffer.from(value, 'base64url').toString('base64url') === value
  );
}
