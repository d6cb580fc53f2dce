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
    assertPositive('perSecond', options.perSecond);
    assertPositive('burst', options.burst);
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

function assertPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive finite number, got ${value}`);
  }
}

/** Settings of a {@link Pacer}: its token bucket, and how many tasks may await their `done` at once. */
export interface PacerOptions extends TokenBucketOptions {
  /** Tasks started but not yet done (unacknowledged requests); unlimited by default. */
  maxInFlight?: number;
}

/**
 * Runs tasks in order, no faster than a {@link TokenBucket} allows and with at most `maxInFlight`
 * unfinished: the client side of a server's rate limit, so a burst of signals queues briefly instead
 * of being refused.
 *
 * Pacing alone is not enough when requests can be delayed on the way (a busy event loop, a full
 * socket): delayed requests arrive bunched. Bounding those in flight bounds the bunching, so with
 * `burst + maxInFlight` at most the server's burst and `perSecond` at most its rate, the server's
 * bucket never runs dry however the requests are delayed.
 *
 * @example
 * ```ts
 * const pacer = new Pacer({ perSecond: 80, burst: 100, maxInFlight: 80 });
 * pacer.run((done) => socket.emit('signal', request, () => done()));
 * ```
 */
export class Pacer {
  #bucket: TokenBucket;
  #intervalMs: number;
  #maxInFlight: number;
  #inFlight = 0;
  #queue: ((done: () => void) => void)[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: PacerOptions) {
    this.#bucket = new TokenBucket(options);
    this.#intervalMs = Math.ceil(1000 / options.perSecond);
    this.#maxInFlight = options.maxInFlight ?? Infinity;
  }

  /** Adopts a new rate (e.g. the one a server announced), keeping the queue and what is in flight. */
  retune(options: PacerOptions): void {
    this.#bucket = new TokenBucket(options);
    this.#intervalMs = Math.ceil(1000 / options.perSecond);
    this.#maxInFlight = options.maxInFlight ?? Infinity;
    this.#pump();
  }

  /** Queues `task`; it calls `done` once its request is answered (or has failed), freeing its slot. */
  run(task: (done: () => void) => void): void {
    this.#queue.push(task);
    this.#pump();
  }

  /** Drops queued tasks and the timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
  }

  #pump(): void {
    while (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight && this.#bucket.take()) {
      this.#inFlight++;
      let finished = false;
      this.#queue.shift()!(() => {
        if (finished) return;
        finished = true;
        this.#inFlight--;
        this.#pump();
      });
    }
    // Waiting on the bucket needs a timer; waiting on a slot is woken by `done`.
    if (this.#queue.length > 0 && this.#inFlight < this.#maxInFlight && !this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, this.#intervalMs);
    }
  }
}
