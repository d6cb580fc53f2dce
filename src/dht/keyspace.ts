/**
 * The DHT's keyspace: 256-bit keys (node ids, topic keys, record keys) under the XOR metric. Node ids
 * are already SHA-256 of Ed25519 keys, so ids and keys share one space and a node cannot choose
 * where it lands without grinding keys.
 *
 * @module
 */

/** Bytes in a key. */
export const KEY_BYTES = 32;
/** Bits in a key, and so the number of k-buckets a routing table can have. */
export const KEY_BITS = KEY_BYTES * 8;

/** The 32 bytes of a 64-hex-digit key (node id, topic key or record key). */
export function keyBytes(hex: string): Uint8Array {
  return Buffer.from(hex, 'hex');
}

/** Keys decoded per generation of {@link keyOf}'s cache; two generations are kept. */
const KEY_CACHE_SIZE = 8192;
let recentKeys = new Map<string, Uint8Array>();
let olderKeys = new Map<string, Uint8Array>();

/**
 * {@link keyBytes} through a bounded cache, for the engine's hot paths: every hop of every request
 * compares the same few thousand ids and targets, and decoding hex allocates each time. The bytes
 * are shared, so callers must not write to them. Two generations (the older one dropped when the
 * newer fills) keep what is in use at O(1) cost without an LRU list.
 */
export function keyOf(hex: string): Uint8Array {
  let key = recentKeys.get(hex);
  if (key !== undefined) return key;
  key = olderKeys.get(hex);
  if (key === undefined) {
    // A plain Uint8Array of its own: a pooled Buffer slice would pin its pool, and one array type
    // keeps the comparisons monomorphic.
    key = Uint8Array.from(keyBytes(hex));
  }
  if (recentKeys.size >= KEY_CACHE_SIZE) {
    olderKeys = recentKeys;
    recentKeys = new Map();
  }
  recentKeys.set(hex, key);
  return key;
}

/** The 64 lower-case hex digits of a 32-byte key. */
export function keyHex(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/**
 * How many leading bits `a` and `b` share (256 when equal). A contact whose id shares `i` bits with
 * ours belongs in bucket `i`: the deeper the bucket, the smaller the part of the keyspace it covers.
 *
 * @example
 * ```ts
 * commonPrefixLength(keyBytes('80' + '00'.repeat(31)), keyBytes('00'.repeat(32))); // 0
 * ```
 */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return KEY_BITS;
}

/**
 * Orders `a` and `b` by XOR distance to `target`: negative when `a` is closer, positive when `b` is,
 * 0 when they are the same key. Allocation-free, because routing compares keys on every hop.
 */
export function compareDistance(a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < KEY_BYTES; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * A key that shares exactly `bucket` leading bits with `self` (its bit `bucket` flipped, the rest
 * from `random`): looking it up finds the nodes that belong in that bucket.
 */
export function keyInBucket(self: Uint8Array, bucket: number, random: Uint8Array): Uint8Array {
  if (!Number.isInteger(bucket) || bucket < 0 || bucket >= KEY_BITS) throw new RangeError(`bucket must be 0..${KEY_BITS - 1}, got ${bucket}`);
  const key = Uint8Array.from(random.subarray(0, KEY_BYTES));
  const byte = bucket >> 3;
  const bit = 0x80 >> (bucket & 7);
  for (let i = 0; i < byte; i++) key[i] = self[i]!;
  // Above the flipped bit the key is self's; below it, random.
  const high = ~((bit << 1) - 1) & 0xff;
  key[byte] = (self[byte]! & high) | (~self[byte]! & bit) | (key[byte]! & (bit - 1));
  return key;
}
