import type { RateLimit } from '../wire/protocol.js';
import { TokenBucket, type TokenBucketOptions } from '../wire/tokenBucket.js';

/** Settings of a {@link Pacer}: its token bucket, and how many tasks may await their `done` at once. */
export interface PacerOptions extends TokenBucketOptions {
  /** Tasks started but not yet done (unacknowledged requests); unlimited by default. */
  maxInFlight?: number;
}

/**
 * Shares of a server's announced budget a client uses: 80% of its rate, since its bucket and ours do
 * not refill in lockstep, and half its burst plus 40% of it in flight (see {@link Pacer}).
 */
const RATE_SHARE = 0.8;
const BURST_SHARE = 0.5;
const IN_FLIGHT_SHARE = 0.4;

/** The pace that keeps a client within the budget `limit` a server announced. */
export function paceWithin(limit: RateLimit): PacerOptions & { maxInFlight: number } {
  return {
    perSecond: limit.perSecond * RATE_SHARE,
    burst: Math.max(1, Math.floor(limit.burst * BURST_SHARE)),
    maxInFlight: Math.max(1, Math.floor(limit.burst * IN_FLIGHT_SHARE)),
  };
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

  /** Tasks that may await their `done` at once. */
  get maxInFlight(): number {
    return this.#maxInFlight;
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
