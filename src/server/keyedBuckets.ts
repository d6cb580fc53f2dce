import { TokenBucket, type TokenBucketOptions } from '../wire/tokenBucket.js';

/** Settings of {@link KeyedBuckets}: every key's bucket, and how many unused buckets to remember. */
export interface KeyedBucketsOptions extends TokenBucketOptions {
  /** Unused buckets kept until they refill; beyond this many, the least recently released are forgotten early. */
  maxIdle: number;
}

/**
 * One {@link TokenBucket} per key (a remote address, a node id) that outlives the connections using it,
 * so a client cannot refill its budget by reconnecting. A bucket is kept while it has holders; after
 * the last release only until it is full again (then it remembers nothing) or until `maxIdle` more
 * recently released buckets push it out, which bounds what an attacker can make the server remember.
 *
 * @example
 * ```ts
 * const perAddress = new KeyedBuckets({ perSecond: 16, burst: 32, maxIdle: 10_000 });
 * if (!perAddress.take(ip)) return refuse();
 * perAddress.hold(ip);
 * socket.once('close', () => perAddress.release(ip));
 * ```
 */
export class KeyedBuckets {
  readonly #options: TokenBucketOptions;
  readonly #maxIdle: number;
  readonly #held = new Map<string, { readonly bucket: TokenBucket; holders: number }>();
  /** Buckets nobody holds, least recently released first (Map iteration follows insertion). */
  readonly #idle = new Map<string, TokenBucket>();

  /** @throws RangeError when a bucket setting is invalid or `maxIdle` is not a positive integer. */
  constructor({ maxIdle, ...options }: KeyedBucketsOptions) {
    new TokenBucket(options); // validates the bucket settings
    if (!Number.isSafeInteger(maxIdle) || maxIdle <= 0) throw new RangeError(`maxIdle must be a positive integer, got ${maxIdle}`);
    this.#options = options;
    this.#maxIdle = maxIdle;
  }

  /** Takes `n` tokens from `key`'s bucket, as {@link TokenBucket.take} does. */
  take(key: string, n = 1): boolean {
    const held = this.#held.get(key);
    if (held) return held.bucket.take(n);
    const bucket = this.#idle.get(key) ?? new TokenBucket(this.#options);
    const taken = bucket.take(n);
    this.#park(key, bucket);
    return taken;
  }

  /** How many holders `key`'s bucket has (e.g. open connections from an address). */
  holders(key: string): number {
    return this.#held.get(key)?.holders ?? 0;
  }

  /** Keeps `key`'s bucket for one more holder; pair every call with one {@link release}. */
  hold(key: string): void {
    const held = this.#held.get(key);
    if (held) {
      held.holders++;
      return;
    }
    const bucket = this.#idle.get(key) ?? new TokenBucket(this.#options);
    this.#idle.delete(key);
    this.#held.set(key, { bucket, holders: 1 });
  }

  /** Drops one holder of `key`'s bucket; after the last, the bucket is kept only while it refills. */
  release(key: string): void {
    const held = this.#held.get(key);
    if (!held || --held.holders > 0) return;
    this.#held.delete(key);
    this.#park(key, held.bucket);
  }

  /** Keys remembered, held or idle. */
  get size(): number {
    return this.#held.size + this.#idle.size;
  }

  #park(key: string, bucket: TokenBucket): void {
    this.#idle.delete(key);
    if (!bucket.isFull()) this.#idle.set(key, bucket);
    // From the oldest: a full bucket is worth nothing, and past the cap forgetting a drained one only refills it early.
    for (const [oldKey, old] of this.#idle) {
      if (oldKey === key || (this.#idle.size <= this.#maxIdle && !old.isFull())) break;
      this.#idle.delete(oldKey);
    }
  }
}
