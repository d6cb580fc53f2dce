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
    unusedBitsZero(value)
  );
}

/** The value of one base64url character (of the alphabet). */
function sextet(code: number): number {
  if (code >= 97) return code - 71; // a–z: 26–51
  if (code >= 65) return code - 65; // A–Z: 0–25
  if (code >= 48) return code + 4; // 0–9: 52–61
  return code === 45 ? 62 : 63; // '-', '_'
}

/**
 * What re-encoding would check, without decoding: a last group of 2 characters carries 4 unused bits,
 * of 3 characters 2, and a single character cannot end an encoding at all.
 */
function unusedBitsZero(value: string): boolean {
  const rest = value.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  return (sextet(value.charCodeAt(value.length - 1)) & (rest === 2 ? 0x0f : 0x03)) === 0;
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
