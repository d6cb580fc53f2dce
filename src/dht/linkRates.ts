/**
 * A token bucket per link, for the DHT's per-link message budget.
 *
 * @module
 */
import { TokenBucket, type TokenBucketOptions } from '../wire/tokenBucket.js';

/**
 * TokenBucket's arithmetic over a map of plain records: an object and a clock closure per link
 * cost more than the check itself, and every DHT message passes here.
 *
 * @example
 * ```ts
 * const rates = new LinkRates({ perSecond: 100, burst: 300 });
 * if (!rates.take(peerId, Date.now())) drop(message);
 * rates.delete(peerId); // the link closed
 * ```
 */
export class LinkRates {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #perMs: number;
  readonly #burst: number;

  /** @throws RangeError when `perSecond` or `burst` is not a positive finite number, as {@link TokenBucket} does. */
  constructor(rate: Pick<TokenBucketOptions, 'perSecond' | 'burst'>) {
    new TokenBucket(rate);
    this.#perMs = rate.perSecond / 1000;
    this.#burst = rate.burst;
  }

  /** Takes a token from `peerId`'s bucket at time `now` (ms); false when it has none. */
  take(peerId: string, now: number): boolean {
    let bucket = this.#buckets.get(peerId);
    if (!bucket) {
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(peerId, bucket);
    }
    // A clock that steps backwards must not drain the bucket, so negative gaps count as zero.
    bucket.tokens = Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  delete(peerId: string): void {
    this.#buckets.delete(peerId);
  }
}
