/**
 * The token bucket behind every rate budget of the protocol: the server enforces one per connection
 * and announces its settings in the challenge; the client paces itself with the same arithmetic.
 */
/** Settings of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added back per second (the sustained rate). */
  perSecond: number;
  /** Most tokens the bucket holds (the largest burst); the bucket starts full. */
  burst: number;
  /** Clock in milliseconds; injectable so tests need no real waiting. */
  now?: () => number;
}

/**
 * A token bucket: allows bursts of up to `burst` operations, then `perSecond` on average.
 * Refills lazily on {@link TokenBucket.take}, so an idle bucket costs no timers.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ perSecond: 100, burst: 200 });
 * if (!bucket.take()) reject('slow down');
 * ```
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens: number;
  #refilledAt: number;

  /** @throws RangeError when `perSecond` or `burst` is not a positive finite number. */
  constructor(options: TokenBucketOptions) {
    assertPositive('perSecond', options.perSecond);
    assertPositive('burst', options.burst);
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#now = options.now ?? Date.now;
    this.#tokens = options.burst;
    this.#refilledAt = this.#now();
  }

  /**
   * Takes `n` tokens if the bucket holds that many.
   * @returns true when taken; false (and nothing taken) when there are too few.
   * @throws RangeError when `n` is negative or not finite.
   */
  take(n = 1): boolean {
    if (!Number.isFinite(n) || n < 0) throw new RangeError(`token count must be a non-negative number, got ${n}`);
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Whether the bucket holds its whole burst again, i.e. it no longer remembers anything taken from it. */
  isFull(): boolean {
    this.#refill();
    return this.#tokens >= this.#burst;
  }

  #refill(): void {
    const now = this.#now();
    // A clock that steps backwards must not drain the bucket, so negative gaps count as zero.
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#refilledAt = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
  }
}

function assertPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive finite number, got ${value}`);
  }
}
